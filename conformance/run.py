"""``make conformance``: LangGraph's own unit tests, ported to ``streamtap.graph``.

1. Download the langgraph and langgraph-prebuilt sdists pinned in uv.lock (their hashes checked
   against the lock) into .tools/conformance/, reused when present; each sdist ships its tests/.
2. Extract each suite's tests/ to a temporary directory (LangGraph's at ``tests/``, prebuilt's
   at ``prebuilt/tests/``, their ids prefixed ``prebuilt/``), rewrite the public imports to
   streamtap's the way a user porting code would (conformance/rewrite.py), and replace
   tests/conftest.py with conformance/support/conftest.py (streamtap's savers; Postgres only
   with STREAMTAP_PG_DSN, which --postgres sets to a temporary cluster started for the run by
   tests/_postgres.py).
3. Run the in-scope files with pytest, one subprocess per file (a per-test timeout inside, a
   per-file timeout outside), and compare with conformance/expected_failures.toml.

Usage: python conformance/run.py [--update] [--postgres] [--jobs N] [--timeout S] [-k FILE_GLOB ...]
(a glob matches a file's id: ``test_pregel.py``, ``prebuilt/test_tool_node.py``.)
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance import expectations as ex
from conformance import rewrite

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "conformance"
EXPECTED = HERE / "expected_failures.toml"
CACHE = ROOT / ".tools" / "conformance"


# --- the sdist --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suite:
    """One package's test suite: where its tests land in the work dir and how they are ported."""

    package: str  # its name in uv.lock
    subdir: str  # "" (the work dir itself) or a folder of it; also the prefix of its test ids
    rules: rewrite.Rules

    @property
    def prefix(self) -> str:
        return f"{self.subdir}/" if self.subdir else ""


SUITES: tuple[Suite, ...] = (
    Suite("langgraph", "", rewrite.LANGGRAPH),
    Suite("langgraph-prebuilt", "prebuilt", rewrite.PREBUILT),
)


def locked(lock: Path, package: str = "langgraph") -> tuple[str, str | None]:
    """The version of ``package`` in uv.lock and its sdist's sha256 (None if not recorded)."""
    version, sha256, _ = locked_sdist(lock, package)
    return version, sha256


def locked_sdist(lock: Path, package: str) -> tuple[str, str | None, str]:
    """``package``'s version in uv.lock, its sdist's sha256 and file name (from its URL)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    for pkg in data.get("package", []):
        if pkg.get("name") == package:
            sdist = pkg.get("sdist", {})
            digest = sdist.get("hash", "").removeprefix("sha256:") or None
            default = f"{package.replace('-', '_')}-{pkg['version']}.tar.gz"
            filename = str(sdist.get("url", "")).rsplit("/", 1)[-1] or default
            return str(pkg["version"]), digest, filename
    raise SystemExit(f"{package} is not in {lock}")


def _pip() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for candidate in (ROOT / ".tools" / "bin" / "pip", shutil.which("pip3"), shutil.which("pip")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    raise SystemExit("pip is needed to download the langgraph sdist (make creates .tools/bin/pip)")


def ensure_sdist(
    version: str,
    sha256: str | None,
    cache: Path = CACHE,
    package: str = "langgraph",
    filename: str | None = None,
) -> Path:
    sdist = cache / (filename or f"{package}-{version}.tar.gz")
    if not sdist.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"downloading the {package} {version} sdist into {cache} ...", flush=True)
        subprocess.run(
            [
                *_pip(),
                *("download", "--quiet", "--no-deps", "--no-binary", ":all:"),
                *(f"{package}=={version}", "--dest", str(cache)),
            ],
            check=True,
        )
    if sha256 is not None:
        actual = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if actual != sha256:
            sdist.unlink()
            raise SystemExit(f"{sdist.name}: sha256 {actual} is not uv.lock's {sha256}")
    return sdist


def extract_tests(sdist: Path, dest: Path) -> Path:
    """The sdist's tests/ directory, as ``dest/tests``."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        for m in members:
            m.name = m.name.split("/", 1)[1]
        tar.extractall(dest, members=members, filter="data")
    return dest / "tests"


# --- porting -------------------------------------------------------------------------------
def has_name(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


@dataclass
class Scope:
    files: dict[str, int] = field(default_factory=dict)  # in-scope file -> in-scope tests
    excluded_files: dict[str, str] = field(default_factory=dict)  # file -> reason
    excluded_tests: list[rewrite.Exclusion] = field(default_factory=list)  # "file::test"


def port(tests: Path, patterns: list[str], suite: Suite = SUITES[0]) -> Scope:
    """Rewrite the imports of every in-scope file, drop the rest, install the support files.

    Scope keys are test ids' file parts: the file name, prefixed with the suite's folder.
    """
    scope = Scope()
    for path in sorted(tests.glob("test_*.py")):
        name = suite.prefix + path.name
        reason = rewrite.file_rule(path.name)
        selected = not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)
        source = path.read_text(encoding="utf-8")
        excluded = rewrite.excluded_tests(source) if reason is None else []
        total = rewrite.count_tests(source)
        if reason is None and total == len(excluded):
            reason = "every test uses LangGraph internals"
        if reason is not None or not selected:
            if reason is not None:
                scope.excluded_files[name] = reason
            path.unlink()
            continue
        scope.files[name] = total - len(excluded)
        scope.excluded_tests += [rewrite.Exclusion(f"{name}::{e.test}", e.reason) for e in excluded]
        path.write_text(rewrite.rewrite_source(source, has_name, suite.rules), encoding="utf-8")
    shutil.copy(HERE / "support" / "conftest.py", tests / "conftest.py")
    shutil.copy(HERE / "support" / "_conformance_support.py", tests.parent)
    if importlib.util.find_spec("pytest_mock") is None:
        (tests.parent / "pytest_mock.py").write_text(
            "from _conformance_support import Mocker as MockerFixture  # noqa: F401\n",
            encoding="utf-8",
        )
    # the conftest deselects by "<file name>::<test>", within this suite's folder
    local = [e.test.removeprefix(suite.prefix) for e in scope.excluded_tests]
    (tests.parent / "excluded.json").write_text(json.dumps(local), encoding="utf-8")
    (tests.parent / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings =\n    ignore::DeprecationWarning\n",
        encoding="utf-8",
    )
    return scope


# --- running -------------------------------------------------------------------------------
def run_file(work: Path, name: str, per_test: float, per_file: float) -> list[dict[str, str]]:
    """Run one test file; ``name`` is its scope key (``prebuilt/test_x.py`` runs
    ``work/prebuilt/tests/test_x.py`` from ``work/prebuilt``), the records' ids start with it."""
    subdir, _, file = name.rpartition("/")
    root = work / subdir if subdir else work
    prefix = f"{subdir}/" if subdir else ""
    out = root / f"{file}.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "CONFORMANCE_RESULTS": str(out),
        "CONFORMANCE_TIMEOUT": str(per_test),
        "CONFORMANCE_EXCLUDED": str(root / "excluded.json"),
        "NO_DOCKER": "true",
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pytest.ini"]
    cmd += ["--rootdir", str(root), "-o", "console_output_style=classic", f"tests/{file}"]
    try:
        subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, timeout=per_file)
    except subprocess.TimeoutExpired:
        records = _prefixed(ex.read_records(out), prefix)
        records.append(
            {
                "id": f"{name}::<file timeout>",
                "when": "file",
                "outcome": "failed",
                "message": f"ConformanceTimeout: {name} ran over {per_file:g}s and was killed",
            }
        )
        return records
    return _prefixed(ex.read_records(out), prefix)


def _prefixed(records: list[dict[str, str]], prefix: str) -> list[dict[str, str]]:
    """Records with ids "<prefix><file>::<test>" (pytest's say "tests/<file>::<test>")."""
    if not prefix:
        return records
    return [{**r, "id": prefix + r["id"].removeprefix("tests/")} for r in records]


PG_DSN_ENV = "STREAMTAP_PG_DSN"


def start_postgres(stack: contextlib.ExitStack) -> str:
    """``--postgres``: a cluster for the whole run, its DSN in the environment pytest inherits.

    A set STREAMTAP_PG_DSN wins (tests/_postgres.py then starts nothing). A machine without
    PostgreSQL still gets its conformance run, minus the Postgres parameters, with the reason.
    """
    from tests._postgres import PostgresUnavailable, temporary_postgres

    if os.environ.get(PG_DSN_ENV):
        print("Postgres parameters enabled (STREAMTAP_PG_DSN)", flush=True)
        return "enabled (STREAMTAP_PG_DSN)"
    try:
        dsn = stack.enter_context(temporary_postgres())
    except PostgresUnavailable as e:
        print(f"Postgres parameters skipped: {e.reason}", flush=True)
        return "skipped (see above)"
    os.environ[PG_DSN_ENV] = dsn
    stack.callback(os.environ.pop, PG_DSN_ENV, None)
    print("Postgres parameters enabled (temporary cluster)", flush=True)
    return "enabled (temporary cluster)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--update", action="store_true", help="rewrite expected_failures.toml")
    ap.add_argument("--jobs", type=int, default=2, help="test files run at once (default 2)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per test (default 60)")
    ap.add_argument("--file-timeout", type=float, default=900, help="seconds per file")
    ap.add_argument("-k", dest="patterns", action="append", default=[], help="file glob")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="run the Postgres parameters on a temporary PostgreSQL cluster\n"
        "(tests/_postgres.py; a set STREAMTAP_PG_DSN is used instead)",
    )
    args = ap.parse_args(argv)

    started = time.monotonic()
    sdists: list[tuple[Suite, str, Path]] = []
    for suite in SUITES:
        version, sha256, filename = locked_sdist(ROOT / "uv.lock", suite.package)
        sdists.append(
            (suite, version, ensure_sdist(version, sha256, CACHE, suite.package, filename))
        )
    version, prebuilt = sdists[0][1], sdists[1][1]
    work = Path(tempfile.mkdtemp(prefix="streamtap-conformance-"))
    try:
        with contextlib.ExitStack() as stack:  # the temporary Postgres cluster, if any
            pg = start_postgres(stack) if args.postgres else None
            scope = Scope()
            for suite, suite_version, sdist in sdists:
                root = work / suite.subdir if suite.subdir else work
                part = port(extract_tests(sdist, root), args.patterns, suite)
                scope.files.update(part.files)
                scope.excluded_files.update(part.excluded_files)
                scope.excluded_tests += part.excluded_tests
                print(
                    f"{suite.package} {suite_version}: {len(part.files)} test files in scope "
                    f"({sum(part.files.values())} test functions before parametrization), "
                    f"{len(part.excluded_files)} files and {len(part.excluded_tests)} test "
                    f"functions excluded as internals",
                    flush=True,
                )
            if pg is None:
                pg = "enabled (STREAMTAP_PG_DSN)" if os.environ.get(PG_DSN_ENV) else "skipped"
            print(f"Postgres parameters {pg}", flush=True)
            order = sorted(scope.files, key=lambda f: -(work / _path(f)).stat().st_size)
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                batches = pool.map(
                    lambda f: run_file(work, f, args.timeout, args.file_timeout), order
                )
                results = ex.aggregate(r for batch in batches for r in batch)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    exp = ex.load(EXPECTED)
    partial = set(scope.files) if args.patterns else None
    if args.update:
        new = ex.updated(exp, results, version)
        new.prebuilt = prebuilt
        if partial is not None:  # keep the other files' entries
            new.failures = {
                **{t: r for t, r in exp.failures.items() if t.split("::")[0] not in partial},
                **new.failures,
            }
        if partial is None:
            new.summary = ex.summarize(results, pg.startswith("enabled"))
        else:
            new.summary = exp.summary
        EXPECTED.write_text(ex.render(new), encoding="utf-8")
        exp = new
    cmp = ex.compare(exp, results, partial, postgres=pg.startswith("enabled"))
    report(cmp, results, exp, version, time.monotonic() - started, prebuilt)
    return 0 if cmp.ok else 1


def _path(name: str) -> Path:
    """A scope key's test file, relative to the work dir."""
    subdir, _, file = name.rpartition("/")
    return Path(subdir, "tests", file) if subdir else Path("tests", file)


def report(
    cmp: ex.Comparison,
    results: dict[str, ex.Result],
    exp: ex.Expectations,
    version: str,
    elapsed: float,
    prebuilt: str = "",
) -> None:
    if exp.langgraph and exp.langgraph != version:
        print(f"note: expected_failures.toml was made for langgraph {exp.langgraph}")
    if exp.prebuilt and prebuilt and exp.prebuilt != prebuilt:
        print(f"note: expected_failures.toml was made for langgraph-prebuilt {exp.prebuilt}")
    print(f"\nin scope: {len(results)} tests (parametrized)")
    print(f"passed: {len(cmp.passed)}  skipped: {len(cmp.skipped)}")
    broken = sorted(t for t, r in results.items() if "::" not in t and r.outcome == "failed")
    if broken:
        print(f"files that fail to import (one failure each): {', '.join(broken)}")
    if cmp.timing_failed:
        print(f"timing-dependent, failed this run (accepted): {', '.join(cmp.timing_failed)}")
    print(f"expected failures: {len(cmp.expected_failures)}")
    for reason, n in cmp.counts_by_reason().most_common():
        print(f"  {n:5}  {reason}")
    print(f"unexpected: {len(cmp.unexpected) + len(cmp.newly_passing) + len(cmp.not_run)}")
    for test in cmp.newly_passing:
        print(f"  NOW PASSES (remove it from expected_failures.toml): {test}")
    by_reason = Counter(cmp.unexpected.values())
    for test in cmp.unexpected:
        print(f"  FAILS, not listed: {test}\n      {results[test].message.splitlines()[0][:300]}")
    for reason, n in by_reason.most_common():
        print(f"  {n:5} unlisted  {reason}")
    for test in cmp.not_run:
        print(f"  LISTED BUT NOT RUN: {test}")
    print(f"wall time: {elapsed:.0f}s")
    print("conformance: OK" if cmp.ok else "conformance: FAILED")


if __name__ == "__main__":
    sys.exit(main())

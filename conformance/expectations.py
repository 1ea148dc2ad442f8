"""Outcomes, failure reasons and the expectation file (conformance/expected_failures.toml).

Pure functions, unit-tested in ``tests/test_conformance_harness.py``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Result:
    id: str  # "test_pregel.py::test_name[memory]"
    outcome: str  # passed | failed | skipped
    message: str = ""


def aggregate(records: Iterable[Mapping[str, str]]) -> dict[str, Result]:
    """One result per test from the per-phase records the conformance conftest writes.

    A failure in any phase (collection, setup, call, teardown) fails the test and keeps the
    first failure's message; a skip (or an expected failure LangGraph marked) skips it.
    """
    out: dict[str, Result] = {}
    for rec in records:
        test_id = rec["id"].removeprefix("tests/")
        outcome = "skipped" if rec["outcome"] == "xfailed" else rec["outcome"]
        prev = out.get(test_id)
        if prev is not None and prev.outcome == "failed":
            continue
        if prev is not None and prev.outcome == "skipped" and outcome == "passed":
            continue
        out[test_id] = Result(
            test_id, outcome, rec.get("message", "") if outcome != "passed" else ""
        )
    return out


def read_records(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# --- reasons ---------------------------------------------------------------------------------
_NORMALIZERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "<addr>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def headline(message: str) -> str:
    """The line of a failure message that names the error: the first line, or for a module
    that failed to import (pytest's "ImportError while importing test module ..." text) the
    last ``E   `` line of its traceback."""
    lines = message.strip().splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    if errors and not lines[0].startswith(("AssertionError", "assert")):
        return errors[-1]
    return lines[0] if lines else "(no message)"


def signature(message: str) -> str:
    """An automatic group key: the exception type and the shape of its first message line.

    ``assert`` failures are one group per comparison operator: their operands are the test's
    own data, not a reason.
    """
    first = headline(message)
    if first.startswith(("AssertionError: assert", "assert ")):
        op = re.search(r" (==|!=|is not|is|not in|in) ", first)
        return f"AssertionError: assert ... {op.group(1) if op else ''} ...".replace("  ", " ")
    for pattern, repl in _NORMALIZERS:
        first = pattern.sub(repl, first)
    return first[:160]


def reason_for(test_id: str, message: str, reasons: Mapping[str, list[str]]) -> str:
    """The first hand-named reason with a regex found in ``"<test id>\\n<message>"`` (so ``^``
    anchors at the test id), or the automatic signature, prefixed so it stands out until
    someone names it."""
    text = f"{test_id}\n{message}"
    for reason, patterns in reasons.items():
        if any(re.search(p, text) for p in patterns):
            return reason
    return f"unnamed: {signature(message)}"


# --- the expectation file -------------------------------------------------------------------
@dataclass
class Expectations:
    langgraph: str = ""
    reasons: dict[str, list[str]] = field(default_factory=dict)  # reason -> message regexes
    failures: dict[str, str] = field(default_factory=dict)  # test id -> reason
    # the run that wrote the file (in scope / passed / skipped, Postgres or not): the docs'
    # conformance figures are read from here, never typed by hand
    summary: dict[str, int | bool] = field(default_factory=dict)
    prebuilt: str = ""  # the langgraph-prebuilt version whose tests ran alongside (ids prebuilt/*)
    # tests whose outcome hangs on wall-clock timing (a node must have started within 0.2 s,
    # a part must arrive within 0.1 s): either outcome is accepted, as on a shared 2-core
    # machine neither is evidence -> why; kept by --update, named by hand
    timing: dict[str, str] = field(default_factory=dict)


def load(path: Path) -> Expectations:
    if not path.exists():
        return Expectations()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    failures = {
        test: reason for reason, tests in data.get("failures", {}).items() for test in tests
    }
    return Expectations(
        str(data.get("langgraph", "")),
        dict(data.get("reasons", {})),
        failures,
        dict(data.get("summary", {})),
        str(data.get("langgraph_prebuilt", "")),
        {test: why for why, tests in data.get("timing", {}).items() for test in tests},
    )


def _s(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


HEADER = """\
# LangGraph's own tests (and langgraph-prebuilt's, ids prebuilt/...) that still fail against
# streamtap.graph, grouped by reason.
# Checked by `make conformance`: a listed test that passes, or an unlisted test that fails,
# fails the run. Regenerate after a change with `make conformance ARGS=--update`: each
# failing test goes under the first [reasons] entry with a regex found in "<test id>\\n<error>"
# (so ^ anchors at the test id); name new "unnamed: ..." groups by adding a regex there.
# A test id without "::" is a file that failed to import (all its tests count as one).
"""


def render(exp: Expectations) -> str:
    by_reason: dict[str, list[str]] = {}
    for test, reason in exp.failures.items():
        by_reason.setdefault(reason, []).append(test)
    order = [r for r in exp.reasons if r in by_reason] + sorted(
        r for r in by_reason if r not in exp.reasons
    )
    lines = [HEADER, f"langgraph = {_s(exp.langgraph)}"]
    if exp.prebuilt:
        lines.append(f"langgraph_prebuilt = {_s(exp.prebuilt)}")
    lines.append("")
    if exp.summary:
        lines.append("[summary]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in exp.summary.items()]
        lines.append("")
    lines.append("[reasons]")
    for reason, patterns in exp.reasons.items():
        lines.append(f"{_s(reason)} = [{', '.join(_s(p) for p in patterns)}]")
    if exp.timing:
        lines += ["", "[timing]"]
        by_why: dict[str, list[str]] = {}
        for test, why in exp.timing.items():
            by_why.setdefault(why, []).append(test)
        for why, tests in by_why.items():
            lines.append(f"{_s(why)} = [{', '.join(_s(t) for t in sorted(tests))}]")
    lines += ["", "[failures]"]
    for reason in order:
        tests = sorted(by_reason[reason])
        lines.append(f"# {len(tests)} tests")
        lines.append(f"{_s(reason)} = [")
        lines += [f"    {_s(t)}," for t in tests]
        lines.append("]")
    return "\n".join(lines) + "\n"


@dataclass
class Comparison:
    passed: list[str]
    expected_failures: dict[str, str]  # test id -> reason (listed, still failing)
    newly_passing: list[str]  # listed, now passing: the list must be updated
    unexpected: dict[str, str]  # unlisted failures: test id -> reason
    not_run: list[str]  # listed but neither run nor skipped
    skipped: list[str]
    timing_failed: list[str] = field(default_factory=list)  # [timing] tests that failed this run

    @property
    def ok(self) -> bool:
        return not (self.newly_passing or self.unexpected or self.not_run)

    def counts_by_reason(self) -> Counter[str]:
        return Counter(self.expected_failures.values())


def compare(
    exp: Expectations,
    results: Mapping[str, Result],
    in_files: set[str] | None = None,
    postgres: bool = True,
) -> Comparison:
    """Results against the expectation file. ``in_files`` limits the check to some files (a
    partial run); listed tests of other files are then ignored, and so are listed Postgres
    parameters when the run had no Postgres (they are not even collected then)."""
    listed = {
        t: r for t, r in exp.failures.items() if in_files is None or t.split("::", 1)[0] in in_files
    }
    passed, skipped, newly, expected, unexpected = [], [], [], {}, {}
    timing_failed = []
    for test, res in sorted(results.items()):
        if test in exp.timing:
            (passed if res.outcome == "passed" else timing_failed).append(test)
        elif res.outcome == "passed":
            passed.append(test)
            if test in listed:
                newly.append(test)
        elif res.outcome == "skipped":
            skipped.append(test)
        elif test in listed:
            expected[test] = listed[test]
        else:
            unexpected[test] = reason_for(test, res.message, exp.reasons)
    not_run = sorted(t for t in listed if t not in results and (postgres or "postgres" not in t))
    return Comparison(passed, expected, newly, unexpected, not_run, skipped, timing_failed)


def summarize(results: Mapping[str, Result], postgres: bool) -> dict[str, int | bool]:
    outcomes = Counter(r.outcome for r in results.values())
    return {
        "in_scope": len(results),
        "passed": outcomes["passed"],
        "skipped": outcomes["skipped"],
        "failed": outcomes["failed"],
        "postgres": postgres,
    }


def updated(exp: Expectations, results: Mapping[str, Result], version: str) -> Expectations:
    """A new expectation file: every failing test under its reason, hand-named reasons kept."""
    failures = {
        t: reason_for(t, r.message, exp.reasons)
        for t, r in sorted(results.items())
        if r.outcome == "failed" and t not in exp.timing
    }
    return Expectations(version, dict(exp.reasons), failures, timing=dict(exp.timing))

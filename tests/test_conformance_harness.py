"""The pure parts of the LangGraph conformance harness (conformance/): the import rewriter,
the scope rules and the comparison with the expectation file. No download, no subprocess."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conformance import expectations as ex
from conformance import rewrite
from conformance.support._conformance_support import MissingName

HAS = {
    ("streamtap.graph", "StateGraph"),
    ("streamtap.graph", "START"),
    ("streamtap.graph", "Command"),
    ("streamtap.graph.message", "add_messages"),
}


def resolve(module: str, name: str) -> bool:
    return (module, name) in HAS


def _rewrite(src: str) -> str:
    return rewrite.rewrite_source(textwrap.dedent(src), resolve)


# --- the import rewriter -----------------------------------------------------------------------
def test_public_imports_go_to_streamtap() -> None:
    out = _rewrite("""\
        from langgraph.graph import START, StateGraph
        from langgraph.types import Command as Cmd
    """)
    assert "from streamtap.graph import START; from streamtap.graph import StateGraph" in out
    assert "from streamtap.graph import Command as Cmd" in out
    assert "langgraph" not in out


def test_a_name_found_in_a_later_candidate_module() -> None:
    out = _rewrite("from langgraph.graph.message import add_messages\n")
    assert out == "from streamtap.graph.message import add_messages\n"


def test_a_missing_name_becomes_a_stub_that_fails_on_use() -> None:
    out = _rewrite("from langgraph.func import entrypoint\n")
    # named after the first module a port would import it from
    assert "entrypoint = _m('langgraph.func', 'entrypoint', 'streamtap.graph.func')" in out
    stub = MissingName("langgraph.func", "entrypoint", "streamtap.graph.func")
    assert stub[int] is stub and (stub | None) is stub  # annotations still evaluate
    with pytest.raises(ImportError, match=r"'entrypoint' from 'streamtap\.graph\.func'"):
        stub()
    with pytest.raises(ImportError):
        stub.some_attribute  # noqa: B018


def test_line_numbers_are_kept_and_nested_imports_rewritten() -> None:
    src = """\
        from langgraph.graph import (
            START,
            StateGraph,
        )

        def test_x():
            from langgraph.types import Command
            return Command
    """
    out = _rewrite(src)
    assert len(out.splitlines()) == len(textwrap.dedent(src).splitlines())
    assert out.splitlines()[6] == "    from streamtap.graph import Command"
    compile(out, "x.py", "exec")


def test_internals_infrastructure_and_private_names_stay_langgraph() -> None:
    src = """\
        from langgraph._internal._constants import PULL
        from langgraph.pregel import Pregel
        from langgraph.store.memory import InMemoryStore
        from langgraph.graph.message import _messages_delta_reducer
        from tests.any_str import AnyStr
    """
    out = _rewrite(src)
    assert "streamtap" not in out.replace(
        "from langgraph.graph.message import _messages_delta_reducer as _messages_delta_reducer",
        "",
    )
    assert "from langgraph.pregel import Pregel" in out
    assert "from langgraph.store.memory import InMemoryStore" in out


# --- the scope rules -------------------------------------------------------------------------
def test_file_rules() -> None:
    assert rewrite.file_rule("test_channels.py") == "channel internals"
    assert rewrite.file_rule("test_delta_channel_fork.py") == "DeltaChannel internals"
    assert rewrite.file_rule("test_checkpoint_migration.py") is not None
    assert rewrite.file_rule("test_pregel.py") is None
    assert rewrite.file_rule("test_time_travel.py") is None


def test_module_rules() -> None:
    assert rewrite.module_is_internal("langgraph.pregel._loop") == "private modules"
    assert rewrite.module_is_internal("langgraph._internal._config") == "private modules"
    assert rewrite.module_is_internal("langgraph.channels.binop") == "channel internals"
    assert rewrite.module_is_internal("langgraph.pregel") is not None
    assert rewrite.module_is_internal("langgraph.graph") is None
    assert rewrite.module_is_internal("langgraph.types") is None


def test_tests_using_internals_are_excluded_directly_or_through_helpers() -> None:
    src = textwrap.dedent("""\
        from langgraph._internal._constants import PULL
        from langgraph.channels.last_value import LastValue
        from langgraph.graph import StateGraph
        from langgraph.graph.message import _messages_delta_reducer

        def helper():
            return PULL

        def helper2():
            return helper()

        def test_public():
            StateGraph(dict)

        def test_direct():
            LastValue(int)

        async def test_via_helper():
            helper2()

        def test_private_name():
            _messages_delta_reducer

        class TestGroup:
            def test_public_method(self):
                StateGraph(dict)

            def test_internal_method(self):
                PULL
    """)
    got = {e.test: e.reason for e in rewrite.excluded_tests(src)}
    assert set(got) == {
        "test_direct",
        "test_via_helper",
        "test_private_name",
        "TestGroup::test_internal_method",
    }
    assert "channel internals" in got["test_direct"]
    assert "private modules (langgraph._internal._constants.PULL)" in got["test_via_helper"]
    assert rewrite.count_tests(src) == 6


# --- outcomes and the expectation file --------------------------------------------------------
def _results(**outcomes: str) -> dict[str, ex.Result]:
    return {
        f"t.py::{name}": ex.Result(f"t.py::{name}", o, "" if o == "passed" else "boom")
        for name, o in outcomes.items()
    }


def _listed(*names: str) -> ex.Expectations:
    return ex.Expectations("1.0", {}, {f"t.py::{n}": "some reason" for n in names})


def test_all_as_expected_is_ok() -> None:
    cmp = ex.compare(_listed("b"), _results(a="passed", b="failed"))
    assert cmp.ok and cmp.passed == ["t.py::a"]
    assert cmp.counts_by_reason() == {"some reason": 1}


def test_a_listed_test_that_now_passes_fails_the_run() -> None:
    cmp = ex.compare(_listed("a", "b"), _results(a="passed", b="failed"))
    assert not cmp.ok and cmp.newly_passing == ["t.py::a"]


def test_an_unlisted_failure_fails_the_run() -> None:
    cmp = ex.compare(_listed(), _results(a="failed"))
    assert not cmp.ok and list(cmp.unexpected) == ["t.py::a"]


def test_a_listed_test_that_no_longer_runs_fails_the_run_unless_out_of_the_partial_run() -> None:
    assert ex.compare(_listed("gone"), _results(a="passed")).not_run == ["t.py::gone"]
    assert ex.compare(_listed("gone"), _results(a="passed"), in_files={"u.py"}).ok


def test_listed_postgres_parameters_are_not_missed_when_the_run_had_no_postgres() -> None:
    listed = _listed("gone[postgres]", "b")
    results = _results(b="failed")
    assert ex.compare(listed, results).not_run == ["t.py::gone[postgres]"]
    assert ex.compare(listed, results, postgres=False).ok


def test_the_summary_round_trips_through_the_file(tmp_path: Path) -> None:
    exp = _listed("b")
    exp.summary = ex.summarize(_results(a="passed", b="failed", c="skipped"), postgres=True)
    path = tmp_path / "expected.toml"
    path.write_text(ex.render(exp), encoding="utf-8")
    back = ex.load(path)
    assert back.summary == {"in_scope": 3, "passed": 1, "skipped": 1, "failed": 1, "postgres": True}
    assert back.failures == exp.failures


def test_a_timing_dependent_test_may_pass_or_fail_and_survives_an_update(tmp_path: Path) -> None:
    exp = _listed("b")
    exp.timing = {"t.py::slow": "starts within 0.2 s"}
    failed = ex.compare(exp, _results(slow="failed", b="failed"))
    assert failed.ok and failed.timing_failed == ["t.py::slow"] and not failed.unexpected
    passed = ex.compare(exp, _results(slow="passed", b="failed"))
    assert passed.ok and passed.passed == ["t.py::slow"] and not passed.newly_passing
    new = ex.updated(exp, _results(slow="failed", b="failed"), "1.1")
    assert new.failures == {"t.py::b": "unnamed: boom"} and new.timing == exp.timing
    path = tmp_path / "expected.toml"
    path.write_text(ex.render(new), encoding="utf-8")
    assert ex.load(path).timing == exp.timing
    # without the entry, the same failure fails the run
    exp.timing = {}
    assert not ex.compare(exp, _results(slow="failed", b="failed")).ok


def test_skips_neither_pass_nor_fail() -> None:
    cmp = ex.compare(_listed("a"), _results(a="skipped"))
    assert cmp.ok and cmp.skipped == ["t.py::a"]


def test_aggregate_keeps_the_first_failure_of_any_phase() -> None:
    records = [
        {"id": "tests/t.py::a", "when": "call", "outcome": "passed"},
        {"id": "tests/t.py::a", "when": "teardown", "outcome": "failed", "message": "E: x"},
        {"id": "tests/t.py::b", "when": "setup", "outcome": "skipped", "message": "no"},
        {"id": "tests/t.py::c", "when": "call", "outcome": "xfailed", "message": "known"},
    ]
    got = ex.aggregate(records)
    assert got["t.py::a"] == ex.Result("t.py::a", "failed", "E: x")
    assert got["t.py::b"].outcome == got["t.py::c"].outcome == "skipped"


def test_signature_and_reasons() -> None:
    sig = ex.signature("KeyError: 'thread 1f0a3c1e-0000-4000-8000-000000000001' at 0xdeadbeef")
    assert sig == "KeyError: 'thread <uuid>' at <addr>"
    assert (
        ex.signature("AssertionError: assert [1, 2] == [1]") == "AssertionError: assert ... == ..."
    )
    reasons = {"update_state not implemented": [r"has no attribute '\w*update_state'"]}
    msg = "AttributeError: 'CompiledStateGraph' object has no attribute 'update_state'"
    assert ex.reason_for("t.py::a", msg, reasons) == "update_state not implemented"
    assert ex.reason_for("t.py::a", "ValueError: x 3", reasons) == "unnamed: ValueError: x <n>"
    by_file = {"time travel": [r"^test_time_travel\.py::"]}
    assert ex.reason_for("test_time_travel.py::t[x]", "assert 1 == 2", by_file) == "time travel"


def test_the_expectation_file_round_trips(tmp_path: Path) -> None:
    exp = ex.Expectations(
        "1.2.3",
        {'quote " reason': [r"\bfoo\b"]},
        {"t.py::a[x]": 'quote " reason', "t.py::b": "other"},
    )
    path = tmp_path / "e.toml"
    path.write_text(ex.render(exp), encoding="utf-8")
    assert ex.load(path) == exp


def test_update_lists_every_failure_under_its_reason() -> None:
    exp = ex.Expectations("1.0", {"named": ["boom"]}, {"t.py::gone": "named"})
    new = ex.updated(exp, _results(a="failed", b="passed"), "1.1")
    assert new.failures == {"t.py::a": "named"} and new.langgraph == "1.1"


# --- langgraph-prebuilt's suite -----------------------------------------------------------------
def test_prebuilt_tests_port_langgraph_prebuilt_which_langgraphs_keep() -> None:
    src = """\
        from langgraph.prebuilt import ToolNode, create_react_agent
        from langgraph.prebuilt.tool_node import ToolRuntime, _infer_handled_types
        from langgraph.prebuilt._tool_call_stream import ToolCallStream
        from langgraph.graph import StateGraph
    """
    has = HAS | {
        ("streamtap.graph.prebuilt", "ToolNode"),
        ("streamtap.graph.prebuilt", "ToolRuntime"),
    }
    out = rewrite.rewrite_source(textwrap.dedent(src), lambda m, n: (m, n) in has, rewrite.PREBUILT)
    lines = out.splitlines()
    assert lines[0].startswith("from streamtap.graph.prebuilt import ToolNode; ")
    assert "create_react_agent = _m('langgraph.prebuilt', 'create_react_agent', " in lines[0]
    assert "'streamtap.graph.prebuilt')" in lines[0]
    assert lines[1].startswith("from streamtap.graph.prebuilt import ToolRuntime; ")
    assert "from langgraph.prebuilt.tool_node import _infer_handled_types" in lines[1]
    assert lines[2] == "from langgraph.prebuilt._tool_call_stream import ToolCallStream"
    assert lines[3] == "from streamtap.graph import StateGraph"
    # LangGraph's own tests keep langgraph.prebuilt: it is their infrastructure
    assert _rewrite("from langgraph.prebuilt import ToolNode\n") == (
        "from langgraph.prebuilt import ToolNode\n"
    )
    with pytest.raises(
        ImportError, match=r"'create_react_agent' from 'streamtap\.graph\.prebuilt'"
    ):
        MissingName("langgraph.prebuilt", "create_react_agent", "streamtap.graph.prebuilt")()


def test_the_lock_names_each_sdist(tmp_path: Path) -> None:
    from conformance import run

    lock = tmp_path / "uv.lock"
    lock.write_text(
        '[[package]]\nname = "langgraph-prebuilt"\nversion = "1.1.3"\n'
        'sdist = { url = "https://x/langgraph_prebuilt-1.1.3.tar.gz", hash = "sha256:ab" }\n',
        encoding="utf-8",
    )
    assert run.locked_sdist(lock, "langgraph-prebuilt") == (
        "1.1.3",
        "ab",
        "langgraph_prebuilt-1.1.3.tar.gz",
    )
    assert run.locked(lock, "langgraph-prebuilt") == ("1.1.3", "ab")


def test_prebuilt_ids_are_prefixed_and_files_ported_in_their_folder(tmp_path: Path) -> None:
    from conformance import run

    records = [{"id": "tests/test_tool_node.py::test_a[memory]", "outcome": "passed"}]
    assert (
        run._prefixed(records, "prebuilt/")[0]["id"] == "prebuilt/test_tool_node.py::test_a[memory]"
    )
    assert run._prefixed(records, "") == records
    assert run._path("prebuilt/test_x.py") == Path("prebuilt/tests/test_x.py")
    assert run._path("test_x.py") == Path("tests/test_x.py")

    tests = tmp_path / "prebuilt" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_a.py").write_text(
        "from langgraph.pregel import Pregel\n"
        "from langgraph.prebuilt import ToolNode\n\n"
        "def test_public():\n    ToolNode\n\n"
        "def test_internal():\n    Pregel\n",
        encoding="utf-8",
    )
    (tests / "test_b.py").write_text("def test_b():\n    pass\n", encoding="utf-8")
    scope = run.port(tests, ["prebuilt/test_a.py"], run.SUITES[1])
    assert scope.files == {"prebuilt/test_a.py": 1}
    assert [e.test for e in scope.excluded_tests] == ["prebuilt/test_a.py::test_internal"]
    assert not (tests / "test_b.py").exists()
    assert "from streamtap.graph.prebuilt import ToolNode" in (tests / "test_a.py").read_text()
    # the conftest deselects by file name within the suite's folder
    assert (tmp_path / "prebuilt" / "excluded.json").read_text() == '["test_a.py::test_internal"]'
    assert (tests / "conftest.py").exists()


def test_langgraph_globs_do_not_select_prebuilt_files(tmp_path: Path) -> None:
    from conformance import run

    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_pregel.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    assert run.port(tests, ["test_*.py"], run.SUITES[1]).files == {}


def test_the_prebuilt_version_round_trips(tmp_path: Path) -> None:
    exp = ex.Expectations("1.2.3", {}, {"prebuilt/t.py::a": "r"}, prebuilt="1.1.3")
    path = tmp_path / "e.toml"
    path.write_text(ex.render(exp), encoding="utf-8")
    assert 'langgraph_prebuilt = "1.1.3"' in path.read_text(encoding="utf-8")
    assert ex.load(path) == exp

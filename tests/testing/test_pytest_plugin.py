"""The pytest plugin, exercised the way users run it: a separate pytest process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from streamtap.testing import REDACTED, load_interactions
from tests.testing.conftest import OPENAI_KEY
from tests.testing.sse_server import SSEServer

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = Path(__file__).parent / "cassettes"
PLUGIN = "streamtap.testing.pytest_plugin"
# Installed plugins unrelated to cassettes, blocked only to make each subprocess start faster.
UNRELATED = tuple(
    arg
    for name in ("codspeed", "benchmark", "langsmith_plugin", "syrupy", "hypothesispytest")
    for arg in ("-p", f"no:{name}")
)

REPLAY_SUITE = """
import anthropic
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Say hello"}]


def ask(client):
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    return "".join(event.choices[0].delta.content or "" for event in stream if event.choices)


@pytest.mark.cassette("openai_chat_text")
def test_marker_with_a_name():
    assert ask(openai.OpenAI(api_key="unused", max_retries=0)) == "Hello! How can I help you today?"


def test_fixture_uses_the_test_name(cassette):
    assert ask(openai.OpenAI(api_key="unused", max_retries=0)).startswith("Hello!")
    assert cassette.play_count == 1 and cassette.all_played


@pytest.mark.asyncio
@pytest.mark.cassette(name="anthropic_text", pace="recorded")
async def test_async_anthropic_with_recorded_pacing():
    client = anthropic.AsyncAnthropic(api_key="unused", max_retries=0)
    stream = await client.messages.create(
        model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, stream=True
    )
    text = [e.delta.text async for e in stream if e.type == "content_block_delta"]
    assert "".join(text) == "Hello! How can I help you today?"


@pytest.mark.cassette
def test_missing_cassette():
    pass


@pytest.mark.cassette("openai_chat_text")
def test_unmatched_request():
    client = openai.OpenAI(api_key="unused", max_retries=2)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
"""


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose test subprocesses can import streamtap (installed or not)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return pytester


def _replay_project(project: pytest.Pytester) -> None:
    project.makepyfile(test_user=REPLAY_SUITE)
    directory = project.path / "cassettes" / "test_user"
    directory.mkdir(parents=True)
    shutil.copy(CASSETTES / "openai_chat_text.json", directory)
    shutil.copy(CASSETTES / "anthropic_text.json", directory)
    shutil.copy(
        CASSETTES / "openai_chat_text.json", directory / "test_fixture_uses_the_test_name.json"
    )


def _assert_replay_outcomes(result: pytest.RunResult, project: pytest.Pytester) -> None:
    result.assert_outcomes(passed=3, failed=1, errors=1)
    missing = project.path / "cassettes" / "test_user" / "test_missing_cassette.json"
    result.stdout.fnmatch_lines(
        [
            f"*CassetteNotFoundError: cassette {missing} does not exist and record_mode is 'none'*",
            "*CassetteMismatchError: streamtap cassette*no recorded interaction matches POST*",
            '*-  "model": "gpt-4o",*',
            '*+  "model": "gpt-4o-mini",*',
        ]
    )
    assert not missing.exists()


def _assert_light_outcomes(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=1, errors=1, deselected=3)
    result.stdout.fnmatch_lines(["*CassetteNotFoundError*--record-mode=once*"])


LIGHT = ("-k", "marker_with_a_name or missing")


def test_marker_fixture_and_errors_in_a_user_suite(user_project: pytest.Pytester) -> None:
    _replay_project(user_project)
    result = user_project.runpytest_subprocess(*UNRELATED, "-p", PLUGIN)
    _assert_replay_outcomes(result, user_project)


def test_record_mode_ini_and_cli_cassette_dir(
    user_project: pytest.Pytester, sse_server: SSEServer
) -> None:
    user_project.makeini("[pytest]\ncassette_dir = recorded\n")
    user_project.makepyfile(
        test_rec=f"""
        import openai

        def test_record(cassette):
            client = openai.OpenAI(
                base_url="{sse_server.base_url}/v1", api_key="{OPENAI_KEY}", max_retries=0
            )
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{{"role": "user", "content": "hi"}}]
            )
            assert reply.choices[0].message.content == "Hello from loopback"
        """
    )
    result = user_project.runpytest_subprocess(*UNRELATED, "-p", PLUGIN, "--record-mode=once")
    result.assert_outcomes(passed=1)
    recorded = user_project.path / "recorded" / "test_rec" / "test_record.json"
    assert OPENAI_KEY not in recorded.read_text(encoding="utf-8")
    (interaction,) = load_interactions(recorded)
    assert interaction.request.header("authorization") == REDACTED
    assert len(sse_server.received) == 1

    result = user_project.runpytest_subprocess(*UNRELATED, "-p", PLUGIN)  # default: replay only
    result.assert_outcomes(passed=1)
    assert len(sse_server.received) == 1

    result = user_project.runpytest_subprocess(*UNRELATED, "-p", PLUGIN, "--cassette-dir=elsewhere")
    result.assert_outcomes(errors=1)
    expected = user_project.path / "elsewhere" / "test_rec" / "test_record.json"
    result.stdout.fnmatch_lines([f"*cassette {expected} does not exist*--record-mode=once*"])


def test_own_record_mode_option_without_pytest_recording(user_project: pytest.Pytester) -> None:
    _replay_project(user_project)
    result = user_project.runpytest_subprocess(
        *UNRELATED, "-p", PLUGIN, "-p", "no:recording", "--record-mode=none", *LIGHT
    )
    _assert_light_outcomes(result)


def test_alias_too_late_gives_an_actionable_error(user_project: pytest.Pytester) -> None:
    """respx's plugin imported the real httpx first: say exactly how to fix the set-up."""
    _replay_project(user_project)
    result = user_project.runpytest_subprocess(
        *UNRELATED, "-p", "respx", "-p", PLUGIN, "-k", "marker"
    )
    result.assert_outcomes(errors=1, deselected=4)
    result.stdout.fnmatch_lines(
        [
            "*CassetteSetupError*-p streamtap*-p no:respx*",
            "*PytestConfigWarning: streamtap cassettes need `import httpx` to resolve to `httpx2`*",
        ]
    )


def _fake_install(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulate `pip install streamtap`: a dist-info that declares the pytest11 entry point."""
    site = project.path / "site"
    dist = site / "streamtap_entry-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: streamtap-entry\nVersion: 0.0.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(f"[pytest11]\nstreamtap = {PLUGIN}\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{ROOT}")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="entry-point-autoload"),
        pytest.param(("-p", "streamtap"), id="early-by-entry-point-name"),
        pytest.param(("-p", PLUGIN), id="early-by-module-and-entry-point"),
    ],
)
def test_installed_entry_point(
    user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    _fake_install(user_project, monkeypatch)
    _replay_project(user_project)
    result = user_project.runpytest_subprocess(*UNRELATED, *args, *LIGHT)
    _assert_light_outcomes(result)


def test_without_the_testing_extra_only_cassette_tests_fail(
    user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry point is installed with streamtap itself; respx comes with streamtap[testing]."""
    hidden = user_project.path / "no_respx"
    hidden.mkdir()
    (hidden / "respx.py").write_text(
        'raise ModuleNotFoundError("No module named \'respx\'", name="respx")\n', encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", f"{hidden}{os.pathsep}{ROOT}")
    user_project.makepyfile(
        test_plain="""
        import pytest

        def test_unrelated():
            assert True

        @pytest.mark.cassette
        def test_cassette():
            pass
        """
    )
    result = user_project.runpytest_subprocess(*UNRELATED, "-p", "no:respx", "-p", PLUGIN)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*CassetteSetupError: streamtap cassettes need respx: pip install 'streamtap*"]
    )


def test_plugin_record_modes_match_the_library() -> None:
    from streamtap.testing import RECORD_MODES
    from streamtap.testing.pytest_plugin import RECORD_MODES as PLUGIN_MODES

    assert PLUGIN_MODES == RECORD_MODES


def test_cassette_config_fixture_sets_defaults_and_markers_override(
    user_project: pytest.Pytester,
) -> None:
    _replay_project(user_project)
    user_project.makeconftest(
        """
        import pytest

        @pytest.fixture
        def cassette_config():
            return {"match_on": ("method", "url")}
        """
    )
    user_project.makepyfile(
        test_user="""
        import openai
        import pytest

        def ask(model):
            client = openai.OpenAI(api_key="unused", max_retries=0)
            messages = [{"role": "user", "content": "something else"}]
            stream = client.chat.completions.create(model=model, messages=messages, stream=True)
            return "".join(e.choices[0].delta.content or "" for e in stream if e.choices)

        @pytest.mark.cassette("openai_chat_text")
        def test_config_relaxes_matching():
            assert ask("another-model").startswith("Hello!")

        @pytest.mark.cassette("openai_chat_text", match_on=None)
        def test_marker_overrides_config():
            ask("another-model")
        """
    )
    result = user_project.runpytest_subprocess(*UNRELATED, "-p", PLUGIN)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_user.py::test_marker_overrides_config*"])

"""Every script in examples/ runs, offline, and prints exactly what it printed when recorded.

Each example runs unmodified in its own process, the way a user runs it, through
``examples/replay.py``: the vendor calls are answered from ``examples/cassettes/<name>.json``
(replay only; an unrecorded request fails with a diff, an unplayed one fails the run). The
streamed tokens, their chunk boundaries and the accumulated message are compared exactly, so
an example that no longer matches the library fails here. One module fixture runs them two at
a time (most of each one's time is importing langchain-core and the SDKs); more at once would
only slow each down, and ``resilient.py``'s 20 s first-token timeout counts from its first call.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent
from types import ModuleType
from typing import Any

import pytest

from streamtap.testing import find_credentials, load_interactions

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 60.0

FAKE_KEY = "fake-key-for-tests"
"""The models' API key in the examples' environment: not credential-shaped, never sent anywhere
but the loopback stand-in, and never written to a cassette."""

REPLAYED = ("swap_vendors", "stream_graph", "raw_sdk_stream_tokens", "resilient")


def _standin_module() -> ModuleType:
    """``examples/cassettes/standin.py``, the loopback vendor stand-in the cassettes came from."""
    name = "_examples_standin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "cassettes" / "standin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _env(**extra: str) -> dict[str, str]:
    """The environment of a user with (fake) keys and no tracing or endpoint overrides."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LANGSMITH_", "LANGCHAIN_", "OPENAI_", "ANTHROPIC_"))
    }
    env.update(dict.fromkeys(("OPENAI_API_KEY", "ANTHROPIC_API_KEY"), FAKE_KEY))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run(*args: str, **env: str) -> str:
    """Run ``python *args`` from the repository root; its stdout once it exited with status 0."""
    return _output(_start(*args, **env))


def _start(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _output(process: subprocess.Popen[str]) -> str:
    """The process's stdout once it exited with status 0 (its stderr in the failure)."""
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        out, err = process.communicate()
        message = f"{process.args!r} did not finish in {TIMEOUT} s\n{out}\n{err}"
        raise AssertionError(message) from exc
    assert process.returncode == 0, f"{process.args!r} exited {process.returncode}\n{out}\n{err}"
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(server: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            out, err = server.communicate()
            raise AssertionError(f"serve_graph.py exited {server.returncode}\n{out}\n{err}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("serve_graph.py did not start serving")


def _serve_and_query() -> str:
    """Serve the replayed graph, run the SDK client against it, stop the server: the client's output."""
    port = _free_port()
    server = _start("examples/replay.py", "examples/serve_graph.py", "--port", str(port))
    try:
        _wait_until_serving(server, port)
        out = _run("examples/serve_client.py", "--url", f"http://127.0.0.1:{port}")
        server.send_signal(signal.SIGINT)  # uvicorn shuts down; replay.py then checks the cassette
        _output(server)  # exit status 0: every recorded interaction was replayed, none unmatched
        return out
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


@dataclass
class Runs:
    """The example runs, two at a time (the machine's cores), each one's stdout as a future."""

    jobs: dict[str, Future[str]]
    standin: Any
    fresh_cassette: Path

    def output(self, name: str) -> str:
        return self.jobs[name].result(timeout=4 * TIMEOUT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    hello = _standin_module().openai_stream(
        ["Hi", " there", "!"],
        completion_id="chatcmpl-TestFresh",
        model="gpt-4o-mini-2024-07-18",
        prompt_tokens=9,
    )
    fresh = tmp_path_factory.mktemp("cassette") / "fresh.json"
    with (
        _standin_module().serve({"/v1/chat/completions": [hello]}) as standin,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="example") as pool,
    ):
        jobs = {"serve_graph": pool.submit(_serve_and_query)}
        for name in REPLAYED:
            jobs[name] = pool.submit(_run, "examples/replay.py", f"examples/{name}.py")
        jobs["record_cassette"] = pool.submit(_run, "examples/record_cassette.py")
        jobs["record_cassette fresh"] = pool.submit(
            _run,
            "examples/record_cassette.py",
            str(fresh),
            OPENAI_BASE_URL=standin.base_url + "/v1",
        )
        yield Runs(jobs, standin, fresh)


EXPECTED = {
    "swap_vendors": """\
        --- anthropic:claude-sonnet-4-6
        Why| did| the| stream| stay| calm|?| It| had| a| steady| flow|.||
        text: Why did the stream stay calm? It had a steady flow.
        usage: {'input_tokens': 14, 'output_tokens': 13, 'total_tokens': 27}
        finish_reason: stop
        --- openai:gpt-4o-mini
        Streams| never| lose| an| argument|:| they| just| keep| going|.||
        text: Streams never lose an argument: they just keep going.
        usage: {'input_tokens': 13, 'output_tokens': 11, 'total_tokens': 24}
        finish_reason: stop
        """,
    "stream_graph": """\
        llm: 'The'
        llm: ' Nile'
        llm: ','
        llm: ' the'
        llm: ' Amazon'
        llm: ' and'
        llm: ' the'
        llm: ' Danube'
        llm: '.'
        llm: ''
        update from llm: 'The Nile, the Amazon and the Danube.'
          usage: {'input_tokens': 13, 'output_tokens': 9, 'total_tokens': 22}
        """,
    "raw_sdk_stream_tokens": """\
        A| token| is| a| piece| of| text| a| model| reads| or| writes|.||
        provider: openai model: gpt-4o
        usage: {'input_tokens': 12, 'output_tokens': 13, 'total_tokens': 25}
        message id: chatcmpl-ExampleToken
        """,
    "resilient": """\
        TCP slow start begins with a small congestion window and doubles it every round trip \
until a loss or the threshold.
        one message id for every chunk: True
        answered by: anthropic claude-sonnet-4-5
        usage: {'input_tokens': 31, 'output_tokens': 14, 'total_tokens': 45}
        attempt: {'provider': 'openai', 'mode': 'fresh', 'error': 'RateLimitError', \
'next': 'retry'}
        attempt: {'provider': 'openai', 'mode': 'fresh', 'error': 'RateLimitError', \
'next': 'fallback'}
        attempt: {'provider': 'anthropic', 'mode': 'fresh', 'error': 'OverloadedError', \
'next': 'retry', 'after_content': True}
        attempt: {'provider': 'anthropic', 'mode': 'continue', 'error': None, 'next': None}
        """,
}


@pytest.mark.parametrize("name", REPLAYED)
def test_example_replays_exactly(runs: Runs, name: str) -> None:
    assert runs.output(name) == dedent(EXPECTED[name])


def test_record_cassette_replays_the_committed_cassette(runs: Runs) -> None:
    assert runs.output("record_cassette") == dedent(
        """\
        replayed 1 interaction(s): hello.json
        Hello|!| How| can| I| help|?|
        replayed at the recorded pace, all played: True
        same chunks: True
        """
    )


def test_record_cassette_records_then_replays_without_the_server(runs: Runs) -> None:
    assert runs.output("record_cassette fresh") == dedent(
        """\
        recorded 1 interaction(s): fresh.json
        Hi| there|!|
        replayed at the recorded pace, all played: True
        same chunks: True
        """
    )
    assert len(runs.standin.received) == 1  # the replay never reached the server
    text = runs.fresh_cassette.read_text()
    assert find_credentials(text) == []
    assert FAKE_KEY not in text
    (interaction,) = load_interactions(runs.fresh_cassette)
    assert interaction.request.header("authorization") == "REDACTED"
    assert json.loads(interaction.request.body)["model"] == "gpt-4o-mini"


def test_serve_graph_answers_the_official_sdk(runs: Runs) -> None:
    assert runs.output("serve_graph") == dedent(
        """\
        event: metadata
        token from llm: 'Hello'
        token from llm: '!'
        token from llm: ' How'
        token from llm: ' can'
        token from llm: ' I'
        token from llm: ' help'
        token from llm: '?'
        token from llm: ''
        update from llm: 'Hello! How can I help?'
        run ended: success
        """
    )


def test_examples_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for script in EXAMPLES.glob("*.py"):
        assert f"examples/{script.name}" in readme, script.name

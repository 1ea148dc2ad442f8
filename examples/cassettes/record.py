"""Re-record the example cassettes: ``.venv/bin/python examples/cassettes/record.py``.

Each example runs unmodified, through the real SDKs, against the loopback stand-in in
``standin.py`` (``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL`` point there, the keys are fake).
A redact hook then makes the recording look like one made against the real API: the
loopback address becomes ``https://api.anthropic.com`` / ``https://api.openai.com``, which
is what ``examples/replay.py`` replays against. To record against the real vendors instead,
run an example inside ``use_cassette(path, record_mode="all")`` with real keys.
"""

from __future__ import annotations

# streamtap.testing first: it makes `import httpx` mean httpx2 so the SDKs can be intercepted.
from streamtap.testing import (  # isort: skip
    Interaction,
    load_interactions,
    save_interactions,
    use_cassette,
)

import os
import runpy
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin import (
    Reply,
    StandIn,
    anthropic_stream,
    openai_rate_limited,
    openai_stream,
    serve,
)

CASSETTES = Path(__file__).resolve().parent
EXAMPLES = CASSETTES.parent
MESSAGES = "/v1/messages"
CHAT = "/v1/chat/completions"
VENDORS = {MESSAGES: "https://api.anthropic.com", CHAT: "https://api.openai.com"}
DROPPED_RESPONSE_HEADERS = frozenset({"server", "date"})

CLAUDE = "claude-sonnet-4-6"
JOKE_CLAUDE = [
    "Why",
    " did",
    " the",
    " stream",
    " stay",
    " calm",
    "?",
    " It",
    " had",
    " a",
    " steady",
    " flow",
    ".",
]
JOKE_GPT = [
    "Streams",
    " never",
    " lose",
    " an",
    " argument",
    ":",
    " they",
    " just",
    " keep",
    " going",
    ".",
]
RIVERS = ["The", " Nile", ",", " the", " Amazon", " and", " the", " Danube", "."]
TOKEN = [
    "A",
    " token",
    " is",
    " a",
    " piece",
    " of",
    " text",
    " a",
    " model",
    " reads",
    " or",
    " writes",
    ".",
]
SLOW_START = [
    "TCP",
    " slow",
    " start",
    " begins",
    " with",
    " a",
    " small",
    " congestion",
    " window",
]
SLOW_START_REST = [
    " and",
    " doubles",
    " it",
    " every",
    " round",
    " trip",
    " until",
    " a",
    " loss",
    " or",
    " the",
    " threshold",
    ".",
]
HELLO = ["Hello", "!", " How", " can", " I", " help", "?"]


def _as_vendor(standin: StandIn) -> Callable[[Interaction], None]:
    """A redact hook: the loopback recording becomes one made against the vendor's API."""

    def rewrite(interaction: Interaction) -> None:
        request = interaction.request
        for route, vendor in VENDORS.items():
            if request.url.startswith(standin.base_url + route):
                request.url = vendor + request.url[len(standin.base_url) :]
                host = vendor.split("//", 1)[1]
                request.headers = [
                    (name, host if name == "host" else value) for name, value in request.headers
                ]
        interaction.response.headers = [
            (name, value)
            for name, value in interaction.response.headers
            if name not in DROPPED_RESPONSE_HEADERS
        ]

    return rewrite


@contextmanager
def standin_env(replies: dict[str, list[Reply]]) -> Iterator[StandIn]:
    """The stand-in, with the SDKs pointed at it and fake keys (redacted when recorded anyway)."""
    saved = dict(os.environ)
    with serve(replies) as standin:
        os.environ["ANTHROPIC_BASE_URL"] = standin.base_url
        os.environ["OPENAI_BASE_URL"] = standin.base_url + "/v1"
        os.environ["ANTHROPIC_API_KEY"] = "fake-anthropic-key"
        os.environ["OPENAI_API_KEY"] = "fake-openai-key"
        try:
            yield standin
        finally:
            os.environ.clear()
            os.environ.update(saved)
    left = {route: queue for route, queue in standin.replies.items() if queue}
    if left:
        raise RuntimeError(f"scripted replies never requested: {left}")


def record_example(name: str, replies: dict[str, list[Reply]]) -> None:
    """Run ``examples/<name>.py`` as ``__main__`` and record ``cassettes/<name>.json``."""
    script = EXAMPLES / f"{name}.py"
    with standin_env(replies) as standin:
        hook = _as_vendor(standin)
        with use_cassette(CASSETTES / f"{name}.json", record_mode="all", redact=hook):
            sys.argv = [str(script)]
            runpy.run_path(str(script), run_name="__main__")


def record_server() -> None:
    """Serve ``serve_graph.app`` in this process and drive it from ``serve_client.py``."""
    replies: dict[str, list[Reply]] = {
        MESSAGES: [
            anthropic_stream(HELLO, message_id="msg_01ExampleServe", model=CLAUDE, input_tokens=8)
        ]
    }
    with (
        standin_env(replies) as standin,
        use_cassette(CASSETTES / "serve_graph.json", record_mode="all", redact=_as_vendor(standin)),
    ):
        app = runpy.run_path(str(EXAMPLES / "serve_graph.py"), run_name="recording")["app"]
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        client = [
            sys.executable,
            str(EXAMPLES / "serve_client.py"),
            "--url",
            f"http://127.0.0.1:{port}",
        ]
        subprocess.run(client, check=True)  # its own process: its loopback calls are not recorded
        server.should_exit = True
        thread.join(timeout=10)


def record_hello() -> None:
    """``record_cassette.py`` records by itself; the URL is rewritten afterwards."""
    path = CASSETTES / "hello.json"
    path.unlink(missing_ok=True)
    replies: dict[str, list[Reply]] = {
        CHAT: [
            openai_stream(
                HELLO,
                completion_id="chatcmpl-ExampleHello",
                model="gpt-4o-mini-2024-07-18",
                prompt_tokens=9,
            )
        ]
    }
    with standin_env(replies) as standin:
        sys.argv = [str(EXAMPLES / "record_cassette.py"), str(path)]
        runpy.run_path(sys.argv[0], run_name="__main__")
        hook = _as_vendor(standin)
    interactions = load_interactions(path)
    for interaction in interactions:
        hook(interaction)
    save_interactions(path, interactions)


def main() -> None:
    record_example(
        "swap_vendors",
        {
            MESSAGES: [
                anthropic_stream(
                    JOKE_CLAUDE, message_id="msg_01ExampleJoke", model=CLAUDE, input_tokens=14
                )
            ],
            CHAT: [
                openai_stream(
                    JOKE_GPT,
                    completion_id="chatcmpl-ExampleJoke",
                    model="gpt-4o-mini-2024-07-18",
                    prompt_tokens=13,
                )
            ],
        },
    )
    record_example(
        "stream_graph",
        {
            MESSAGES: [
                anthropic_stream(
                    RIVERS, message_id="msg_01ExampleRivers", model=CLAUDE, input_tokens=13
                )
            ]
        },
    )
    record_example(
        "raw_sdk_stream_tokens",
        {
            CHAT: [
                openai_stream(
                    TOKEN,
                    completion_id="chatcmpl-ExampleToken",
                    model="gpt-4o-2024-08-06",
                    prompt_tokens=12,
                )
            ]
        },
    )
    record_example(
        "resilient",
        {
            CHAT: [openai_rate_limited(), openai_rate_limited()],
            MESSAGES: [
                anthropic_stream(
                    SLOW_START,
                    message_id="msg_01ExampleSlowStart",
                    model="claude-sonnet-4-5",
                    input_tokens=11,
                    overloaded=True,
                ),
                anthropic_stream(
                    SLOW_START_REST,
                    message_id="msg_01ExampleSlowStart2",
                    model="claude-sonnet-4-5",
                    input_tokens=20,
                ),
            ],
        },
    )
    record_server()
    record_hello()


if __name__ == "__main__":
    main()

"""``@langchain/react`` v1's ``useStream`` (the v2 "session" runtime of
``@langchain/langgraph-sdk`` 1.11 over the Agent Streaming Protocol: thread streams,
``POST /threads/{id}/commands``, automatic re-attach) in a real headless Chromium driven
by Playwright, against ``streamtap serve``: over SSE and over WebSocket, with LangGraph
graphs and streamtap.graph graphs (``tests/server/_use_stream_v1_graphs.py``).

Every scenario also runs against ``langgraph dev`` (LangGraph's own server, the oracle),
with the LangGraph graphs, and the page must show the same there: all five work there
(langgraph-api 0.16.7), so none is left out. LangGraph's server sends the ``tools`` channel
that ``stream.toolCalls`` reads only for a graph module that opts in
(``stream_transformers``, as the oracle's does); streamtap sends it for every run.

The page (``tests/js/page_v1.jsx``, bundled by esbuild into ``dist/page_v1.js``) is served
on the server's own origin (Playwright answers ``/__page/...``), as a frontend deployed
beside the API would be.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from streamtap.server import create_app
from tests.server._js_support import JS_DIR, NODE, needs_node, npm_ci
from tests.server._support import LiveServer
from tests.server._use_stream_v1_graphs import CHAT_TOKENS, SLOW_TOKENS, graphs

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (Python package) not installed"
)
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium not installed (Debian package: chromium)"
    ),
    needs_node(),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARGS += ["--disable-component-update", "--no-first-run", "--disable-sync"]
# the page comes from Playwright (no address of its own), so Chromium's Local Network
# Access checks block its WebSocket to 127.0.0.1 (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS)
ARGS += ["--disable-features=LocalNetworkAccessChecks"]
HTML = (
    '<!doctype html><html><body><div id="root"></div>'
    '<script src="page_v1.js"></script></body></html>'
)
AI_TEXT = (
    "[...document.querySelectorAll('#messages li[data-type=ai] .content')].at(-1)?.textContent"
)
STATUS = "document.querySelector('#status').textContent"
TRANSPORTS = ("sse", "websocket")
#: (server, graph engine): streamtap serving LangGraph's graphs and streamtap.graph's, and
#: langgraph dev (the oracle) serving LangGraph's
TARGETS = [("streamtap", "lg"), ("streamtap", "st"), ("langgraph-dev", "lg")]
TARGET_IDS = ["streamtap-lg", "streamtap-st", "oracle"]


@pytest.fixture(scope="session")
def bundle_v1() -> str:
    """npm ci (once), then esbuild bundles tests/js/page_v1.jsx into dist/page_v1.js."""
    npm_ci()
    assert NODE is not None
    # @langchain/react 1.1.0 pins @langchain/langgraph-sdk 1.11.0: the copy it resolves
    nested = JS_DIR / "node_modules" / "@langchain" / "react" / "node_modules"
    top = nested.parents[2] if not (nested / "@langchain" / "langgraph-sdk").exists() else nested
    meta = json.loads((top / "@langchain" / "langgraph-sdk" / "package.json").read_text())
    assert meta["version"] == "1.11.0"
    done = subprocess.run(
        [NODE, str(JS_DIR / "build.mjs")], cwd=JS_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return (JS_DIR / "dist" / "page_v1.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def streamtap_url() -> Iterator[str]:
    """One ``streamtap serve`` app for the module: both engines' graphs, ``lg_*`` and ``st_*``."""
    app = create_app({**graphs("lg"), **graphs("st")}, disconnect_grace=0.2)
    with LiveServer(app) as server:
        yield server.url


_ORACLE_MODULE = """\
from tests.server._use_stream_v1_graphs import graphs, stream_transformers

_graphs = graphs("lg")
{assign}
"""


@pytest.fixture(scope="module")
def oracle_url() -> Iterator[str]:
    """``langgraph dev`` serving the LangGraph graphs under the same assistant ids."""
    from bench.server_load import ServerProcess, langgraph_dev_available

    if not langgraph_dev_available():
        pytest.skip("the oracle needs langgraph-cli[inmem] (langgraph-api >= 0.16)")
    oracle = ServerProcess(1, delay=0.0, target="langgraph-dev")
    assert oracle.workdir is not None
    names = list(graphs("lg"))
    assign = "\n".join(f"{name} = _graphs[{name!r}]" for name in names)
    Path(oracle.workdir, "graph.py").write_text(_ORACLE_MODULE.format(assign=assign))
    config = {"graphs": {n: f"./graph.py:{n}" for n in names}, "dependencies": ["."]}
    Path(oracle.workdir, "langgraph.json").write_text(json.dumps(config))
    with oracle:
        yield oracle.url


@pytest.fixture
def target(request: Any) -> tuple[str, str]:
    """(base url, engine prefix) of the server the page talks to."""
    server, engine = request.param
    url = request.getfixturevalue("oracle_url" if server == "langgraph-dev" else "streamtap_url")
    return url, engine


class Page:
    """One browser tab on the v1 page, with what went wrong in it."""

    def __init__(self, browser: Any, bundle: str, url: str) -> None:
        self.url = url
        self.context = browser.new_context()
        self.context.route(
            "**/__page/index.html*",
            lambda route: route.fulfill(body=HTML, content_type="text/html"),
        )
        self.context.route(
            "**/__page/page_v1.js",
            lambda route: route.fulfill(body=bundle, content_type="text/javascript"),
        )
        self.tab = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []  # "METHOD path" of the page's HTTP requests
        self.sockets: list[str] = []  # paths of the WebSockets it opened
        self.transport = ""
        self.tab.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.tab.on("request", self._request)
        self.tab.on("websocket", lambda ws: self.sockets.append(urlsplit(ws.url).path))

    def _request(self, request: Any) -> None:
        self.requests.append(f"{request.method} {urlsplit(request.url).path}")

    def check_transport(self) -> None:
        """Commands and events went over the transport the page was asked for: a WebSocket
        per thread stream, or POST /commands and SSE POST /stream/events."""
        streams = [r for r in self.requests if r.endswith("/stream/events")]
        commands = [r for r in self.requests if r.endswith("/commands")]
        if self.transport == "websocket":
            assert self.sockets and all(p.endswith("/stream/events") for p in self.sockets)
            assert streams == commands == []
        else:
            assert self.sockets == []
            assert streams and commands
            assert {r.split()[0] for r in streams + commands} == {"POST"}

    def open(self, assistant: str, transport: str) -> None:
        self.transport = transport
        self.tab.goto(f"{self.url}/__page/index.html?assistant={assistant}&transport={transport}")
        self.tab.wait_for_selector("#status")

    def send(self, text: str) -> None:
        self.tab.fill("#input", text)
        self.tab.click("#send")
        self.tab.wait_for_function("document.querySelector('#thread').textContent !== ''")

    def idle_with(self, last_ai: str, timeout: float = 20_000) -> None:
        self.tab.wait_for_function(
            f"{AI_TEXT} === {last_ai!r} && {STATUS} === 'idle'", timeout=timeout
        )

    def messages(self) -> list[tuple[str, str]]:
        found: list[list[str]] = self.tab.eval_on_selector_all(
            "#messages li",
            "els => els.map(e => [e.dataset.type, e.querySelector('.content').textContent])",
        )
        return [(kind, text) for kind, text in found]

    def tool_calls(self) -> list[tuple[str, Any, str, Any]]:
        found: list[list[str]] = self.tab.eval_on_selector_all(
            "#toolcalls li",
            "els => els.map(e => [e.querySelector('.name').textContent,"
            " e.querySelector('.args').textContent, e.dataset.status,"
            " e.querySelector('.output').textContent])",
        )
        return [
            (name, json.loads(args), status, json.loads(out) if out else None)
            for name, args, status, out in found
        ]

    @property
    def thread_id(self) -> str:
        return str(self.tab.text_content("#thread"))

    def seen(self) -> list[str]:
        seen: list[str] = self.tab.evaluate("window.__seen")
        return seen


@pytest.fixture
def open_page(browser: Any, bundle_v1: str) -> Iterator[Callable[[str], Page]]:
    pages: list[Page] = []

    def make(url: str) -> Page:
        pages.append(Page(browser, bundle_v1, url))
        return pages[-1]

    yield make
    for page in pages:
        try:
            assert page.errors == []
            assert page.tab.text_content("#errors") == ""
            page.check_transport()
        finally:
            page.context.close()


def _state(url: str, thread_id: str) -> list[tuple[str, str]]:
    got = httpx.get(f"{url}/threads/{thread_id}/state")
    assert got.status_code == 200, got.text
    return [(m["type"], _text(m["content"])) for m in got.json()["values"]["messages"]]


def _text(content: str | list[dict[str, Any]]) -> str:
    """A message's text: its content, or its text blocks' (a model streamed through the
    protocol's messages handler answers in content blocks, on both servers)."""
    if isinstance(content, str):
        return content
    return "".join(block["text"] for block in content if block.get("type") == "text")


def _thread_status(url: str, thread_id: str) -> str:
    status: str = httpx.get(f"{url}/threads/{thread_id}").json()["status"]
    return status


def _runs_settled(url: str, thread_id: str) -> list[str]:
    """The thread's run statuses once none is pending or running (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        runs = httpx.get(f"{url}/threads/{thread_id}/runs").json()
        statuses = [r["status"] for r in runs]
        if not {"pending", "running"} & set(statuses):
            return statuses
        assert time.monotonic() < deadline, runs
        time.sleep(0.05)


parametrize = pytest.mark.parametrize
targets = parametrize("target", TARGETS, ids=TARGET_IDS, indirect=True)
transports = parametrize("transport", TRANSPORTS)


@targets
@transports
def test_tokens_stream_in(
    target: tuple[str, str], transport: str, open_page: Callable[[str], Page]
) -> None:
    url, engine = target
    page = open_page(url)
    page.open(f"{engine}_chat", transport)
    page.send("hi")
    final = "".join(CHAT_TOKENS)
    page.idle_with(final)
    assert page.messages() == [("human", "hi"), ("ai", final)]
    seen = page.seen()
    # the answer grew as the tokens came, each text a prefix of the next
    assert len(seen) >= 3, seen
    assert seen[-1] == final
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))
    assert _state(url, page.thread_id) == [("human", "hi"), ("ai", final)]
    assert _thread_status(url, page.thread_id) == "idle"


@targets
@transports
def test_a_streamed_tool_call_and_its_tool_node(
    target: tuple[str, str], transport: str, open_page: Callable[[str], Page]
) -> None:
    url, engine = target
    page = open_page(url)
    page.open(f"{engine}_tools", transport)
    page.send("weather?")
    page.idle_with("It is sunny.")
    assert page.messages() == [
        ("human", "weather?"),
        ("ai", "Let me look."),
        ("tool", "found weather"),
        ("ai", "It is sunny."),
    ]
    calls = json.loads(str(page.tab.get_attribute("#messages li:nth-child(2)", "data-tool-calls")))
    assert calls == [["search", {"q": "weather"}, "call_1"]]
    assert page.tool_calls() == [("search", {"q": "weather"}, "finished", "found weather")]
    assert _thread_status(url, page.thread_id) == "idle"


@targets
@transports
def test_an_interrupt_is_answered_with_respond(
    target: tuple[str, str], transport: str, open_page: Callable[[str], Page]
) -> None:
    url, engine = target
    page = open_page(url)
    page.open(f"{engine}_review", transport)
    page.send("check it")
    page.tab.wait_for_selector("#interrupt", timeout=20_000)
    assert json.loads(str(page.tab.text_content("#interrupt .payload"))) == {"question": "send it?"}
    page.tab.wait_for_function(f"{STATUS} === 'idle'")
    tid = page.thread_id
    assert _thread_status(url, tid) == "interrupted"
    page.tab.fill("#answer", "yes")
    page.tab.click("#respond")
    page.idle_with("approved: yes")
    expected = [
        ("human", "check it"),
        ("ai", "Let me look."),
        ("tool", "found weather"),
        ("ai", "approved: yes"),
    ]
    assert page.messages() == expected
    page.tab.wait_for_selector("#interrupt", state="detached")
    assert _state(url, tid) == expected
    assert _thread_status(url, tid) == "idle"


@targets
@transports
def test_stop_cancels_the_run(
    target: tuple[str, str], transport: str, open_page: Callable[[str], Page]
) -> None:
    url, engine = target
    page = open_page(url)
    page.open(f"{engine}_slow", transport)
    page.send("go on")
    page.tab.wait_for_function(f"({AI_TEXT} ?? '').length > 12", timeout=20_000)
    page.tab.click("#stop")
    page.tab.wait_for_function(f"{STATUS} === 'idle'")
    tid = page.thread_id
    assert _runs_settled(url, tid) == ["interrupted"]
    assert _thread_status(url, tid) == "idle"
    assert _state(url, tid) == [("human", "go on")]  # the cancelled node wrote nothing
    seen = page.seen()
    assert 0 < len(seen[-1]) < len("".join(SLOW_TOKENS)), seen
    assert "".join(SLOW_TOKENS).startswith(seen[-1])
    # stop() awaits the cancel request, then ends the run locally ("stopped"); when the
    # run's lifecycle interrupted reaches the page first, it ends it so ("interrupt"):
    # a race on both servers
    assert page.tab.evaluate("window.__completed") in (["stopped"], ["interrupt"])
    assert page.tab.is_enabled("#send")


@targets
@transports
def test_a_reload_mid_run_reattaches(
    target: tuple[str, str],
    transport: str,
    open_page: Callable[[str], Page],
    request: pytest.FixtureRequest,
) -> None:
    if "oracle" in request.node.callspec.id:
        # langgraph dev's re-attach once left the reloaded page without the answer's last
        # token (CI, SSE): LangGraph's server, not the one under test; not investigated yet
        request.applymarker(pytest.mark.xfail(strict=False, reason="langgraph dev, flaky once"))
    url, engine = target
    page = open_page(url)
    page.open(f"{engine}_slow", transport)
    page.send("go on")
    page.tab.wait_for_function(f"({AI_TEXT} ?? '').length > 12", timeout=20_000)
    tid = page.thread_id
    assert page.tab.url.endswith(f"&thread={tid}")
    page.tab.reload()
    assert _thread_status(url, tid) == "busy"  # reloaded while the run still ran
    final = "".join(SLOW_TOKENS)
    page.idle_with(final)
    assert page.messages() == [("human", "go on"), ("ai", final)]
    seen = page.seen()  # the reloaded page's own: it followed the run to its end
    assert len(seen) >= 2 and seen[-1] == final, seen
    assert all(final.startswith(text) for text in seen)
    assert _state(url, tid) == [("human", "go on"), ("ai", final)]
    assert _runs_settled(url, tid) == ["success"]

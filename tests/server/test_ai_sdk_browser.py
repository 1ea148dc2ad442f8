"""``@ai-sdk/react``'s ``useChat`` (with the ``ai`` package's ``DefaultChatTransport``) in a
real headless Chromium driven by Playwright, against ``streamtap serve``'s AI SDK routes,
for a streamtap.graph and a LangGraph graph: streamed text, reasoning, two parallel tool
calls and a custom progress item; an interrupt and its answer; an error mid-answer; a
client abort (``stop()``: the run goes on) then a reload that resumes it; a reload
mid-answer; stop on the server (``abort``, the model's stream closed).

The page (``tests/js/page_ai_sdk.jsx``, bundled by esbuild into ``dist/page_ai_sdk.js``)
is served on the server's own origin (Playwright answers ``/__page/...``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from streamtap.server import create_app
from tests.server._ai_sdk_graphs import SLOW, SLOW_TOKENS, graphs
from tests.server._js_support import JS_DIR, NODE, needs_node, npm_ci
from tests.server._support import LiveServer
from tests.server.test_ai_sdk import ENGINES

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
ARGS += ["--disable-features=LocalNetworkAccessChecks"]
HTML = (
    '<!doctype html><html><body><div id="root"></div>'
    '<script src="page_ai_sdk.js"></script></body></html>'
)
FULL = "".join(SLOW_TOKENS)
USER_HI = {"role": "user", "parts": [{"type": "text", "text": "hi"}]}


@pytest.fixture(scope="module")
def bundle() -> str:
    """npm ci (once), then esbuild bundles tests/js/page_ai_sdk.jsx."""
    npm_ci()
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(JS_DIR / "build.mjs")], cwd=JS_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return (JS_DIR / "dist" / "page_ai_sdk.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = create_app({**graphs("lg"), **graphs("st")}, disconnect_grace=0.2)
    with LiveServer(app) as server:
        yield server.url


class Page:
    """One browser tab on the useChat page."""

    def __init__(self, browser: Any, bundle: str, url: str, graph: str, chat: str) -> None:
        self.base = f"{url}/__page/index.html?graph={graph}&chat={chat}"
        self.context = browser.new_context()
        self.context.route(
            "**/__page/index.html*",
            lambda route: route.fulfill(body=HTML, content_type="text/html"),
        )
        self.context.route(
            "**/__page/page_ai_sdk.js",
            lambda route: route.fulfill(body=bundle, content_type="text/javascript"),
        )
        self.tab = self.context.new_page()
        self.errors: list[str] = []
        self.tab.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, resume: bool = False) -> None:
        self.tab.goto(self.base + ("&resume=1" if resume else ""))
        self.tab.wait_for_selector("#status")

    def send(self, text: str) -> None:
        """Sends ``text`` and waits until useChat has taken it: its user message is shown.

        Waiting for the status to leave ``ready`` would race a short answer, which can be
        over (status back to ``ready``) before the first poll."""
        sent = self.tab.evaluate("window.__state.messages.length")
        self.tab.fill("#input", text)
        self.tab.click("#send")
        self.tab.wait_for_function(f"window.__state.messages.length > {sent}", timeout=10_000)

    def wait(self, condition: str, timeout: float = 20_000) -> None:
        self.tab.wait_for_function(condition, timeout=timeout)

    def settled(self, finished: int = 1, status: str = "ready") -> None:
        """``finished`` requests ended (useChat's ``onFinish``), and the chat is ``status``."""
        self.wait(f"window.__finished.length >= {finished} && window.__state.status === {status!r}")

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.tab.evaluate("window.__state")
        return state

    def evaluate(self, script: str) -> Any:
        return self.tab.evaluate(script)


@pytest.fixture
def open_page(browser: Any, bundle: str, url: str) -> Iterator[Callable[[str, str], Page]]:
    pages: list[Page] = []

    def make(graph: str, chat: str) -> Page:
        pages.append(Page(browser, bundle, url, graph, chat))
        pages[-1].open()
        return pages[-1]

    yield make
    for page in pages:
        try:
            assert page.errors == []
        finally:
            page.context.close()


def _wait_idle(url: str, graph: str, chat: str) -> None:
    deadline = time.monotonic() + 15
    while httpx.get(f"{url}/ai-sdk/{graph}/chat/{chat}/stream").status_code != 204:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)


LAST_TEXT = (  # the text of the last assistant message
    "(window.__state.messages.findLast(m => m.role === 'assistant')?.parts ?? [])"
    ".filter(p => p.type === 'text').map(p => p.text).join('')"
)


@pytest.mark.parametrize("engine", ENGINES)
def test_answer(open_page: Callable[[str, str], Page], engine: str) -> None:
    page = open_page(f"{engine}_answer", f"b-answer-{engine}")
    page.send("hi")
    page.settled()
    assert page.state == {
        "status": "ready",
        "error": None,
        "messages": [
            USER_HI,
            {
                "role": "assistant",
                "parts": [
                    {"type": "data-custom", "data": {"progress": 50}},
                    {"type": "step-start"},
                    {"type": "reasoning", "id": "m1:0", "text": "think", "state": "done"},
                    {"type": "text", "text": "Let me.", "state": "done"},
                    {
                        "type": "tool-search",
                        "toolCallId": "call_1",
                        "state": "output-available",
                        "input": {"q": "x"},
                        "output": "found x",
                    },
                    {
                        "type": "tool-weather",
                        "toolCallId": "call_2",
                        "state": "output-available",
                        "input": {"city": "Paris"},
                        "output": "sunny in Paris",
                    },
                ],
            },
        ],
    }
    shown = page.tab.eval_on_selector_all(
        "#messages li[data-role=assistant] > *", "els => els.map(e => e.textContent)"
    )
    assert shown == [
        '{"progress":50}',
        "think",
        "Let me.",
        'search({"q":"x"}) = "found x"',
        'weather({"city":"Paris"}) = "sunny in Paris"',
    ]
    assert page.evaluate("window.__data") == [{"type": "data-custom", "data": {"progress": 50}}]
    assert page.evaluate("window.__finished") == [
        {"isAbort": False, "isDisconnect": False, "isError": False, "finishReason": "tool-calls"}
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_interrupt_and_its_answer(open_page: Callable[[str, str], Page], engine: str) -> None:
    page = open_page(f"{engine}_approve", f"b-approve-{engine}")
    page.send("hi")
    page.settled()
    assert page.tab.inner_text("#send") == "Answer"
    assert page.tab.inner_text(".interrupt") == '{"question":"send it?"}'
    page.send("yes")
    page.settled(2)
    messages = page.state["messages"]
    interrupt = messages[1]["parts"][-1]
    assert interrupt["type"] == "data-interrupt"
    assert interrupt["data"]["payload"] == {"question": "send it?"}
    assert messages == [
        USER_HI,
        {
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "Draft ready", "state": "done"},
                interrupt,
            ],
        },
        {"role": "user", "parts": [{"type": "text", "text": "yes"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "text", "text": "approved: yes", "state": "done"},
            ],
        },
    ]
    finished = page.evaluate("window.__finished.map(f => f.finishReason)")
    assert finished == ["other", "stop"]


@pytest.mark.parametrize("engine", ENGINES)
def test_error_mid_answer(open_page: Callable[[str, str], Page], engine: str) -> None:
    page = open_page(f"{engine}_fail", f"b-fail-{engine}")
    page.send("hi")
    page.settled(status="error")
    assert page.state["error"] == "ValueError: the tool backend is down"
    assert page.tab.inner_text("#error") == "ValueError: the tool backend is down"
    assert page.state["messages"][-1]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "Hello", "state": "done"},
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_client_abort_then_reload_resumes(
    open_page: Callable[[str, str], Page], url: str, engine: str
) -> None:
    graph, chat = f"{engine}_slow", f"b-abort-{engine}"
    SLOW[engine].events.clear()
    page = open_page(graph, chat)
    page.send("hi")
    page.wait(f"{LAST_TEXT}.length > 0")
    page.evaluate("window.__chat.stop()")  # AI SDK 7: a client abort is a disconnect
    page.settled()
    cut = page.evaluate(LAST_TEXT)
    assert FULL.startswith(cut) and cut != FULL
    assert page.evaluate("window.__finished.map(f => f.isAbort)") == [True]
    assert SLOW[engine].events == ["opened"]  # the run goes on
    page.open(resume=True)  # a reload: useChat's resume reattaches (GET .../stream)
    page.settled()
    assert page.state["messages"] == [
        {
            "role": "assistant",
            "parts": [{"type": "step-start"}, {"type": "text", "text": FULL, "state": "done"}],
        }
    ]
    assert SLOW[engine].events == ["opened", "finished"]
    _wait_idle(url, graph, chat)


@pytest.mark.parametrize("engine", ENGINES)
def test_reload_mid_answer_resumes(
    open_page: Callable[[str, str], Page], url: str, engine: str
) -> None:
    graph, chat = f"{engine}_slow", f"b-reload-{engine}"
    SLOW[engine].events.clear()
    page = open_page(graph, chat)
    page.send("hi")
    page.wait(f"{LAST_TEXT}.length > 0")
    page.open(resume=True)
    page.wait("window.__state.status === 'streaming'")
    page.settled()
    assert page.evaluate(LAST_TEXT) == FULL
    assert page.evaluate("window.__finished") == [
        {"isAbort": False, "isDisconnect": False, "isError": False, "finishReason": "stop"}
    ]
    assert SLOW[engine].events == ["opened", "finished"]
    page.open(resume=True)  # nothing runs now: 204, nothing shown
    page.tab.wait_for_timeout(300)
    assert page.state == {"status": "ready", "error": None, "messages": []}


@pytest.mark.parametrize("engine", ENGINES)
def test_stop_on_the_server(open_page: Callable[[str, str], Page], url: str, engine: str) -> None:
    graph, chat = f"{engine}_slow", f"b-stop-{engine}"
    SLOW[engine].events.clear()
    page = open_page(graph, chat)
    page.send("hi")
    page.wait(f"{LAST_TEXT}.length > 0")
    page.tab.click("#stop")
    page.settled()
    cut = page.evaluate(LAST_TEXT)
    assert FULL.startswith(cut) and cut != FULL
    assert page.state["error"] is None
    _wait_idle(url, graph, chat)
    assert SLOW[engine].events == ["opened", "closed"]  # the model's stream was closed
    assert page.evaluate(LAST_TEXT) == cut  # nothing after the abort

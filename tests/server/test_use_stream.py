"""A ``useStream`` page (``@langchain/langgraph-sdk/react`` 1.x, React, bundled by esbuild from
tests/js) in a real headless Chromium (Debian's package) driven by Playwright, against a
streamtap server: send, tokens streaming in, stop, reload a thread, branch / regenerate from a
checkpoint, answer an interrupt. The page is served on the server's own origin (Playwright
answers ``/__page/...``), as a frontend deployed beside the API would be."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.server._js_support import JS_DIR, NODE, js_graphs, needs_node, npm_ci

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
ARGS += ["--disable-component-update", "--no-first-run"]
HTML = (
    '<!doctype html><html><body><div id="root"></div><script src="page.js"></script></body></html>'
)
AI_TEXT = (
    "[...document.querySelectorAll('#messages li[data-type=ai] .content')].at(-1)?.textContent"
)


@pytest.fixture(scope="session")
def bundle() -> str:
    """npm ci (once), then esbuild bundles tests/js/page.jsx into tests/js/dist/page.js."""
    npm_ci()
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(JS_DIR / "build.mjs")], cwd=JS_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return (JS_DIR / "dist" / "page.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Page:
    """One browser tab on the page, with what it asked the server and what went wrong."""

    def __init__(self, browser: Any, bundle: str, url: str) -> None:
        self.url = url
        self.context = browser.new_context()
        self.context.route("**/__page/index.html*", self._html)
        self.context.route(
            "**/__page/page.js",
            lambda route: route.fulfill(body=bundle, content_type="text/javascript"),
        )
        self.tab = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.tab.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.tab.on("request", lambda r: self.requests.append(f"{r.method} {r.url}"))

    @staticmethod
    def _html(route: Any) -> None:
        route.fulfill(body=HTML, content_type="text/html")

    def open(self, assistant: str) -> None:
        self.tab.goto(f"{self.url}/__page/index.html?assistant={assistant}")
        self.tab.wait_for_selector("#status")

    def send(self, text: str) -> None:
        self.tab.fill("#input", text)
        self.tab.click("#send")
        self.tab.wait_for_function("document.querySelector('#thread').textContent !== ''")

    def idle_with(self, last_ai: str) -> None:
        self.tab.wait_for_function(
            f"{AI_TEXT} === {last_ai!r} "
            "&& document.querySelector('#status').textContent === 'idle'",
            timeout=15_000,
        )

    def messages(self) -> list[tuple[str, str]]:
        found: list[list[str]] = self.tab.eval_on_selector_all(
            "#messages li",
            "els => els.map(e => [e.dataset.type, e.querySelector('.content').textContent])",
        )
        return [(kind, text) for kind, text in found]

    def attr(self, selector: str, name: str) -> str | None:
        value: str | None = self.tab.get_attribute(selector, name)
        return value

    @property
    def thread_id(self) -> str:
        return str(self.tab.text_content("#thread"))


@pytest.fixture
def open_page(browser: Any, bundle: str) -> Iterator[Callable[[str], Page]]:
    pages: list[Page] = []

    def make(url: str) -> Page:
        pages.append(Page(browser, bundle, url))
        return pages[-1]

    yield make
    for page in pages:
        assert page.errors == []
        assert page.tab.text_content("#errors") == ""
        page.context.close()


def _state(url: str, thread_id: str) -> list[str]:
    got = httpx.get(f"{url}/threads/{thread_id}/state")
    assert got.status_code == 200
    return [m["content"] for m in got.json()["values"]["messages"]]


@pytest.mark.parametrize("engine", ["st", "lg"])
def test_send_stream_reload_and_branch(
    serve: Any, open_page: Callable[[str], Page], engine: str
) -> None:
    server = serve(js_graphs(engine))
    page = open_page(server.url)
    page.open(f"{engine}_count")
    page.send("hi")
    page.idle_with("Answer number 1")
    # the tokens arrived one by one, each shown as it came
    assert page.tab.evaluate("window.__seen") == ["Answer ", "Answer number ", "Answer number 1"]
    assert page.messages() == [("human", "hi"), ("ai", "Answer number 1")]
    tid = page.thread_id
    assert page.tab.url.endswith(f"?assistant={engine}_count&thread={tid}")
    assert _state(server.url, tid) == ["hi", "Answer number 1"]

    # reload: the thread comes back from its history
    page.requests.clear()
    page.tab.reload()
    page.idle_with("Answer number 1")
    assert page.messages() == [("human", "hi"), ("ai", "Answer number 1")]
    assert f"POST {server.url}/threads/{tid}/history" in page.requests

    # regenerate the answer from the checkpoint before it: a second branch
    page.tab.click("#messages li[data-type=ai] .regenerate")
    page.idle_with("Answer number 2")
    assert page.messages() == [("human", "hi"), ("ai", "Answer number 2")]
    ai = "#messages li[data-type=ai]"
    page.tab.wait_for_selector(f"{ai}[data-branches='2']")
    assert page.attr(ai, "data-branch-index") == "1"
    assert _state(server.url, tid) == ["hi", "Answer number 2"]
    page.tab.click(f"{ai} .prev-branch")
    page.idle_with("Answer number 1")
    assert page.attr(ai, "data-branch-index") == "0"
    page.tab.click(f"{ai} .next-branch")
    page.idle_with("Answer number 2")

    # edit the question: a branch from the input checkpoint
    page.tab.click("#messages li[data-type=human] .edit")
    page.idle_with("Answer number 3")
    assert page.messages() == [("human", "hi (edited)"), ("ai", "Answer number 3")]
    page.tab.wait_for_selector("#messages li[data-type=human][data-branches='2']")
    assert _state(server.url, tid) == ["hi (edited)", "Answer number 3"]


def test_stop_cancels_the_run(serve: Any, open_page: Callable[[str], Page]) -> None:
    server = serve(js_graphs("st"), disconnect_grace=0.1)
    page = open_page(server.url)
    page.open("st_slow")
    page.send("go on")
    page.tab.wait_for_function(f"({AI_TEXT} ?? '').length > 20")
    page.tab.click("#stop")
    page.tab.wait_for_function("document.querySelector('#status').textContent === 'idle'")
    seen = page.tab.evaluate("window.__seen")
    assert 20 < len(seen[-1]) < 1000  # stopped part-way through 500 "x " tokens
    assert set(seen[-1]) == {"x", " "}
    # the page falls back to the thread's state (a history fetch after the stop, which a
    # loaded machine may finish after 'idle'): the cancelled node wrote nothing
    page.tab.wait_for_function(
        "document.querySelectorAll('#messages li').length === 1", timeout=15_000
    )
    assert page.messages() == [("human", "go on")]
    tid = page.thread_id
    deadline = time.monotonic() + 10
    while (runs := httpx.get(f"{server.url}/threads/{tid}/runs").json())[0]["status"] in (
        "pending",
        "running",
    ):
        assert time.monotonic() < deadline, runs
        time.sleep(0.05)
    assert [r["status"] for r in runs] == ["interrupted"]
    assert _state(server.url, tid) == ["go on"]  # the node never finished
    assert httpx.get(f"{server.url}/threads/{tid}").json()["status"] == "idle"
    assert page.tab.is_enabled("#send")


def test_an_interrupt_is_answered_from_the_page(
    serve: Any, open_page: Callable[[str], Page]
) -> None:
    server = serve(js_graphs("lg"))
    page = open_page(server.url)
    page.open("lg_approve")
    page.send("write it")
    page.tab.wait_for_selector("#interrupt")
    assert page.tab.text_content("#interrupt .question") == "send it?"
    page.idle_with("Draft ready")
    tid = page.thread_id
    assert httpx.get(f"{server.url}/threads/{tid}").json()["status"] == "interrupted"
    page.tab.fill("#answer", "yes")
    page.tab.click("#resume")
    page.idle_with("approved: yes")
    assert page.messages() == [
        ("human", "write it"),
        ("ai", "Draft ready"),
        ("ai", "approved: yes"),
    ]
    assert page.tab.query_selector("#interrupt") is None
    assert _state(server.url, tid) == ["write it", "Draft ready", "approved: yes"]
    assert httpx.get(f"{server.url}/threads/{tid}").json()["status"] == "idle"

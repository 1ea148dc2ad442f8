"""The chat page in a real headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server._support import ScriptedChat, chat_graph

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (Python package) not installed"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian package: chromium)"
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OBSERVE = """() => {
  window.__updates = [];
  new MutationObserver(() => {
    const answer = document.querySelector('[data-testid=answer]');
    const done = !!document.querySelector('.turn[data-done]');
    if (answer) window.__updates.push([answer.textContent.length, done]);
  }).observe(document.getElementById('transcript'), {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == []


def _send(page: Any, text: str) -> None:
    page.wait_for_selector("[data-testid=assistant] option", state="attached")
    page.evaluate(OBSERVE)
    page.fill("[data-testid=input]", text)
    page.click("[data-testid=send]")


def test_tokens_stream_into_the_page(serve: Any, page: Any) -> None:
    tokens = [f"word{i} " for i in range(30)]
    model = ScriptedChat(
        tokens=tokens,
        delay=0.03,
        reasoning=["Checking the forecast. ", "Paris it is."],
        tool_call={"name": "get_weather", "args": '{"city": "Paris"}', "id": "call_1"},
        usage={"input_tokens": 12, "output_tokens": 30},
    )
    server = serve({"agent": chat_graph(model, progress=[30, 70, 100], sync=True)})
    page.goto(server.url + "/")
    _send(page, "What's the weather in Paris?")
    page.wait_for_selector(".turn[data-done]", timeout=20_000)

    updates = page.evaluate("window.__updates")
    before_end = {length for length, done in updates if not done and length > 0}
    assert len(before_end) >= 3, updates  # tokens arrived one update at a time
    assert page.text_content("[data-testid=answer]") == "".join(tokens)
    assert page.get_attribute(".turn", "data-done") == "success"
    assert page.text_content("[data-testid=reasoning]") == "Checking the forecast. Paris it is."
    assert page.inner_text("[data-testid=tool-call] .name") == "get_weather"
    assert page.inner_text("[data-testid=tool-call] .args") == '{"city": "Paris"}'
    assert page.inner_text("[data-testid=nodes]") == "agent"
    assert page.get_attribute("[data-testid=progress]", "value") == "100"
    assert page.inner_text("[data-testid=usage]") == "12 in · 30 out tokens"
    page.click("details.reasoning summary")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "server-chat.png"))


def test_stop_cancels_the_run(serve: Any, page: Any) -> None:
    model = ScriptedChat(tokens=["x "] * 400, delay=0.01)
    server = serve({"agent": chat_graph(model)})
    page.goto(server.url + "/")
    _send(page, "go on forever")
    page.wait_for_function(
        "document.querySelector('[data-testid=answer]')?.textContent.length > 10"
    )
    page.click("[data-testid=stop]")
    page.wait_for_selector(".turn[data-done]", timeout=10_000)
    assert page.get_attribute(".turn", "data-done") == "interrupted"
    assert page.inner_text("[data-testid=status]") == "stopped"
    assert len(page.inner_text("[data-testid=answer]")) < 400 * 2
    assert model.events == ["opened", "closed"]  # the model stream was closed upstream
    assert page.is_enabled("[data-testid=send]")


def test_dropped_connection_resumes_without_duplicates(serve: Any, page: Any) -> None:
    tokens = [f"t{i} " for i in range(60)]
    model = ScriptedChat(tokens=tokens, delay=0.02)
    server = serve({"agent": chat_graph(model)}, disconnect_grace=5.0)
    page.goto(server.url + "/")
    _send(page, "keep going")
    page.wait_for_function(
        "document.querySelector('[data-testid=answer]')?.textContent.length > 20"
    )
    page.evaluate("window.__streamtap.dropConnection()")
    page.wait_for_selector(".turn[data-done]", timeout=20_000)
    assert page.evaluate("window.__streamtap.state.reconnects") == 1
    assert page.text_content("[data-testid=answer]") == "".join(tokens)
    assert page.get_attribute(".turn", "data-done") == "success"
    assert model.events == ["opened", "finished"]


def test_thread_picker_keeps_history(serve: Any, page: Any) -> None:
    server = serve({"agent": chat_graph(ScriptedChat(tokens=["Hi ", "there"]))})
    page.goto(server.url + "/")
    page.wait_for_selector("[data-testid=assistant] option", state="attached")
    page.click("[data-testid=new-thread]")
    page.wait_for_function("document.querySelector('[data-testid=thread]').value !== ''")
    thread_id = page.eval_on_selector("[data-testid=thread]", "el => el.value")
    _send(page, "hello")
    page.wait_for_selector(".turn[data-done]")
    page.reload()
    page.wait_for_selector(f"[data-testid=thread] option[value='{thread_id}']", state="attached")
    page.select_option("[data-testid=thread]", thread_id)
    page.wait_for_selector("[data-testid=answer]")
    assert page.inner_text(".turn .user") == "hello"
    assert page.inner_text("[data-testid=answer]") == "Hi there"


def test_interrupt_is_answered_from_the_page(serve: Any, page: Any) -> None:
    from tests.server._support import approval_graph

    server = serve({"approve": approval_graph(ScriptedChat(tokens=["Draft ", "ready"]))})
    page.goto(server.url + "/")
    page.wait_for_selector("[data-testid=assistant] option", state="attached")
    page.click("[data-testid=new-thread]")
    page.wait_for_function("document.querySelector('[data-testid=thread]').value !== ''")
    _send(page, "write it")
    page.wait_for_selector("[data-testid=interrupt]:not([hidden])")
    assert page.inner_text("[data-testid=interrupt] .question") == "send it?"
    page.fill("[data-testid=interrupt-answer]", "yes")
    page.click("[data-testid=resume]")
    page.wait_for_selector(".turn:nth-of-type(2)[data-done]")
    assert page.text_content(".turn:nth-of-type(2) [data-testid=answer]") == "approved: yes"
    assert page.inner_text(".turn:nth-of-type(2) [data-testid=nodes]") == "approve"

"""What the server logs is masked as its responses are: a failed run's message and
traceback, uvicorn's tracebacks and access lines (``streamtap/server/_logs.py``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from langgraph_sdk import get_client
from typing_extensions import TypedDict
from uvicorn.logging import AccessFormatter

from streamtap.graph import START, StateGraph
from streamtap.server import create_app
from streamtap.server._logs import MASKED_LOGGERS, mask_logs

KEY = "sk-proj-" + "Zq8" * 12  # what a vendor echoes back in its error
TOKEN = "server-token-" + "x7" * 10


class S(TypedDict, total=False):
    q: str


def _leaky_graph() -> Any:
    def node(state: S) -> S:
        raise RuntimeError(f"Incorrect API key provided: {KEY}; retried with {TOKEN}")

    return StateGraph(S).add_node("node", node).add_edge(START, "node").compile()


def _shown(record: logging.LogRecord) -> str:
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


async def test_a_failed_runs_log_line_keeps_its_traceback_and_loses_the_secrets(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve({"leaky": _leaky_graph()}, api_token=TOKEN)
    client = get_client(url=server.url, api_key=TOKEN)
    with caplog.at_level(logging.WARNING, logger="streamtap.server"):
        parts = [p async for p in client.runs.stream(None, "leaky", input={"q": "x"})]
    assert [p.event for p in parts if p.event == "error"] == ["error"]
    [record] = [r for r in caplog.records if r.name == "streamtap.server"]
    shown = _shown(record)
    assert shown.startswith("streamtap.server WARNING run ") and "failed: RuntimeError" in shown
    assert "Traceback (most recent call last)" in shown and "sk-proj-***" in shown
    assert KEY not in shown and TOKEN not in shown


@contextmanager
def _captured(name: str) -> Iterator[list[logging.LogRecord]]:
    """Records of the logger ``name`` whatever the logging config made of it (uvicorn's
    may set its level, or disable it)."""
    logger = logging.getLogger(name)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    saved = logger.level, logger.disabled
    logger.setLevel(logging.DEBUG)
    logger.disabled = False
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.disabled = saved[1]


def test_uvicorn_tracebacks_are_masked() -> None:
    mask_logs((TOKEN,))
    logger = logging.getLogger("uvicorn.error")
    with _captured("uvicorn.error") as records:
        try:
            raise ConnectionError(f"the gateway refused {KEY} and {TOKEN}")
        except ConnectionError:
            logger.error("Exception in ASGI application", exc_info=sys.exc_info())
    [record] = records
    shown = _shown(record)
    assert "Exception in ASGI application" in shown and "ConnectionError" in shown
    assert KEY not in shown and TOKEN not in shown


def test_uvicorn_access_lines_keep_their_shape() -> None:
    """uvicorn's access formatter takes ``record.args`` apart, so arguments are masked one
    by one, never merged into the message."""
    mask_logs((TOKEN,))
    logger = logging.getLogger("uvicorn.access")
    with _captured("uvicorn.access") as records:
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/threads?token={TOKEN}&key={KEY}",
            "1.1",
            200,
        )
    [record] = records
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert line.startswith("127.0.0.1:5000 GET /threads?token=***&key=sk-proj-*** HTTP/1.1 200")


def test_the_mask_is_installed_once_by_every_app() -> None:
    create_app({"leaky": _leaky_graph()})
    create_app({"leaky": _leaky_graph()}, api_token=TOKEN)
    for name in MASKED_LOGGERS:
        assert (
            len([f for f in logging.getLogger(name).filters if type(f).__name__ == "SecretMask"])
            == 1
        )

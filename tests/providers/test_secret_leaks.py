"""No credential in any shape leaks out of a chat model (issue 20, "Secrets").

A loopback vendor echoes every credential it received (as some gateways do in their
error bodies: JSON ``param`` fields, text and HTML pages), for an error response and
for an error event mid-stream. One value of each shape is planted: the model's key,
Azure ``api-key``, Google ``x-goog-api-key``, AWS SigV4 ``Authorization`` and
``X-Amz-Security-Token``, a custom ``X-Auth-Key``, a header named in ``secret_headers=``,
and a password in ``base_url``. None of them may appear in the error (``str``, ``repr``,
traceback), ``repr(model)``, ``model_dump()`` / ``dict()``, what callback handlers get
(``serialized``, ``invocation_params``, the error), the SDK exception kept as
``__cause__`` (body, response text, request headers) or the HTTP client's log records.

Values are assembled at run time so the sources hold no credential-shaped literal.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd

import streamtap
from streamtap import errors
from streamtap._log_mask import CLIENT_LOGGERS
from tests import _fixtures as F
from tests.testing.conftest import sse_server  # noqa: F401  (a fixture)
from tests.testing.sse_server import SSEServer

_TAIL = "Q7w2E9r4T6y1U3i8O5p0"
_HEX32 = "3fa85f6457174562b3fc2c963f66afa6"

PLANTED: dict[str, str] = {
    "openai key": "sk-" + "proj-" + _TAIL,
    "anthropic key": "sk-" + "ant-" + "api03-" + _TAIL,
    "groq key": "gsk_" + _TAIL + "Zz",
    "azure api-key": _HEX32,  # no vendor shape: known only because it was configured
    "google api key": "AIza" + "Sy" + _TAIL + "a1B2c3D4e5F6g",
    "aws sigv4 signature": "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
    "aws access key id": "AKIA" + "QWERTYUIOP123456",
    "aws session token": "IQoJb3JpZ2luX2VjE" + _TAIL + "Jr/wEaCXVzLWVhc3Qt",
    "custom auth header": "plainVALUE" + "_9d8c7b6a",  # no shape either
    "explicit secret header": "whisper" + "-4242-quiet",
    "url password": "hunter2" + "-Pa55w0rd",
}

KEYS = {
    "openai": PLANTED["openai key"],
    "openai-responses": PLANTED["openai key"],
    "anthropic": PLANTED["anthropic key"],
    "openai-compatible": PLANTED["groq key"],
}
WIRE_SPECS = {
    "openai": "openai:gpt-4o",
    "openai-responses": "openai-responses:gpt-5",
    "anthropic": "anthropic:claude-sonnet-4-6",
    "openai-compatible": "groq:llama-3.3-70b",
}


def _headers() -> dict[str, str]:
    return {
        "api-key": PLANTED["azure api-key"],
        "x-goog-api-key": PLANTED["google api key"],
        "X-Amz-Security-Token": PLANTED["aws session token"],
        "X-Amz-Date": "20260101T000000Z",
        "X-Aws-Auth": (
            f"AWS4-HMAC-SHA256 Credential={PLANTED['aws access key id']}/20260101/us-east-1/"
            f"bedrock/aws4_request, SignedHeaders=host, Signature={PLANTED['aws sigv4 signature']}"
        ),
        "X-Auth-Key": PLANTED["custom auth header"],
        "X-Tenant-Pass": PLANTED["explicit secret header"],
        "X-Trace": "trace-visible-123",
    }


def _base_url(wire: str) -> str:
    host = F.BASE_URLS[wire].split("://", 1)[1]
    return f"https://gateway-user:{PLANTED['url password']}@{host}"


def make_model(wire: str, **kwargs: Any) -> streamtap.StreamtapChatModel:
    return streamtap.chat_model(
        WIRE_SPECS[wire],
        api_key=KEYS[wire],
        base_url=_base_url(wire),
        default_headers=_headers(),
        secret_headers=["X-Tenant-Pass"],
        max_retries=0,
        **kwargs,
    )


def _echo(request: httpx.Request) -> str:
    """Everything credential-like the vendor received, as a gateway would echo it."""
    return f"rejected {request.url} with headers {json.dumps(dict(request.headers))}"


def _planted(wire: str) -> list[str]:
    return [v for k, v in PLANTED.items() if not k.endswith("key") or v == KEYS[wire]]


def _assert_nowhere(wire: str, *texts: str) -> None:
    for text in texts:
        for value in _planted(wire):
            assert value not in text, (value, text[:400])


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.payloads: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.payloads.append(repr(serialized))
        self.payloads.append(repr(kwargs.get("invocation_params")))
        self.payloads.append(repr(kwargs.get("metadata")))

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.payloads.append(repr(error))
        self.payloads.append("".join(traceback.format_exception(error)))


def _cause_texts(exc: BaseException) -> list[str]:
    cause = exc.__cause__
    assert cause is not None
    texts = [str(cause), repr(cause.args), repr(getattr(cause, "body", None))]
    response = getattr(cause, "response", None)
    if response is not None:
        texts += [response.text, repr(dict(response.headers)), str(response.url)]
        texts += [repr(dict(response.request.headers)), str(response.request.url)]
        texts.append(response.request.content.decode("latin-1"))
    request = cause.__dict__.get("request")
    if request is not None:
        texts += [repr(dict(request.headers)), str(request.url)]
    return texts


def _http_error(kind: str) -> Any:
    def respond(request: httpx.Request) -> httpx.Response:
        echo = _echo(request)
        if kind == "json":
            body = {
                "type": "error",
                "error": {
                    "message": echo,
                    "type": "authentication_error",
                    "param": dict(request.headers),
                    "code": "invalid_api_key",
                },
            }
            return httpx.Response(401, json=body)
        if kind == "html":
            return httpx.Response(
                401, html=f"<html><body><h1>401</h1><pre>{echo}</pre></body></html>"
            )
        return httpx.Response(401, text=echo)

    return respond


def _midstream(wire: str) -> Any:
    scenario = {"openai-responses": "error_nested"}.get(wire, "overloaded_midstream")
    source = wire if wire != "openai-compatible" else "openai"
    raw = (F.FIXTURES / source / f"{scenario}.sse").read_text("utf-8")

    def respond(request: httpx.Request) -> httpx.Response:
        echo = json.dumps(_echo(request))[1:-1]
        body = raw
        for original in (
            '"The server is overloaded"',
            '"Overloaded"',
            '"The server had an error while processing your request. Sorry about that!"',
        ):
            body = body.replace(original, f'"{echo}", "param": "{echo}"')
        assert echo in body
        return httpx.Response(
            200, content=body.encode(), headers={"content-type": "text/event-stream"}
        )

    return respond


WIRES = list(WIRE_SPECS)


@pytest.fixture(autouse=True)
def _client_logs(caplog: pytest.LogCaptureFixture) -> Any:
    for name in ("httpx2", "openai", "anthropic", "httpcore2"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield
    for name in ("httpx2", "openai", "anthropic", "httpcore2"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_text:
            texts.append(record.exc_text)
    return texts


def test_model_surfaces_hold_no_credential() -> None:
    for wire in WIRES:
        model = make_model(wire)
        _assert_nowhere(
            wire,
            repr(model),
            str(model),
            repr(model.model_dump()),
            json.dumps(model.model_dump(mode="json")),
            repr(model.asdict()),
            repr(dumpd(model)),
            repr(model._get_invocation_params(stop=None, extra_headers=_headers())),
        )
        # the model itself still sends them
        assert model.default_headers == _headers()
        assert PLANTED["url password"] in (model.base_url or "")
        # what is not a credential stays readable
        assert "trace-visible-123" in repr(model)
        assert "gateway-user" in repr(model)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("kind", ["json", "text", "html"])
def test_error_response_echoing_credentials(
    router: Any, caplog: pytest.LogCaptureFixture, wire: str, kind: str
) -> None:
    route = router.route().mock(side_effect=_http_error(kind))
    recorder = Recorder()
    with pytest.raises(errors.AuthenticationError) as info:
        list(make_model(wire).stream("hi", config={"callbacks": [recorder]}))
    assert route.call_count == 1
    sent = route.calls.last.request
    assert sent.headers["x-auth-key"] == PLANTED["custom auth header"]  # it was sent
    exc = info.value
    assert exc.status_code == 401
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    _assert_nowhere(wire, *texts, *_cause_texts(exc), *recorder.payloads, *_log_texts(caplog))
    assert "trace-visible-123" in str(exc.__cause__.response.text)  # not over-masked
    assert recorder.payloads  # the handler did run


@pytest.mark.parametrize("wire", WIRES)
async def test_error_event_midstream_echoing_credentials(
    router: Any, caplog: pytest.LogCaptureFixture, wire: str
) -> None:
    router.route().mock(side_effect=_midstream(wire))
    recorder = Recorder()
    seen = []
    with pytest.raises(errors.StreamtapError) as info:
        async for chunk in make_model(wire).astream("hi", config={"callbacks": [recorder]}):
            seen.append(chunk)
    exc = info.value
    assert seen  # text had arrived before the error event
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if exc.__cause__ is not None:
        texts += _cause_texts(exc) if getattr(exc.__cause__, "__cause__", None) else []
        texts += [str(exc.__cause__), repr(exc.__cause__)]
        inner = exc.__cause__.__cause__
        if inner is not None:
            texts += [str(inner), repr(getattr(inner, "body", None))]
    _assert_nowhere(wire, *texts, *recorder.payloads, *_log_texts(caplog))


def test_raw_causes_is_the_explicit_opt_in(router: Any) -> None:
    router.route().mock(side_effect=_http_error("json"))
    with errors.raw_causes(), pytest.raises(errors.AuthenticationError) as info:
        list(make_model("openai").stream("hi"))
    assert PLANTED["custom auth header"] in json.dumps(info.value.__cause__.body)
    assert PLANTED["custom auth header"] not in str(info.value)  # streamtap's own stays masked


def test_client_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    import httpx2

    make_model("openai")  # a chat model installs the filter
    key = PLANTED["google api key"]
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, text="ok"))
    with httpx2.Client(transport=transport) as client:
        client.get(
            f"https://gateway-user:{PLANTED['url password']}@g.example/v1/x?alt=sse&key={key}"
        )
        client.get("https://g.example/v1/y?token=" + "tok" + _TAIL)
    for name in CLIENT_LOGGERS:
        assert any(type(f).__name__ == "SecretMask" for f in logging.getLogger(name).filters)
    lines = _log_texts(caplog)
    assert any("g.example" in line for line in lines)
    _assert_nowhere("openai", *lines)
    assert not any(("tok" + _TAIL) in line for line in lines)
    assert any("alt=sse" in line for line in lines)  # ordinary query values stay


def test_one_list_of_secret_headers() -> None:
    from streamtap._secrets import is_secret_header
    from streamtap.testing import redaction

    assert redaction.is_secret_header is is_secret_header
    make_model("openai")
    for name in (*_headers(), "Authorization", "Proxy-Authorization", "Cookie"):
        assert is_secret_header(name) == (name not in ("X-Trace", "X-Amz-Date")), name
    for name in ("x-ratelimit-remaining-tokens", "content-type", "anthropic-version"):
        assert not is_secret_header(name)


def test_cassettes_redact_configured_credentials_at_record_time(
    sse_server: SSEServer,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    from streamtap.testing import use_cassette
    from streamtap.testing.scan import scan_paths

    path = tmp_path / "c.json"
    host = sse_server.base_url.split("://", 1)[1]
    model = streamtap.chat_model(
        "openai-compatible:qwen3",
        api_key=KEYS["openai-compatible"],
        base_url=f"http://gateway-user:{PLANTED['url password']}@{host}/v1",
        default_headers=_headers(),
        secret_headers=["X-Tenant-Pass"],
        max_retries=0,
    )
    with use_cassette(path, record_mode="once") as cassette:
        text = "".join(str(chunk.content) for chunk in model.stream("hi"))
    assert text and len(cassette.recorded) == 1
    sent = {k.lower(): v for k, v in sse_server.received[-1].headers.items()}
    assert sent["x-auth-key"] == PLANTED["custom auth header"]  # the real value went out
    stored = path.read_text("utf-8")
    _assert_nowhere("openai-compatible", stored)
    assert "trace-visible-123" in stored
    findings, scanned = scan_paths([path])
    assert scanned == 1 and findings == []

"""Replaying the Claude-on-Bedrock and Claude-on-Vertex fixtures through the anthropic SDK.

Why: the platform models must be tested through the SDK's own platform clients (SigV4
signing, Google bearer auth, the URL each builds from the model id, Bedrock's
event-stream decoder), so the recorded bodies go in at the transport level, as
``tests/_fixtures.py`` does for the SSE wires. Bedrock bodies are AWS event-stream
bytes (``fixtures/anthropic-bedrock/*.eventstream``), which ``tests._fixtures.load``
does not read; :func:`load` here does, and hands back the same ``Fixture``, so the
same ``Replay`` / ``response`` helpers cut them into pieces and reset them mid-body.

``serving(wire, scenario)`` is what other suites use (the cross-vendor one): it routes
the fixture and yields the keyword arguments that point a model at it. Credentials are
fake and assembled at run time, so the sources hold no credential-shaped literal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import respx

from tests import _fixtures as F

BEDROCK = "anthropic-bedrock"
VERTEX = "anthropic-vertex"
WIRES = (BEDROCK, VERTEX)

#: ``streamtap.chat_model`` specs (once the lead registers the two vendors).
SPECS = {
    BEDROCK: "anthropic-bedrock:anthropic.claude-sonnet-4-6-v1:0",
    VERTEX: "anthropic-vertex:claude-sonnet-4-6",
}
MODELS = {wire: spec.partition(":")[2] for wire, spec in SPECS.items()}
CLASS_NAMES = {BEDROCK: "AnthropicBedrockModel", VERTEX: "AnthropicVertexModel"}

AWS_REGION = "us-east-1"
VERTEX_REGION = "us-east5"
PROJECT = "test-project"

URLS = {
    BEDROCK: f"https://bedrock-runtime.{AWS_REGION}.amazonaws.com/model/"
    f"{MODELS[BEDROCK]}/invoke-with-response-stream",
    VERTEX: f"https://{VERTEX_REGION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/"
    f"locations/{VERTEX_REGION}/publishers/anthropic/models/{MODELS[VERTEX]}:streamRawPredict",
}

_TAIL = "Zx81Qw72Er63Ty54"
#: Fake credentials (tests assert the secret parts never show up anywhere).
AWS_ACCESS_KEY_ID = "AKIA" + "STRMTAP" + "TEST00001"[:9]
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI" + "/K7MDENG/" + "bPxRfiCY" + _TAIL
AWS_SESSION_TOKEN = "IQoJb3JpZ2luX2Vj" + "EFAKE" + _TAIL + "/wEaCXVzLWVhc3QtMSJH"
VERTEX_ACCESS_TOKEN = "ya29." + "a0AfB_byFAKE" + _TAIL + "-streamtapTest"

BEDROCK_SUFFIX = ".eventstream"


def kwargs_for(wire: str) -> dict[str, Any]:
    """Model keyword arguments that authenticate with the fake credentials, no retries."""
    if wire == BEDROCK:
        return {
            "aws_region": AWS_REGION,
            "aws_access_key_id": AWS_ACCESS_KEY_ID,
            "aws_secret_access_key": AWS_SECRET_ACCESS_KEY,
            "aws_session_token": AWS_SESSION_TOKEN,
            "max_retries": 0,
        }
    if wire == VERTEX:
        return {
            "project_id": PROJECT,
            "region": VERTEX_REGION,
            "access_token": VERTEX_ACCESS_TOKEN,
            "max_retries": 0,
        }
    raise ValueError(f"unknown platform wire {wire!r}; known: {', '.join(WIRES)}")


def model_class(wire: str) -> type[Any]:
    from streamtap.providers import anthropic

    return getattr(anthropic, CLASS_NAMES[wire])  # type: ignore[no-any-return]


def make_model(wire: str, **kwargs: Any) -> Any:
    """The platform model pointed at the fixtures (constructed directly, not via a spec)."""
    return model_class(wire)(model=MODELS[wire], **{**kwargs_for(wire), **kwargs})


def scenarios(wire: str) -> list[str]:
    folder = F.FIXTURES / wire
    suffixes = (".json", BEDROCK_SUFFIX if wire == BEDROCK else ".sse")
    return sorted({p.stem for p in folder.iterdir() if p.suffix in suffixes})


def load(wire: str, scenario: str) -> F.Fixture:
    """One fixture; for Bedrock, the event-stream body with its content type."""
    if wire != BEDROCK:
        return F.load(wire, scenario)
    folder = F.FIXTURES / wire
    body_path, meta_path = folder / f"{scenario}{BEDROCK_SUFFIX}", folder / f"{scenario}.json"
    if not body_path.exists() and not meta_path.exists():
        raise FileNotFoundError(f"no fixture {wire}/{scenario}")
    meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
    body = body_path.read_bytes() if body_path.exists() else None
    headers = {str(k): str(v) for k, v in meta.get("headers", {}).items()}
    if body is not None:
        headers.setdefault("content-type", "application/vnd.amazon.eventstream")
    return F.Fixture(
        wire=wire,
        scenario=scenario,
        body=body,
        status=int(meta.get("status", 200)),
        headers=headers,
        reset_after=meta.get("reset_after"),
        json_body=meta.get("body"),
    )


def expected(wire: str, scenario: str) -> dict[str, Any]:
    """The logical answer: the Anthropic fixture's own (the events are the same)."""
    shared = "overloaded_midstream" if scenario == "throttling_midstream" else scenario
    return F.expected("anthropic", shared)


def mock(
    router: Any,
    wire: str,
    scenario: str,
    *,
    piece_size: int | None = None,
    cuts: Sequence[int] | None = None,
) -> Any:
    """Route the platform's streaming URL to ``scenario``; the respx route (its
    ``side_effect`` is the :class:`tests._fixtures.Replay`)."""
    replay = F.Replay(load(wire, scenario), piece_size=piece_size, cuts=cuts)
    return router.post(URLS[wire]).mock(side_effect=replay)


@contextlib.contextmanager
def serving(
    wire: str,
    scenario: str,
    *,
    piece_size: int | None = None,
    cuts: Sequence[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Serve ``scenario`` on ``wire``'s URL for the block; yields the model kwargs.

    >>> with serving("anthropic-bedrock", "text") as kw:  # doctest: +SKIP
    ...     streamtap.chat_model(SPECS["anthropic-bedrock"], **kw).invoke("hi")
    """
    with respx.mock(assert_all_called=False) as router:
        mock(router, wire, scenario, piece_size=piece_size, cuts=cuts)
        yield kwargs_for(wire)

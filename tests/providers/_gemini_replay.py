"""Serve ``fixtures/gemini/*`` through respx to streamtap's Gemini models (reusable by any suite).

``with serving("text") as kw: streamtap.chat_model(SPEC, **kw)`` routes the Gemini
streaming endpoint to the fixture (a fresh replay per request, in ``piece_size``
pieces or split at ``cuts``) and gives the model's kwargs (planted key, no SDK
retries, the endpoint's base_url). ``kw.streams`` are the replayed bodies (each
``.closed`` says whether the client released it), ``kw.route`` the respx route
(``kw.route.calls.last.request`` is what the SDK sent). Pass ``router=`` to add
the route to a respx router already active (the ``router`` fixture); otherwise
``serving`` runs its own.

``import httpx`` is httpx2 here (``tests._httpx2_alias``); google-genai talks
through the httpx2 clients streamtap hands it, so respx sees every request.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import respx

from tests import _fixtures as F

WIRE = "gemini"
MODEL = "gemini-2.5-flash"
SPEC = f"gemini:{MODEL}"
VERTEX_SPEC = f"vertex:{MODEL}"
#: Planted key: tests assert it never appears in errors, reprs or logs.
API_KEY = "AIzaSyPLANTEDsecret0123456789abcdefghij"
BASE_URL = "https://generativelanguage.googleapis.com"
#: The endpoint google-genai builds for SPEC (its API version segment is the SDK's choice).
URL = f"{BASE_URL}/v1/models/{MODEL}:streamGenerateContent?alt=sse"
URL_PATTERN = re.compile(
    re.escape(BASE_URL)
    + r"/v1(?:beta)?/models/"
    + re.escape(MODEL)
    + r":streamGenerateContent\?alt=sse$"
)
VERTEX_PROJECT = "synthetic-project"
VERTEX_LOCATION = "us-central1"
VERTEX_BASE_URL = f"https://{VERTEX_LOCATION}-aiplatform.googleapis.com"
VERTEX_PATTERN = re.compile(
    re.escape(VERTEX_BASE_URL)
    + r"/v1(?:beta1)?/projects/"
    + VERTEX_PROJECT
    + "/locations/"
    + VERTEX_LOCATION
    + "/publishers/google/models/"
    + re.escape(MODEL)
    + r":streamGenerateContent\?alt=sse$"
)


class Serving(dict[str, Any]):
    """The model kwargs, plus the route and the replayed streams."""

    route: Any
    replay: F.Replay

    @property
    def streams(self) -> list[F.ReplayStream]:
        return self.replay.streams


def token_credentials(token: str = "ya29.synthetic-access-token") -> Any:
    """google-auth credentials holding a valid token: the SDK sends it, never refreshes."""
    from google.oauth2.credentials import Credentials

    return Credentials(token=token)  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def serving(
    scenario: str,
    *,
    piece_size: int | None = None,
    cuts: Sequence[int] | None = None,
    router: Any = None,
    vertex: bool = False,
) -> Iterator[Serving]:
    """Route the Gemini (or, ``vertex=True``, Vertex AI) endpoint to ``fixtures/gemini/<scenario>``."""
    replay = F.Replay(F.load(WIRE, scenario), piece_size=piece_size, cuts=cuts)
    with contextlib.ExitStack() as stack:
        if router is None:
            router = stack.enter_context(respx.mock(assert_all_called=False))
        pattern = VERTEX_PATTERN if vertex else URL_PATTERN
        route = router.post(url__regex=pattern).mock(side_effect=replay)
        kwargs = Serving(max_retries=0)
        if vertex:
            kwargs.update(
                base_url=VERTEX_BASE_URL,
                project=VERTEX_PROJECT,
                location=VERTEX_LOCATION,
                credentials=token_credentials(),
            )
        else:
            kwargs.update(api_key=API_KEY, base_url=BASE_URL)
        kwargs.route = route
        kwargs.replay = replay
        yield kwargs

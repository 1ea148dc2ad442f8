"""What a model can do: ``model.profile`` and how it continues a partial answer.

Profiles are a snapshot of the ones LangChain's partner packages ship
(models.dev's data plus LangChain's curated augmentations), refreshed by
``make profiles`` (``scripts/refresh_profiles.py``). The same table, not a
look-alike: a user who swaps ``ChatAnthropic`` for a streamtap model keeps
the ``.profile`` that LangChain's agent middleware reads.

Continuation is a fact about the model *and* the wire: the wire says how a
partial answer is handed back (a trailing assistant turn, vLLM's
``continue_final_message``), ``data/continuation.toml`` says which models
refuse it, and a refusal seen at run time is remembered for the process.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import threading
import tomllib
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from langchain_core.language_models.model_profile import ModelProfile

__all__ = [
    "Continuation",
    "aws_profile",
    "forget_refusals",
    "is_continuation_refusal",
    "known_profile",
    "listed_unable",
    "profile_names",
    "refused",
    "remember_refusal",
    "without",
]

#: How a model goes on from text already shown. ``prefill``: a trailing assistant turn
#: is continued; ``continue_final_message``: vLLM's request flag for the same; ``none``.
Continuation = Literal["prefill", "continue_final_message", "none"]

_DATA = resources.files("streamtap.providers") / "data"


@functools.cache
def _profiles(source: str) -> dict[str, dict[str, Any]]:
    path = _DATA / "profiles" / f"{source}.json"
    if not path.is_file():
        return {}
    table: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["profiles"]
    return table


def known_profile(source: str | None, model: str) -> ModelProfile | None:
    """The profile LangChain's integration gives ``model`` (a copy), or None when unknown."""
    if not source:
        return None
    profile = _profiles(source).get(model)
    return dict(profile) if profile else None  # type: ignore[return-value]


def profile_names(source: str) -> frozenset[str]:
    """Every model name the ``source`` table knows."""
    return frozenset(_profiles(source))


#: The cross-region inference prefixes of a Bedrock model id (``us.anthropic.claude-...``).
_AWS_GEO_PREFIXES = frozenset({"eu", "us", "us-gov", "apac", "sa", "amer", "global", "jp", "au"})


def aws_profile(model_id: str) -> ModelProfile | None:
    """langchain-aws's lookup of a Bedrock model id: the id as given, else without its
    cross-region prefix (``apac.anthropic...`` finds ``anthropic...``). Beyond it: an
    inference-profile ARN is looked up by the model id it ends in."""
    if model_id.startswith("arn:"):
        model_id = model_id.rpartition("/")[2]
    profile = known_profile("bedrock", model_id)
    prefix, _, rest = model_id.partition(".")
    if profile is None and rest and prefix.lower() in _AWS_GEO_PREFIXES:
        profile = known_profile("bedrock", rest)
    return profile


def without(profile: ModelProfile | None, *fields: str) -> ModelProfile | None:
    """``profile`` minus the claims the table makes for another API than this client's."""
    if profile is not None:
        for field in fields:
            profile.pop(field, None)  # type: ignore[misc]
    return profile


@functools.cache
def _unable() -> dict[str, tuple[str, ...]]:
    text = (_DATA / "continuation.toml").read_text(encoding="utf-8")
    return {
        source: tuple(facts.get("no_prefill", ())) for source, facts in tomllib.loads(text).items()
    }


def listed_unable(source: str | None, model: str) -> bool:
    """Whether streamtap's data says ``model`` refuses to continue a partial answer."""
    patterns = _unable().get(source or "", ())
    return any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)


# -- refusals learned at run time ------------------------------------------------------------
_refused: set[tuple[str, ...]] = set()
_lock = threading.Lock()

# Anthropic: "This model does not support assistant message prefill"; Bedrock and others
# word it "Prefilling assistant messages is not supported"; servers that do not know vLLM's
# flag name it in their 400.
_REFUSAL = re.compile(r"prefill|continue_final_message", re.IGNORECASE)


def is_continuation_refusal(exc: BaseException) -> bool:
    """A 400 saying the server will not continue a trailing assistant turn."""
    from streamtap.errors import StreamtapError

    return (
        isinstance(exc, StreamtapError)
        and exc.status_code == 400
        and _REFUSAL.search(str(exc)) is not None
    )


def remember_refusal(key: tuple[str, ...]) -> None:
    with _lock:
        _refused.add(key)


def refused(key: tuple[str, ...]) -> bool:
    return key in _refused


def forget_refusals() -> None:
    """Forget every refusal learned so far (tests; a server upgraded in place)."""
    with _lock:
        _refused.clear()

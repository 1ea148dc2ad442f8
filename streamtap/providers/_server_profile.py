"""What an OpenAI-compatible server says about its model: the context size.

vLLM lists ``max_model_len`` per model in ``/v1/models``; llama.cpp lists only
its alias there (with the *training* context in ``meta``) and reports the
context it actually runs with in ``/props``. Hosted OpenAI-compatible APIs
report neither, and get ``None``.
"""

from __future__ import annotations

from typing import Any

import openai

__all__ = ["aread_context_size", "read_context_size"]

_NOT_REPORTED = (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError)


def _from_models(listing: Any, model: str) -> int | None:
    entries = list(getattr(listing, "data", None) or [])
    chosen = [e for e in entries if getattr(e, "id", None) == model] or (
        entries if len(entries) == 1 else []  # llama.cpp serves one model whatever the name
    )
    for entry in chosen:
        size = (getattr(entry, "model_extra", None) or {}).get("max_model_len")
        if isinstance(size, int) and size > 0:
            return size
    return None


def _from_props(props: Any) -> int | None:
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    size = settings.get("n_ctx") if isinstance(settings, dict) else None
    return size if isinstance(size, int) and size > 0 else None


def _props_url(client: Any) -> str:
    base = str(client.base_url).rstrip("/")
    return (base[: -len("/v1")] if base.endswith("/v1") else base) + "/props"


def read_context_size(client: openai.OpenAI, model: str) -> int | None:
    """The server's context size for ``model``, or None when it does not say."""
    try:
        size = _from_models(client.models.list(), model)
    except _NOT_REPORTED:
        size = None
    if size is not None:
        return size
    try:
        return _from_props(client.get(_props_url(client), cast_to=object))
    except _NOT_REPORTED:
        return None


async def aread_context_size(client: openai.AsyncOpenAI, model: str) -> int | None:
    """Async twin of :func:`read_context_size`."""
    try:
        size = _from_models(await client.models.list(), model)
    except _NOT_REPORTED:
        size = None
    if size is not None:
        return size
    try:
        return _from_props(await client.get(_props_url(client), cast_to=object))
    except _NOT_REPORTED:
        return None

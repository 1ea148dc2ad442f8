"""Make ``message.content_blocks`` read streamtap messages correctly.

langchain-core picks a content translator by ``response_metadata["model_provider"]``.
The vendors' translators expect the vendors' native content shapes, while a
streamtap message is already in langchain-core's standard vocabulary (plain
text plus ``reasoning`` / ``non_standard`` blocks). The final chunk therefore
carries a ``content_format`` marker, and the translators of the providers
streamtap reports are wrapped to use langchain-core's own best-effort parsing
for marked messages. Unmarked messages (from langchain-openai, ...) reach the
original translator untouched. The wrapping happens when a stream of that
provider starts (:func:`ensure_translator`), never at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.messages.block_translators import PROVIDER_TRANSLATORS, register_translator

from streamtap.providers._chunks import CONTENT_FORMAT, CONTENT_FORMAT_KEY

_WRAPPED = "__streamtap_wrapped__"


def _standard(message: AIMessage) -> list[Any]:
    metadata = {k: v for k, v in message.response_metadata.items() if k != "model_provider"}
    return message.model_copy(update={"response_metadata": metadata}).content_blocks


def _wrap(original: Callable[..., list[Any]] | None) -> Callable[..., list[Any]]:
    def translate(message: AIMessage) -> list[Any]:
        if message.response_metadata.get(CONTENT_FORMAT_KEY) == CONTENT_FORMAT or original is None:
            return _standard(message)
        return original(message)

    setattr(translate, _WRAPPED, True)
    return translate


_installed: set[str] = set()


def ensure_translator(provider: str) -> None:
    """Wrap ``provider``'s translator before its first streamtap message exists.

    Called per stream (a set lookup after the first), not at import: importing
    streamtap changes nothing in langchain-core.
    """
    if provider and provider not in _installed:
        install([provider])


def install(providers: Iterable[str]) -> None:
    """Wrap (or register) the translators for ``providers``; idempotent."""
    for provider in providers:
        _installed.add(provider)
        current = PROVIDER_TRANSLATORS.get(provider, {})
        content = current.get("translate_content")
        chunk = current.get("translate_content_chunk")
        if content is not None and getattr(content, _WRAPPED, False):
            continue
        register_translator(provider, _wrap(content), _wrap(chunk))


__all__ = ["ensure_translator", "install"]

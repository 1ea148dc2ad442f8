"""Which model a CLI command talks to, and the local server it may need for that.

A ``llamacpp:`` / ``llamacpp-anthropic:`` spec without ``--base-url`` uses the server
``streamtap local start`` left running; when none runs, a server is started for the
length of the command and stopped after it. Any other spec goes to its vendor as is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from langchain_core.language_models import BaseChatModel

    from streamtap.local import LocalServer

__all__ = [
    "DEFAULT_SPEC",
    "LOCAL_VENDORS",
    "OpenedModel",
    "is_local",
    "open_model",
    "open_model_for",
    "run_model_command",
]

DEFAULT_SPEC = "llamacpp:smollm2"
LOCAL_VENDORS = ("llamacpp", "llamacpp-anthropic")


@dataclass(frozen=True, slots=True)
class OpenedModel:
    """A ready chat model, the spec it came from, and a line saying where it runs."""

    model: BaseChatModel
    spec: str
    where: str
    server: LocalServer | None = None
    started: bool = False  # the server was started for this command (and is stopped after)


def is_local(spec: str) -> bool:
    return spec.partition(":")[0] in LOCAL_VENDORS


def _local_model_name(name: str) -> str:
    """What to serve for ``llamacpp:NAME``: a known model or a .gguf path, else SmolLM2.

    The server answers whatever model name a request carries, so a name it does not know
    (``llamacpp:smollm2-135m``) still means "the local model".
    """
    from streamtap.local import MODELS

    return name if name in MODELS or name.endswith(".gguf") else "smollm2"


@contextmanager
def _local_server(name: str) -> Iterator[tuple[LocalServer, bool]]:
    from streamtap import local

    running = local.status()
    if running is not None:
        yield running, False
        return
    with local.serve(_local_model_name(name)) as server:
        yield server, True


@contextmanager
def open_model(
    spec: str | None, *, base_url: str | None = None, **params: Any
) -> Iterator[OpenedModel]:
    """The chat model for ``spec`` (default: the local model); ``None`` params are left out.

    Raises ``streamtap.local.LocalServerError`` (e.g. ``LocalExtraMissingError``) when a
    local server is needed and cannot be started, ``ValueError`` for a malformed spec.
    """
    from streamtap import chat_model

    spec = spec or DEFAULT_SPEC
    kwargs = {key: value for key, value in params.items() if value is not None}
    if base_url is not None or not is_local(spec):
        if base_url is not None:
            kwargs["base_url"] = base_url
        model = chat_model(spec, **kwargs)
        yield OpenedModel(model, spec, _where(model))
        return
    vendor, _, name = spec.partition(":")
    with _local_server(name) as (server, started):
        url = server.anthropic_base_url if vendor == "llamacpp-anthropic" else server.base_url
        model = chat_model(spec, base_url=url, **kwargs)
        how = "started for this command" if started else "the 'streamtap local' server"
        where = f"llama.cpp ({server.alias}) at {url}, {how}, pid {server.pid}"
        yield OpenedModel(model, spec, where, server, started)


def _where(model: Any) -> str:
    base_url = getattr(model, "base_url", None)
    provider = getattr(model, "provider_name", "") or "vendor"
    return f"{provider} at {base_url}" if base_url else f"{provider} API"


def open_model_for(args: argparse.Namespace) -> AbstractContextManager[OpenedModel]:
    """``open_model`` with a command's ``--model``, ``--base-url``, ``--max-tokens``, ``--temperature``."""
    return open_model(
        args.model,
        base_url=args.base_url,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
    )


def run_model_command(command: str, body: Callable[[], int]) -> int:
    """Run a command that talks to a model: its errors and Ctrl-C become a line and a status.

    A vendor or local-server error, or a malformed spec, exits 1 with
    ``streamtap COMMAND: error: ...``; Ctrl-C exits 130.
    """
    from streamtap.errors import StreamtapError
    from streamtap.local import LocalServerError

    try:
        return body()
    except (StreamtapError, LocalServerError, ValueError) as exc:
        print(f"streamtap {command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nstreamtap {command}: interrupted", file=sys.stderr)
        return 130

"""Make ``import httpx`` mean ``httpx2`` so that respx sees the official SDKs.

openai 3.x and anthropic 2.x talk through ``httpx2``; respx patches whatever module
is called ``httpx``. The alias only works if it runs before anything imports
``httpx`` or ``respx`` (respx's own pytest plugin does so at start-up). Nothing
installs it at import time: ``install_httpx_alias()`` is an explicit, idempotent
call, made by the pytest plugin when it loads and by a cassette when it starts;
when it is too late, ``alias_problem()`` explains how to call it earlier.
"""

from __future__ import annotations

import contextlib
import sys

import httpx2

__all__ = ["ALIAS_HELP", "alias_problem", "install_httpx_alias"]

ALIAS_HELP = (
    "streamtap cassettes need `import httpx` to resolve to `httpx2` (the openai and "
    "anthropic SDKs use httpx2, and respx patches whatever module is called httpx), "
    "but the real httpx was imported first, usually by respx's pytest plugin. Fix: load "
    "the streamtap plugin early with `-p streamtap` (pyproject.toml: "
    '[tool.pytest.ini_options] addopts = "-p streamtap"), or disable respx\'s plugin with '
    "`-p no:respx`; outside pytest, call streamtap.testing.install_httpx_alias() before "
    "anything imports httpx or respx."
)


def install_httpx_alias() -> bool:
    """Make ``import httpx`` resolve to ``httpx2`` in this process, if it still can.

    Idempotent and never raises. Returns whether interception can work, that is
    whether ``alias_problem()`` is ``None``: ``False`` when the real ``httpx`` (or
    respx bound to it) was imported first.
    """
    if "httpx" not in sys.modules and "respx" not in sys.modules:
        # RuntimeError: the real httpcore is already loaded; alias_problem() explains.
        with contextlib.suppress(RuntimeError):
            httpx2.alias_httpx()
    return alias_problem() is None


def alias_problem() -> str | None:
    """Why interception cannot work in this process, or ``None`` when it can."""
    if sys.modules.get("httpx") is not httpx2:
        return ALIAS_HELP
    respx_models = sys.modules.get("respx.models")
    if respx_models is not None and getattr(respx_models, "httpx", httpx2) is not httpx2:
        return ALIAS_HELP
    return None

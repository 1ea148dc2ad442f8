"""Make ``import httpx`` mean ``httpx2`` so that respx sees the official SDKs.

openai 3.x and anthropic 2.x talk through ``httpx2``; respx patches whatever module
is called ``httpx``. The alias only works if it runs before anything imports
``httpx`` or ``respx`` (respx's own pytest plugin does so at start-up), so
``streamtap.testing`` installs it on import when it still can and otherwise
explains, at the moment a cassette is used, how to load it early.
"""

from __future__ import annotations

import sys

import httpx2

ALIAS_HELP = (
    "streamtap cassettes need `import httpx` to resolve to `httpx2` (the openai and "
    "anthropic SDKs use httpx2, and respx patches whatever module is called httpx), "
    "but the real httpx was imported first, usually by respx's pytest plugin. Fix: load "
    "the streamtap plugin early with `-p streamtap` (pyproject.toml: "
    '[tool.pytest.ini_options] addopts = "-p streamtap"), or disable respx\'s plugin with '
    "`-p no:respx`; outside pytest, import streamtap.testing before httpx and respx."
)


def ensure_httpx_alias() -> None:
    """Install the alias if nothing has imported ``httpx`` yet; never raise."""
    if "httpx" in sys.modules or "respx" in sys.modules:
        return
    try:
        httpx2.alias_httpx()
    except RuntimeError:  # the real httpcore is already loaded: alias_problem() explains
        return


def alias_problem() -> str | None:
    """Why interception cannot work in this process, or ``None`` when it can."""
    if sys.modules.get("httpx") is not httpx2:
        return ALIAS_HELP
    respx_models = sys.modules.get("respx.models")
    if respx_models is not None and getattr(respx_models, "httpx", httpx2) is not httpx2:
        return ALIAS_HELP
    return None

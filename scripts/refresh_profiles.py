"""Refresh streamtap's model-profile snapshot from LangChain's partner packages (`make profiles`).

Why LangChain's packages and not models.dev directly: a user who swaps
``ChatAnthropic`` for a streamtap model must see the same ``.profile``, and
LangChain's profiles are models.dev's data *plus* curated augmentations
(structured output, tool-call streaming, reasoning effort levels, ...) that
models.dev lacks. The packages regenerate that data on every release with the
``langchain-profiles`` tool; this script copies it: langchain-anthropic and
langchain-openai as locked in ``uv.lock`` (so ``make lock && make profiles``
keeps the two in step, and ``tests/providers/test_profiles.py`` fails when they
drift apart), the other packages at their newest.

The ``_profiles.py`` modules are read with ``ast.literal_eval``: no code of
theirs runs, and no vendor SDK needs importing.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

#: profile source (as streamtap's specs name it) -> LangChain partner package
SOURCES = {
    "anthropic": "langchain_anthropic",
    "openai": "langchain_openai",
    "groq": "langchain_groq",
    "deepseek": "langchain_deepseek",
    "openrouter": "langchain_openrouter",
    "google_genai": "langchain_google_genai",
    "google_vertexai": "langchain_google_vertexai",
    "bedrock": "langchain_aws",
    "mistral": "langchain_mistralai",
    "xai": "langchain_xai",
    "fireworks": "langchain_fireworks",
}
OUT = Path(__file__).resolve().parents[1] / "streamtap" / "providers" / "data" / "profiles"


def read_profiles(package: str) -> dict[str, dict[str, object]]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed: run `make profiles` (it syncs the group)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "_profiles.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "_PROFILES" and node.value is not None:
            value = ast.literal_eval(node.value)
            if not isinstance(value, dict):
                break
            return value
    raise SystemExit(f"{path}: no literal `_PROFILES = {{...}}` found")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for source, package in SOURCES.items():
        profiles = read_profiles(package)
        dist = package.replace("_", "-")
        document = {
            "_source": f"{dist} {importlib.metadata.version(dist)} (models.dev + LangChain's augmentations)",
            "profiles": dict(sorted(profiles.items())),
        }
        path = OUT / f"{source}.json"
        path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        print(
            f"{path.relative_to(OUT.parents[3])}: {len(profiles)} models from {document['_source']}"
        )


if __name__ == "__main__":
    sys.exit(main())

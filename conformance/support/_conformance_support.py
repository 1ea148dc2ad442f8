"""Copied next to LangGraph's tests by conformance/run.py; imported by the rewritten tests."""

from __future__ import annotations

from typing import Any, NoReturn
from unittest import mock


class MissingName:
    """Stands for a public LangGraph name that ``streamtap.graph`` does not have.

    Referencing it (an annotation, ``X[...]``, ``X | None``) is harmless; using it raises the
    ImportError a user porting the test would have met at the import line.
    """

    def __init__(self, module: str, name: str, home: str = "streamtap.graph") -> None:
        object.__setattr__(self, "_where", (module, name, home))

    def _fail(self) -> NoReturn:
        module, name, home = object.__getattribute__(self, "_where")
        raise ImportError(
            f"cannot import name {name!r} from {home!r} "
            f"(ported from {module}: streamtap has no equivalent)"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._fail()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self._fail()

    def __getitem__(self, item: Any) -> MissingName:
        return self

    def __or__(self, other: Any) -> MissingName:
        return self

    __ror__ = __or__

    def __mro_entries__(self, bases: tuple[Any, ...]) -> NoReturn:
        self._fail()

    def __iter__(self) -> NoReturn:
        self._fail()

    def __repr__(self) -> str:
        module, name, home = object.__getattribute__(self, "_where")
        return f"<missing in {home}: {module}.{name}>"


def missing(module: str, name: str, home: str = "streamtap.graph") -> Any:
    return MissingName(module, name, home)


class Mocker:
    """pytest-mock's ``mocker``, the part LangGraph's tests use (pytest-mock is not a
    dependency of streamtap); also importable as ``pytest_mock.MockerFixture``."""

    Mock = mock.Mock
    MagicMock = mock.MagicMock
    AsyncMock = mock.AsyncMock
    ANY = mock.ANY
    call = mock.call

    def __init__(self) -> None:
        self._patches: list[Any] = []

    def patch(self, target: str, *args: Any, **kwargs: Any) -> Any:
        p = mock.patch(target, *args, **kwargs)
        self._patches.append(p)
        return p.start()

    def stopall(self) -> None:
        for p in reversed(self._patches):
            p.stop()
        self._patches.clear()

"""The type parameters of ``StateGraph[State, Context, Input, Output]`` (LangGraph's), so
annotations written for LangGraph (``-> StateGraph[MyState]``) port unchanged."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypeVar

StateT = TypeVar("StateT", default=Any)
ContextT = TypeVar("ContextT", default=Any)
InputT = TypeVar("InputT", default=StateT)
OutputT = TypeVar("OutputT", default=StateT)

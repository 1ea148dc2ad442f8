"""A compiled graph's ``input_schema`` / ``output_schema`` models and its context's JSON
schema, as LangGraph's ``Pregel`` builds them.

The input model wraps the input schema (a pydantic input schema is its own
model); the output model has one optional field per output key, typed as the
key is declared, or wraps the value of a bare-value state.
"""

from __future__ import annotations

from dataclasses import is_dataclass
from inspect import isclass
from typing import Any, NotRequired, Required, get_args, get_origin

from langchain_core.utils.pydantic import create_model_v2
from pydantic import BaseModel, TypeAdapter
from typing_extensions import is_typeddict

from streamtap.graph._schema import ROOT_KEYS

__all__ = ["context_jsonschema", "input_model", "output_model"]


def input_model(name: str, input_schema: Any) -> type[BaseModel]:
    """Runnable's rule for ``InputType`` = the input schema (LangGraph's ``START`` channel)."""
    if isclass(input_schema) and issubclass(input_schema, BaseModel):
        return input_schema
    return create_model_v2(name, root=input_schema)


def _declared(hint: Any) -> Any:
    """A key's channel type: its annotation without ``Required`` / ``NotRequired``."""
    if get_origin(hint) in (Required, NotRequired):
        return get_args(hint)[0]
    return hint


def output_model(name: str, keys: tuple[str, ...], schemas: dict[Any, dict[str, Any]]) -> Any:
    """LangGraph's ``get_output_schema``: a model of the output keys, each ``None`` by default,
    or (a bare-value state) a root model of its value."""
    declared: dict[str, Any] = {}
    for hints in schemas.values():  # a key's channel is made from its first declaration
        for key, hint in hints.items():
            declared.setdefault(key, _declared(hint))
    if keys == ROOT_KEYS:
        return create_model_v2(name, root=declared[keys[0]])
    return create_model_v2(name, field_definitions={k: (declared[k], None) for k in keys})


def context_jsonschema(context_schema: Any) -> dict[str, Any] | None:
    """LangGraph's ``get_context_jsonschema``: ``None`` without a context schema."""
    if context_schema is None:
        return None
    if isclass(context_schema) and issubclass(context_schema, BaseModel):
        return context_schema.model_json_schema()
    if is_typeddict(context_schema) or is_dataclass(context_schema):
        return TypeAdapter(context_schema).json_schema()
    raise ValueError(
        f"Invalid context schema type: {context_schema}. Must be a BaseModel, TypedDict or "
        "dataclass."
    )

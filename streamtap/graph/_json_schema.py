"""``get_input_jsonschema`` / ``get_output_jsonschema``: a graph's schemas as LangGraph
describes them (``graph/state.py``'s ``_get_json_schema``).

A pydantic model describes itself and a TypedDict goes through pydantic's
``TypeAdapter``; any other schema (a dataclass) becomes a model named after the
graph (``LangGraphInput``), one field per state key, typed by what its channel
accepts and defaulted by LangGraph's rule (``get_field_default``).
"""

from __future__ import annotations

import dataclasses
import types
from typing import Annotated, Any, NotRequired, Required, Union, get_origin

from langchain_core.utils.pydantic import create_model_v2
from pydantic import BaseModel, TypeAdapter
from typing_extensions import is_typeddict

from streamtap.graph._channels import schema_keys
from streamtap.graph._constants import ROOT

__all__ = ["json_schema"]


def _reducer_stripped(hint: Any) -> Any:
    """What a key's channel accepts: the annotation, minus ``Annotated`` when a reducer
    sits in it (LangGraph's ``BinaryOperatorAggregate`` strips it, ``LastValue`` keeps it)."""
    if get_origin(hint) is Annotated and callable(hint.__metadata__[-1]):
        return hint.__origin__
    return hint


def _is_optional(hint: Any) -> bool:
    if isinstance(hint, types.UnionType):
        return any(a is type(None) or _is_optional(a) for a in hint.__args__)
    if hasattr(hint, "__origin__") and hasattr(hint, "__args__"):
        origin = get_origin(hint)
        if origin is Union:
            return any(a is type(None) or _is_optional(a) for a in hint.__args__)
        if origin is Annotated:
            return _is_optional(hint.__args__[0])
        return origin is None
    if getattr(hint, "__bound__", None) is not None:
        return _is_optional(hint.__bound__)
    return hint is None


def _is_required(hint: Any) -> bool | None:
    origin = get_origin(hint)
    if origin is Required:
        return True
    if origin is NotRequired:
        return False
    if origin is Annotated or getattr(origin, "__args__", None):
        return _is_required(hint.__args__[0])
    return None


def _field_default(name: str, hint: Any, schema: type[Any]) -> Any:
    """LangGraph's ``get_field_default``: ``...`` for a required field, else its default."""
    required = _is_required(hint)
    if name in getattr(schema, "__optional_keys__", frozenset()):
        return ... if required else None
    if required is not None:
        return ... if required else None
    if dataclasses.is_dataclass(schema):
        for f in dataclasses.fields(schema):
            if f.name != name:
                continue
            if f.default is not dataclasses.MISSING and f.default is not ...:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None if _is_optional(hint) else ...


def _channel_type(key: str, schemas: dict[Any, dict[str, Any]]) -> Any:
    """What ``key``'s channel accepts (LangGraph's ``UpdateType``): the first declaration
    of ``key`` made the channel."""
    for hints in schemas.values():
        if key in hints:
            return _reducer_stripped(hints[key])
    return Any


def json_schema(builder: Any, schema: Any, name: str) -> dict[str, Any]:
    """The JSON schema LangGraph gives for ``schema``, one of ``builder``'s schemas
    (``name``: the graph's, suffixed)."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if is_typeddict(schema):
        return TypeAdapter(schema).json_schema()
    schemas: dict[Any, dict[str, Any]] = getattr(builder, "schemas", None) or {
        builder.state_schema: schema_keys(builder.state_schema),
        schema: schema_keys(schema),
    }
    keys = list(schemas[schema])
    if keys == [ROOT]:
        root = _channel_type(ROOT, schemas)
        return create_model_v2(name, root=(root, None)).model_json_schema()
    fields = {}
    for key in keys:
        accepted = _channel_type(key, schemas)
        fields[key] = (accepted, _field_default(key, accepted, schema))
    return create_model_v2(name, field_definitions=fields).model_json_schema()

"""``interrupt(response_schema=...)``: what a resume answer is checked against.

Kept out of ``_runtime`` so that pydantic's ``TypeAdapter`` is only built by a node
that asks for a schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from streamtap.graph.errors import mark_invalid_resume

__all__ = ["resume_adapter", "validate_resume"]


def resume_adapter(schema: dict[str, Any] | type | None) -> TypeAdapter[Any] | None:
    """The validator of a typed schema; None for no schema or a JSON schema dict
    (LangGraph passes a dict on to clients without validating answers against it)."""
    if schema is None or isinstance(schema, dict):
        return None
    return TypeAdapter(schema)


def validate_resume(adapter: TypeAdapter[Any] | None, value: Any) -> Any:
    """``value`` as the schema's type; a mismatch raises a ValidationError marked as an
    invalid resume (``is_invalid_resume``), not a failure of the node's own code."""
    if adapter is None:
        return value
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        mark_invalid_resume(exc)
        raise

"""Methods of LangGraph's ``Pregel`` that a compiled graph keeps for code written against it.

``config_schema()`` / ``get_config_jsonschema()`` are deprecated there: a graph's run
parameters are its ``context_schema`` now (``get_context_jsonschema``). They still answer,
LangGraph's way: a model named ``<graph>Config`` whose ``configurable`` field is the
context schema, plus the ``RunnableConfig`` keys asked for.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_type_hints

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, create_model

from streamtap.graph._deprecations import warn_deprecated
from streamtap.graph.warnings import LangGraphDeprecatedSinceV10

__all__ = ["PregelCompat"]


class PregelCompat:
    """Mixed into ``CompiledStateGraph`` ahead of ``Runnable``, whose methods these replace."""

    context_schema: type[Any] | None

    if TYPE_CHECKING:  # Runnable's, which comes after this class in the MRO

        def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str: ...

    def config_schema(self, *, include: Sequence[str] | None = None) -> type[BaseModel]:
        warn_deprecated(
            "`config_schema` is deprecated. Use `get_context_jsonschema` for the relevant "
            "schema instead.",
            "1.0",
        )
        wanted = [i for i in include or () if i != "configurable"]
        fields: dict[str, Any] = {}
        if self.context_schema:
            fields["configurable"] = (self.context_schema, None)
        for name, typ in get_type_hints(RunnableConfig).items():
            if name in wanted:
                fields[name] = (typ, None)
        return create_model(self.get_name("Config"), **fields)

    def get_config_jsonschema(self, *, include: Sequence[str] | None = None) -> dict[str, Any]:
        warn_deprecated(
            "`get_config_jsonschema` is deprecated. Use `get_context_jsonschema` instead.", "1.0"
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=LangGraphDeprecatedSinceV10)
            schema = self.config_schema(include=include)
        return schema.model_json_schema()

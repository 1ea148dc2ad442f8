"""Request bodies, validated the way LangGraph Platform's API validates them.

Field names and defaults follow the Platform's run-create schema, which the
official SDK sends verbatim (it always includes ``stream_subgraphs`` and
``stream_resumable``). Unknown optional fields are ignored so newer clients keep
working; wrong types or values produce a 422 that names the field and never
echoes the submitted value (it may hold a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from streamtap.server._lifecycle import available as lifecycle_available

__all__ = [
    "STREAM_MODES",
    "CommandSpec",
    "RunRequest",
    "ThreadCreate",
    "ThreadSearch",
    "check_config",
    "validation_details",
]

STREAM_MODES = (
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "tools",
    "events",
    "lifecycle",
)
"""Modes this server streams (``lifecycle`` needs the ``langgraph`` package: ``_lifecycle``)."""


def check_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A ``config`` as the Platform's schema has it (runs' and assistants' alike)."""
    if value is None:
        return None
    if not isinstance(value.get("configurable", {}), Mapping):
        raise ValueError("config.configurable must be an object")
    limit = value.get("recursion_limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError("config.recursion_limit must be a positive integer")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SendSpec(_Body):
    node: str
    input: Any = None


class CommandSpec(_Body):
    """``{"resume": ..., "update": ..., "goto": ...}`` as the SDK's ``Command`` dict."""

    update: Any = None
    resume: Any = None
    goto: str | SendSpec | list[str | SendSpec] | None = None


class RunRequest(_Body):
    assistant_id: str = Field(min_length=1)
    input: Any = None
    command: CommandSpec | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    on_disconnect: Literal["cancel", "continue"] = "cancel"
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    #: started by the Agent Streaming Protocol (``run.start``): its events go to the
    #: thread's protocol log (``_proto_log``), not to a run stream; never from a body
    _protocol: bool = PrivateAttr(default=False)

    @field_validator("stream_mode")
    @classmethod
    def _known_modes(cls, value: str | list[str]) -> str | list[str]:
        modes = [value] if isinstance(value, str) else value
        if not modes:
            raise ValueError("give at least one stream mode")
        unknown = [i for i, m in enumerate(modes) if m not in STREAM_MODES]
        if unknown:
            where = "the mode" if isinstance(value, str) else f"item(s) {unknown}"
            raise ValueError(
                f"{where} is not a supported stream mode; this server streams {list(STREAM_MODES)}"
            )
        if "lifecycle" in modes and not lifecycle_available():
            raise ValueError(
                "the lifecycle mode needs the langgraph package (>= 1.2) installed on the server"
            )
        return value

    @field_validator("config")
    @classmethod
    def _config_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_config(value)

    @model_validator(mode="after")
    def _input_or_command(self) -> RunRequest:
        if self.input is not None and self.command is not None:
            raise ValueError("give either input or command, not both")
        return self

    @property
    def modes(self) -> list[str]:
        """The requested modes as a de-duplicated list, in request order."""
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return list(dict.fromkeys(modes))


class ThreadCreate(_Body):
    thread_id: str | None = Field(default=None, min_length=1)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(_Body):
    metadata: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class HistoryQuery(_Body):
    """``POST /threads/{id}/history`` (the SDKs' ``get_history``); ``select`` is accepted
    and every field returned, as the Platform does without a value projection."""

    limit: int = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    select: list[str] | None = None

    @property
    def before_id(self) -> str | None:
        """The checkpoint id the states must precede (a ``Checkpoint`` or its id)."""
        if isinstance(self.before, dict):
            value = self.before.get("checkpoint_id")
            return value if isinstance(value, str) else None
        return self.before


def validation_details(exc: ValidationError) -> dict[str, Any]:
    """A 422 body naming each bad field, without the submitted values."""
    errors = [
        {
            "loc": [str(p) for p in err["loc"]],
            "msg": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    fields = sorted({".".join(e["loc"]) or "body" for e in errors})
    first = errors[0] if errors else {"msg": "invalid body", "loc": []}
    where = ".".join(first["loc"]) or "body"
    return {
        "detail": f"Invalid request: {where}: {first['msg']}",
        "fields": fields,
        "errors": errors,
    }

"""Config merging with LangGraph's rules (langchain-core's sorts tags and replaces
``configurable`` wholesale, which would reorder ``tags`` metadata and drop the
running task from a subgraph's config)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from langchain_core.callbacks import BaseCallbackManager, Callbacks
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import CONFIG_KEYS, COPIABLE_KEYS, var_child_runnable_config

from streamtap.graph._constants import CONF, PROPAGATE_TO_METADATA

_COORDINATES = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def _merge_metadata(
    base: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> dict[str, Any]:
    merged = dict(base or {})
    for key, value in (new or {}).items():
        if (
            key == "lc_versions"
            and isinstance(merged.get(key), Mapping)
            and isinstance(value, Mapping)
        ):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _merge_callbacks(base: Callbacks, new: Callbacks) -> Callbacks:
    if new is None:
        return base
    if base is None:
        return new.copy() if isinstance(new, list | BaseCallbackManager) else new
    if isinstance(new, list):
        if isinstance(base, list):
            return base + new
        mngr = base.copy()
        for cb in new:
            mngr.add_handler(cb, inherit=True)
        return mngr
    if isinstance(base, list):
        mngr = new.copy()
        for cb in base:
            mngr.add_handler(cb, inherit=True)
        return mngr
    return base.merge(new)


def _nonempty(value: Any) -> bool:
    if isinstance(value, list | tuple | dict):
        return len(value) > 0
    return value is not None


def merge_configs(*configs: RunnableConfig | None) -> RunnableConfig:
    base: dict[str, Any] = {}
    for config in configs:
        if not config:
            continue
        for key, value in cast(dict[str, Any], config).items():
            if not value:
                continue
            if key == "metadata":
                base[key] = _merge_metadata(base.get(key), value)  # type: ignore[arg-type]
            elif key == "tags":
                base[key] = [*base[key], *value] if base.get(key) else value  # type: ignore[misc]
            elif key == CONF:
                base[key] = {**base[key], **value} if base.get(key) else value  # type: ignore[dict-item]
            elif key == "callbacks":
                base[key] = _merge_callbacks(base.get(key), value)  # type: ignore[arg-type]
            else:
                base[key] = value
    base.setdefault(CONF, {})
    return cast(RunnableConfig, base)


def ensure_config(*configs: RunnableConfig | None) -> RunnableConfig:
    """The run's config: the ambient one (when called inside a node) merged with ``configs``.

    An explicit config that names its own thread/checkpoint starts a fresh
    ``configurable`` instead of inheriting the calling node's.
    """
    empty: dict[str, Any] = {
        "tags": [],
        "metadata": {},
        "callbacks": None,
        "recursion_limit": 25,
        CONF: {},
    }
    inherited_tags: set[str] = set()
    if ambient := var_child_runnable_config.get():
        empty.update(
            {
                k: v.copy() if k in COPIABLE_KEYS else v
                for k, v in cast(dict[str, Any], ambient).items()
                if _nonempty(v)
            }
        )
        inherited_tags.update(empty["tags"])
    if empty.get(CONF):
        for config in configs:
            explicit = (config or {}).get(CONF)
            if explicit and any(_nonempty(explicit.get(k)) for k in _COORDINATES):
                empty[CONF] = {}
                break
    for config in configs:
        if config is None:
            continue
        for k, v in cast(dict[str, Any], config).items():
            if not _nonempty(v):
                continue
            if k not in CONFIG_KEYS:
                empty[CONF][k] = v
            elif k == CONF:
                empty[k] = {**empty[k], **v} if empty.get(k) else dict(v)
            elif k == "callbacks":
                empty[k] = _merge_callbacks(empty.get(k), v)
            elif k == "metadata":
                empty[k] = _merge_metadata(empty.get(k), v)
            elif k == "tags":
                new_tags = [t for t in v if t not in inherited_tags]
                empty[k] = [*empty[k], *new_tags] if empty.get(k) else new_tags
            else:
                empty[k] = v
    configurable, metadata = empty[CONF], empty["metadata"]
    if configurable:
        for key in PROPAGATE_TO_METADATA:
            if key not in metadata and (value := configurable.get(key)):
                metadata[key] = value
    return cast(RunnableConfig, empty)


def patch_config(
    config: RunnableConfig | None,
    *,
    callbacks: Callbacks = None,
    run_name: str | None = None,
) -> RunnableConfig:
    """A copy of ``config`` with new callbacks / run name, as LangGraph patches a task's config.

    langchain-core's ``patch_config`` runs its ``ensure_config`` first, which (since
    langchain-core 1.8) copies ``configurable["checkpoint_ns"]`` into the metadata; LangGraph's
    own patch does not, so a node's ``config["metadata"]`` has no ``checkpoint_ns`` there.
    Replacing the callbacks drops ``run_name`` / ``run_id``: they named the previous run.
    """
    patched: dict[str, Any] = dict(config) if config is not None else {}
    if callbacks is not None:
        patched["callbacks"] = callbacks
        patched.pop("run_name", None)
        patched.pop("run_id", None)
    if run_name is not None:
        patched["run_name"] = run_name
    return cast(RunnableConfig, patched)

"""Checkpoints are data, never code: the serializer every saver gets from ``streamtap.graph``.

LangGraph's ``JsonPlusSerializer`` stores each object that is not plain msgpack
as ``(module, name, args)`` and, on load, imports ``module`` and calls ``name``
with ``args``. In langgraph-checkpoint 4.3.2 that still happens for *any* name
unless ``LANGGRAPH_STRICT_MSGPACK=true`` is set (a payload naming ``os.system``
runs with only a log warning), and its strict mode logs and hands back the raw
arguments instead of failing. Whoever can write a checkpoint row could then
run code in every process that loads it. So loading here is refused, with a
typed error and before anything named by the payload is imported, unless the
type is on an allow-list:

- the types ``JsonPlusSerializer`` itself treats as safe (``SAFE_MSGPACK_TYPES``:
  datetime and friends, UUID, Decimal, set/frozenset/deque, paths, IP addresses,
  ``re`` patterns, langchain-core messages and documents, LangGraph's own
  ``Send``/``Interrupt``/``Command``/...; those three come back as streamtap.graph's
  twins unless LangGraph's runtime is already loaded, which loading never imports);
- streamtap.graph's own value types (:data:`STREAMTAP_TYPES`);
- the classes named in the graph's state / input / output / context schemas
  (:func:`types_in_schemas`), which the engine passes to :func:`harden`;
- whatever the user allows explicitly (``allow=``).

Pickled values (``"pickle"`` tag) are never unpickled: unpickling is code
execution by design. Bytes written stay exactly LangGraph's, so threads move
between LangGraph and ``streamtap.graph`` on one store.

Opting out: ``compile(checkpointer=saver, trust_checkpoints=True)`` leaves the
saver's serializer as the user configured it, for stores trusted like the
application's own code.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from inspect import isclass
from typing import Any, Final, TypeVar

import ormsgpack
from langchain_core.load.load import (
    ALL_SERIALIZABLE_MAPPINGS,
    DISALLOW_LOAD_FROM_PATH,
    default_init_validator,
)
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import (
    EXT_CONSTRUCTOR_KW_ARGS,
    EXT_CONSTRUCTOR_POS_ARGS,
    EXT_CONSTRUCTOR_SINGLE_ARG,
    EXT_DELTA_SNAPSHOT,
    EXT_METHOD_SINGLE_ARG,
    EXT_NUMPY_ARRAY,
    EXT_PYDANTIC_V1,
    EXT_PYDANTIC_V2,
    JsonPlusSerializer,
)
from langgraph.checkpoint.serde.types import _DeltaSnapshot

from streamtap.graph.checkpoint._schema_types import types_in_schemas

__all__ = [
    "DEFAULT_ALLOWED",
    "STREAMTAP_TYPES",
    "StrictSerializer",
    "UnsafeCheckpointError",
    "harden",
    "is_hardened",
    "types_in_schemas",
]

logger = logging.getLogger(__name__)

TypeKey = tuple[str, str]
Allowable = type | tuple[str, str]

#: streamtap.graph's value types, by name like every default entry: the
#: checkpoint package then imports nothing of the engine that imports it (no
#: cycle); a test keeps the names in step with ``streamtap.graph.types``.
STREAMTAP_TYPES: Final[frozenset[TypeKey]] = frozenset(
    ("streamtap.graph.types", name)
    for name in (
        "Command",
        "GraphOutput",
        "Interrupt",
        "Overwrite",
        "PregelTask",
        "Send",
        "StateSnapshot",
    )
)

#: What every StrictSerializer revives without being told: LangGraph's own safe
#: list (reused so the two never drift apart) plus streamtap.graph's types.
DEFAULT_ALLOWED: Final[frozenset[TypeKey]] = frozenset(
    {(k[0], k[1]) for k in SAFE_MSGPACK_TYPES if len(k) == 2} | STREAMTAP_TYPES
)

#: LangGraph's types that checkpoints carry (``streamtap.graph`` itself stores its pending
#: ``Send``s and interrupts under these names, so LangGraph can read them) and that have a
#: field-for-field twin in ``streamtap.graph.types``.
_LANGGRAPH_TWINS: Final = frozenset(
    ("langgraph.types", n) for n in ("Command", "Interrupt", "Overwrite", "Send")
)
_NUMPY_ARRAY: Final[TypeKey] = ("numpy", "ndarray")
_UNPACK_OPTION: Final = ormsgpack.OPT_NON_STR_KEYS


class UnsafeCheckpointError(ValueError):
    """A stored value names a type or format that loading it would have to trust.

    Raised instead of reviving it, so a tampered (or merely foreign) store
    fails loudly rather than running code or quietly yielding raw arguments.
    ``type_name`` (``"os.system"``) or ``format`` (``"pickle"``) says what was refused.
    """

    def __init__(
        self, message: str, *, type_name: str | None = None, format: str | None = None
    ) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.format = format


_OPT_OUT = (
    "if this store is as trusted as your own code, opt out with "
    "compile(..., checkpointer=saver, trust_checkpoints=True)"
)


def _refused_type(module: str, name: str) -> UnsafeCheckpointError:
    dotted = f"{module}.{name}"
    return UnsafeCheckpointError(
        f"Refused to revive {dotted} from a checkpoint: it is not on the allow-list of "
        "types a checkpoint may revive, and reviving means importing and calling what the "
        f"stored bytes name. If {dotted} belongs in your graph's state, name it in the state/"
        "input/output/context schema or allow it explicitly with allow=[...] "
        f"(harden(saver, allow=...), StrictSerializer(allow=...)); or, {_OPT_OUT}.",
        type_name=dotted,
    )


def _refused_format(fmt: str) -> UnsafeCheckpointError:
    if fmt == "pickle":
        why = "unpickling runs whatever code the stored bytes name, so it is never done"
    else:
        why = (
            "the strict serializer reads only LangGraph's msgpack/json formats "
            "(an encrypted store needs its EncryptedSerializer on the saver)"
        )
    return UnsafeCheckpointError(
        f"Refused to load a value stored as {fmt!r} from a checkpoint: {why}. "
        f"Re-save it in the default (msgpack) format; or, {_OPT_OUT}.",
        format=fmt,
    )


def _refused(what: str) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        f"Refused to load {what} from a checkpoint: the strict serializer cannot revive it "
        f"safely; {_OPT_OUT}."
    )


def _key_of(entry: Allowable) -> TypeKey:
    if isinstance(entry, type):
        return (entry.__module__, entry.__name__)
    if (
        isinstance(entry, tuple)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], str)
    ):
        return (entry[0], entry[1])
    raise TypeError(f"allow= takes classes or (module, name) pairs, not {entry!r}")


class _Load:
    """One load: the allow-list, and the first refusal.

    ormsgpack turns an ext hook's exception into a bare ``ValueError("ext_hook
    failed")``; keeping the refusal here lets ``loads_typed`` raise it as itself.
    """

    __slots__ = ("allowed", "refusal")

    def __init__(self, allowed: Mapping[TypeKey, type | None]) -> None:
        self.allowed = allowed
        self.refusal: UnsafeCheckpointError | None = None

    def refuse(self, err: UnsafeCheckpointError) -> UnsafeCheckpointError:
        if self.refusal is None:
            self.refusal = err
        return err

    def resolve(self, module: Any, name: Any) -> Any:
        """The allowed class (or function) ``module.name``; compared by name before any import."""
        if not isinstance(module, str) or not isinstance(name, str):
            raise self.refuse(_refused(f"a malformed type reference ({module!r}, {name!r})"))
        key = (module, name)
        if key not in self.allowed:
            raise self.refuse(_refused_type(module, name))
        held = self.allowed[key]
        if held is not None:
            return held
        if key in _LANGGRAPH_TWINS and module not in sys.modules:
            return _streamtap_twin(name)
        return getattr(importlib.import_module(module), name)

    def unpack(self, data: bytes) -> Any:
        return ormsgpack.unpackb(data, ext_hook=self.ext_hook, option=_UNPACK_OPTION)

    def ext_hook(self, code: int, data: bytes) -> Any:
        if code == EXT_DELTA_SNAPSHOT:
            return _DeltaSnapshot(self.unpack(data))
        tup = self.unpack(data)
        if not isinstance(tup, (list, tuple)) or len(tup) < 3:
            raise self.refuse(_refused(f"a malformed msgpack extension (code {code})"))
        if code == EXT_NUMPY_ARRAY:
            return self._numpy(tup)
        if code == EXT_METHOD_SINGLE_ARG:
            method = tup[3] if len(tup) > 3 else None
            call = (tup[0], tup[1], method)
            if not all(isinstance(part, str) for part in call) or call not in SAFE_MSGPACK_METHODS:
                raise self.refuse(_refused(f"a call of {tup[0]}.{tup[1]}.{method}"))
            name = str(method)
            return _construct(tup, lambda: getattr(self.resolve(tup[0], tup[1]), name)(tup[2]))
        build = _CONSTRUCTORS.get(code)
        if build is None:
            raise self.refuse(_refused(f"an unknown msgpack extension (code {code})"))
        target = self.resolve(tup[0], tup[1])
        if code == EXT_CONSTRUCTOR_POS_ARGS and (tup[0], tup[1]) == ("langgraph.types", "Send"):
            build = _langgraph_send  # its timeout is keyword-only
        return _construct(tup, lambda: build(target, tup[2]))

    def _numpy(self, tup: Any) -> Any:
        if _NUMPY_ARRAY not in self.allowed:
            raise self.refuse(_refused_type(*_NUMPY_ARRAY))
        import numpy as np

        dtype_str, shape, order, buf = tup
        return np.frombuffer(buf, dtype=np.dtype(dtype_str)).reshape(shape, order=order)


def _pydantic(fallback: str) -> Callable[[Any, Any], Any]:
    def build(cls: Any, kwargs: Any) -> Any:
        try:
            return cls(**kwargs)
        except Exception:
            return getattr(cls, fallback)(**kwargs)

    return build


def _streamtap_twin(name: str) -> Any:
    """streamtap's own class for a LangGraph type, when LangGraph's runtime is not loaded.

    Importing ``langgraph.types`` would load LangGraph's runtime, which ``streamtap.graph``
    does not need (and may not have installed); a process that runs LangGraph graphs
    has it loaded already and gets LangGraph's classes, as from LangGraph's serializer.
    """
    from streamtap.graph.types import Command, Interrupt, Overwrite, Send

    twins: dict[str, type] = {
        "Command": Command,
        "Interrupt": Interrupt,
        "Overwrite": Overwrite,
        "Send": Send,
    }
    return twins[name]


def _langgraph_send(cls: Any, args: Any) -> Any:
    if len(args) == 2:
        return cls(*args)
    if cls.__module__ != "langgraph.types":  # the twin has no timeout: LangGraph's own Send
        cls = importlib.import_module("langgraph.types").Send
    return cls(args[0], args[1], timeout=args[2])


_CONSTRUCTORS: Final[dict[int, Callable[[Any, Any], Any]]] = {
    EXT_CONSTRUCTOR_SINGLE_ARG: lambda cls, arg: cls(arg),
    EXT_CONSTRUCTOR_POS_ARGS: lambda cls, args: cls(*args),
    EXT_CONSTRUCTOR_KW_ARGS: lambda cls, kwargs: cls(**kwargs),
    EXT_PYDANTIC_V1: _pydantic("construct"),
    EXT_PYDANTIC_V2: _pydantic("model_construct"),
}


def _construct(tup: Any, build: Callable[[], Any]) -> Any:
    """Build an allowed value; if it no longer fits its class, keep its data, as LangGraph does."""
    try:
        return build()
    except UnsafeCheckpointError:
        raise
    except Exception as exc:
        logger.warning(
            "Could not reconstruct %s.%s from checkpoint (%s); returning its serialized data.",
            tup[0],
            tup[1],
            type(exc).__name__,
        )
        return tup[2]


class StrictSerializer(JsonPlusSerializer):
    """``JsonPlusSerializer``'s format, loaded through an allow-list that fails closed.

    A subclass rather than a wrapper so that LangGraph's own plumbing
    (``BaseCheckpointSaver.with_allowlist``, ``EncryptedSerializer``) keeps
    recognising it and extends its allow-list instead of dropping it.
    """

    def __init__(self, allow: Iterable[Allowable] = ()) -> None:
        super().__init__(pickle_fallback=False, allowed_msgpack_modules=None)
        allowed: dict[TypeKey, type | None] = dict.fromkeys(DEFAULT_ALLOWED)
        for entry in allow:
            key = _key_of(entry)
            # a class given as an object is used as is: nothing is imported, and
            # classes defined inside functions (no importable name) still revive
            if isinstance(entry, type):
                allowed[key] = entry
            else:
                allowed.setdefault(key, None)
        self._allowed: Mapping[TypeKey, type | None] = allowed  # never mutated

    @property
    def allowed(self) -> frozenset[TypeKey]:
        """The ``(module, name)`` pairs this serializer revives."""
        return frozenset(self._allowed)

    def allowing(self, *extra: Allowable) -> StrictSerializer:
        """This serializer with more types allowed (itself when nothing is new, so idempotent)."""
        new = [e for e in extra if _is_new(self._allowed, e)]
        if not new:
            return self
        kept: list[Allowable] = [
            cls if cls is not None else key
            for key, cls in self._allowed.items()
            if cls is not None or key not in DEFAULT_ALLOWED
        ]
        return StrictSerializer([*kept, *new])

    def with_msgpack_allowlist(
        self, extra_allowlist: Iterable[tuple[str, ...] | type]
    ) -> StrictSerializer:
        # LangGraph's compile() extends the allow-list through here; the
        # inherited version would copy this object and lose the extension.
        return self.allowing(
            *(
                e if isinstance(e, type) else (e[0], e[1])
                for e in extra_allowlist
                if isinstance(e, type) or len(e) == 2
            )
        )

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, payload = data
        if type_ == "msgpack":
            load = _Load(self._allowed)
            try:
                return load.unpack(payload)
            except Exception:
                if load.refusal is not None:
                    raise load.refusal from None
                raise
        if type_ == "json":
            return json.loads(payload, object_hook=_JsonReviver(self._allowed))
        if type_ in ("null", "bytes", "bytearray"):
            return super().loads_typed(data)
        raise _refused_format(type_)

    def __repr__(self) -> str:
        extra = sorted(f"{m}.{n}" for m, n in self.allowed - DEFAULT_ALLOWED)
        return f"StrictSerializer(allow={extra})"


def _is_new(allowed: Mapping[TypeKey, type | None], entry: Allowable) -> bool:
    key = _key_of(entry)
    if key not in allowed:
        return True
    return isinstance(entry, type) and allowed[key] is not entry


class _JsonReviver:
    """The ``"json"`` format (checkpoints from before LangGraph's msgpack), same allow-list.

    It has two constructor envelopes: LangGraph's ``lc: 2`` (``id`` is the
    module path plus the name) and langchain-core's ``lc: 1`` (``id`` maps to an
    import path through langchain-core's tables). ``lc: 1`` secrets are refused
    too: reviving one reads the process environment into state. Both pass
    langchain-core's init validator (it refuses jinja2 templates, which run code).
    """

    __slots__ = ("load",)

    def __init__(self, allowed: Mapping[TypeKey, type | None]) -> None:
        self.load = _Load(allowed)

    def __call__(self, value: dict[str, Any]) -> Any:
        lc, kind, ids = value.get("lc"), value.get("type"), value.get("id")
        if lc not in (1, 2) or ids is None:
            return value
        if lc == 1 and kind == "secret":
            raise _refused(f"a secret read from the environment ({ids!r})")
        if kind != "constructor":
            return value
        if not isinstance(ids, list) or len(ids) < 2 or not all(isinstance(i, str) for i in ids):
            raise _refused(f"a malformed constructor id {ids!r}")
        path = tuple(ids)
        if lc == 1:
            mapped = ALL_SERIALIZABLE_MAPPINGS.get(path)
            if mapped is None and ids[0] in DISALLOW_LOAD_FROM_PATH:
                raise _refused_type(".".join(ids[:-1]), ids[-1])
            path = tuple(mapped or path)
        dotted = ".".join(path)
        target = self.load.resolve(".".join(path[:-1]), path[-1])
        args = value.get("args") or []
        kwargs = value.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise _refused(f"a malformed constructor of {dotted}")
        try:
            default_init_validator(tuple(ids), kwargs)
        except ValueError as exc:  # a jinja2 template: rendering it runs code
            raise _refused(f"{dotted} with {exc}") from exc
        if isclass(target) and issubclass(target, BaseException):
            return None
        try:
            return target(*args, **kwargs)
        except Exception as exc:
            logger.warning(
                "Could not revive %s from checkpoint (%s); returning None.",
                dotted,
                type(exc).__name__,
            )
            return None


# --- savers ---------------------------------------------------------------------------------

S = TypeVar("S")


def harden(saver: S, *, allow: Iterable[Allowable] = ()) -> S:
    """Give ``saver`` the strict serializer (in place, so no unhardened handle is left).

    Idempotent: hardening twice, or a saver built with a ``StrictSerializer``,
    only adds what ``allow`` adds. An ``EncryptedSerializer`` keeps its cipher
    and gets a strict inner serializer; a plain ``JsonPlusSerializer``'s explicit
    allow-lists (``allowed_msgpack_modules``/``allowed_json_modules``) carry
    over, its pickle fallback does not. Any other serializer is refused with a
    ``TypeError``: its format is unknown, so it can't be made safe, and swapping
    it would make the store unreadable; ``trust_checkpoints=True`` keeps it.
    """
    serde = getattr(saver, "serde", None)
    if serde is None:
        raise TypeError(
            f"{type(saver).__name__} has no serializer (serde) to harden; "
            "pass a langgraph.checkpoint.base.BaseCheckpointSaver"
        )
    hardened = _hardened(serde, tuple(allow))
    if hardened is not serde:
        saver.serde = hardened  # type: ignore[attr-defined]
    return saver


def is_hardened(saver: Any) -> bool:
    """Whether ``saver`` loads through a :class:`StrictSerializer` (encrypted or not)."""
    serde = getattr(saver, "serde", None)
    if isinstance(serde, EncryptedSerializer):
        serde = serde.serde
    return isinstance(serde, StrictSerializer)


def _hardened(serde: SerializerProtocol, allow: tuple[Allowable, ...]) -> SerializerProtocol:
    if isinstance(serde, StrictSerializer):
        return serde.allowing(*allow)
    if isinstance(serde, EncryptedSerializer):
        inner = _hardened(serde.serde, allow)
        return serde if inner is serde.serde else EncryptedSerializer(serde.cipher, inner)
    if type(serde) is JsonPlusSerializer:
        return StrictSerializer([*_explicitly_allowed(serde), *allow])
    raise TypeError(
        f"Can't make the checkpoint serializer {type(serde).__name__} safe: streamtap.graph "
        "loads checkpoints only with StrictSerializer (LangGraph's format, allow-listed "
        "types, no pickle), optionally inside an EncryptedSerializer. Use one of those, or, "
        "if this store is as trusted as your own code, opt out with "
        "compile(..., checkpointer=saver, trust_checkpoints=True)."
    )


def _explicitly_allowed(serde: JsonPlusSerializer) -> list[Allowable]:
    """The types a user listed on their own JsonPlusSerializer (``True`` means "all": ignored)."""
    out: list[Allowable] = []
    msgpack = serde._allowed_msgpack_modules
    if isinstance(msgpack, set):
        out.extend((k[0], k[1]) for k in msgpack if len(k) == 2)
    json_modules = serde._allowed_json_modules
    if isinstance(json_modules, set):
        out.extend((".".join(k[:-1]), k[-1]) for k in json_modules if len(k) >= 2)
    return out

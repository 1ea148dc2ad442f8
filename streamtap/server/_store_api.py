"""The store routes (LangGraph Platform's ``/store/...``) over a LangGraph ``BaseStore``:
the app's store, which the served graphs share (``runtime.store`` in a node), so what an
app writes through the SDK a graph reads, and the other way round."""

from __future__ import annotations

from typing import Any

from langgraph.store.base import Item
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from streamtap.server._http import ApiBase, ApiError, json_response
from streamtap.server._schema import _Body

__all__ = ["StoreRoutes"]


class _Put(_Body):
    namespace: list[str] = Field(min_length=1)
    key: str = Field(min_length=1)
    value: dict[str, Any]
    index: bool | list[str] | None = None
    ttl: float | None = None


class _Key(_Body):
    namespace: list[str] = Field(min_length=1)
    key: str = Field(min_length=1)


class _Search(_Body):
    namespace_prefix: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    query: str | None = None
    refresh_ttl: bool | None = None


class _Namespaces(_Body):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=1)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


def _item_json(item: Item) -> dict[str, Any]:
    data = item.dict()
    score = getattr(item, "score", None)
    if score is not None:
        data["score"] = score
    return data


def _labels(namespace: list[str]) -> tuple[str, ...]:
    if any(not label or "." in label for label in namespace):
        raise ApiError(
            422, "Namespace labels must be non-empty and contain no '.'", fields=["namespace"]
        )
    return tuple(namespace)


class StoreRoutes(ApiBase):
    """``PUT|GET|DELETE /store/items``, ``POST /store/items/search``, ``POST /store/namespaces``."""

    store: Any

    async def _store_event(
        self, request: Request, action: str, value: dict[str, Any]
    ) -> dict[str, Any]:
        """The custom auth handler's look at a store call: it may refuse it or rewrite
        its ``namespace`` (the Platform's way to give each user their own); filters are
        for searches only."""
        await self._authorize(request, "store", action, self._as_tuple(value))
        return self._edited_namespace(value)

    @staticmethod
    def _as_tuple(value: dict[str, Any]) -> dict[str, Any]:
        """Namespaces reach handlers as tuples, as on the Platform."""
        if value.get("namespace") is not None:
            value["namespace"] = tuple(value["namespace"])
        return value

    @staticmethod
    def _edited_namespace(value: dict[str, Any]) -> dict[str, Any]:
        labels = value.get("namespace")
        if labels is not None:
            if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
                raise ApiError(
                    500, "The auth handler left a namespace that is not a list of labels"
                )
            value["namespace"] = list(labels)
        return value

    async def put_item(self, request: Request) -> Response:
        body = self._validate(_Put, await self._body(request))
        value = await self._store_event(request, "put", body.model_dump())
        kwargs: dict[str, Any] = {}
        if value["index"] is not None:
            kwargs["index"] = value["index"]
        if value["ttl"] is not None:
            kwargs["ttl"] = value["ttl"]
        await self.store.aput(_labels(value["namespace"]), value["key"], value["value"], **kwargs)
        return Response(status_code=204)

    async def get_item(self, request: Request) -> Response:
        namespace = request.query_params.get("namespace", "")
        key = request.query_params.get("key")
        if not key:
            raise ApiError(422, "Give the item's key", fields=["key"])
        refresh = request.query_params.get("refresh_ttl")
        value = await self._store_event(
            request,
            "get",
            {
                "namespace": namespace.split(".") if namespace else [],
                "key": key,
                "refresh_ttl": refresh in ("true", "True", "1") if refresh is not None else None,
            },
        )
        labels = _labels(value["namespace"]) if value["namespace"] else ()
        kwargs = {"refresh_ttl": value["refresh_ttl"]} if value["refresh_ttl"] is not None else {}
        item = await self.store.aget(labels, value["key"], **kwargs)
        if item is None:
            raise ApiError(404, f"No item {key!r} in namespace {list(labels)}")
        return json_response(_item_json(item))

    async def delete_item(self, request: Request) -> Response:
        body = self._validate(_Key, await self._body(request))
        value = await self._store_event(request, "delete", body.model_dump())
        await self.store.adelete(_labels(value["namespace"]), value["key"])
        return Response(status_code=204)

    async def search_items(self, request: Request) -> Response:
        body = self._validate(_Search, await self._body(request))
        value = body.model_dump()
        value["namespace"] = value.pop("namespace_prefix")
        filters = await self._authorize(request, "store", "search", self._as_tuple(value))
        value = self._edited_namespace(value)
        wanted = dict(value["filter"] or {})
        for key, must in (filters or {}).items():  # the auth filter narrows the client's
            if key in wanted and wanted[key] != must:
                return json_response({"items": []})
            wanted[key] = must
        kwargs: dict[str, Any] = {}
        if value["refresh_ttl"] is not None:
            kwargs["refresh_ttl"] = value["refresh_ttl"]
        items = await self.store.asearch(
            tuple(value["namespace"]),
            query=value["query"],
            filter=wanted or None,
            limit=value["limit"],
            offset=value["offset"],
            **kwargs,
        )
        return json_response({"items": [_item_json(i) for i in items]})

    async def list_namespaces(self, request: Request) -> Response:
        body = self._validate(_Namespaces, await self._body(request))
        value = body.model_dump()
        value["namespace"] = value.pop("prefix")
        value = await self._store_event(request, "list_namespaces", value)
        for labels in (value["namespace"], value["suffix"]):
            if labels:
                _labels(labels)
        found = await self.store.alist_namespaces(
            prefix=tuple(value["namespace"]) if value["namespace"] else None,
            suffix=tuple(value["suffix"]) if value["suffix"] else None,
            max_depth=value["max_depth"],
            limit=value["limit"],
            offset=value["offset"],
        )
        return json_response({"namespaces": [list(ns) for ns in found]})

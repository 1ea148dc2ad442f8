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

    async def put_item(self, request: Request) -> Response:
        body = self._validate(_Put, await self._body(request))
        kwargs: dict[str, Any] = {}
        if body.index is not None:
            kwargs["index"] = body.index
        if body.ttl is not None:
            kwargs["ttl"] = body.ttl
        await self.store.aput(_labels(body.namespace), body.key, body.value, **kwargs)
        return Response(status_code=204)

    async def get_item(self, request: Request) -> Response:
        namespace = request.query_params.get("namespace", "")
        key = request.query_params.get("key")
        if not key:
            raise ApiError(422, "Give the item's key", fields=["key"])
        labels = _labels(namespace.split(".")) if namespace else ()
        refresh = request.query_params.get("refresh_ttl")
        kwargs = {"refresh_ttl": refresh in ("true", "True", "1")} if refresh is not None else {}
        item = await self.store.aget(labels, key, **kwargs)
        if item is None:
            raise ApiError(404, f"No item {key!r} in namespace {list(labels)}")
        return json_response(_item_json(item))

    async def delete_item(self, request: Request) -> Response:
        body = self._validate(_Key, await self._body(request))
        await self.store.adelete(_labels(body.namespace), body.key)
        return Response(status_code=204)

    async def search_items(self, request: Request) -> Response:
        body = self._validate(_Search, await self._body(request))
        kwargs: dict[str, Any] = {}
        if body.refresh_ttl is not None:
            kwargs["refresh_ttl"] = body.refresh_ttl
        items = await self.store.asearch(
            tuple(body.namespace_prefix),
            query=body.query,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
            **kwargs,
        )
        return json_response({"items": [_item_json(i) for i in items]})

    async def list_namespaces(self, request: Request) -> Response:
        body = self._validate(_Namespaces, await self._body(request))
        found = await self.store.alist_namespaces(
            prefix=tuple(body.prefix) if body.prefix else None,
            suffix=tuple(body.suffix) if body.suffix else None,
            max_depth=body.max_depth,
            limit=body.limit,
            offset=body.offset,
        )
        return json_response({"namespaces": [list(ns) for ns in found]})

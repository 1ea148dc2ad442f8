"""The assistant store contract (``_assistants_store.AssistantStore``), one set of tests
for the in-process store and the Postgres one (``_pg_assistants``): the exact records each
call returns, version numbering, ``set_latest``, delete, the search filters, copies rather
than the stored values. Then what only a shared store faces: processes updating one
assistant, creating one id, and starting up (serving their graphs' system assistants) at
the same moment."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import pytest

from streamtap.server._assistants_store import (
    Assistant,
    AssistantExists,
    AssistantStore,
    MemoryAssistantStore,
    contains,
    new_assistant,
    system_assistant,
)
from streamtap.server._pg_assistants import PostgresAssistantStore

AGENT = "7f1cbb4a-1f8e-5b6c-9a39-6f2e3a0d1c11"
WRITER = "0c7b35a2-94d5-5e0f-8f43-1b9a6e5c2d22"
SERVED = [("agent", AGENT), ("writer", WRITER)]

Make = Callable[[Iterable[tuple[str, str]]], Awaitable[AssistantStore]]


@pytest.fixture(params=["memory", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Make:
    """``await make_store(graphs)``: a store serving ``graphs``, as a server starts one."""
    if request.param == "memory":

        async def memory(graphs: Iterable[tuple[str, str]]) -> AssistantStore:
            return MemoryAssistantStore.serving(graphs)

        return memory
    pool = request.getfixturevalue("pg_pool")

    async def postgres(graphs: Iterable[tuple[str, str]]) -> AssistantStore:
        store = PostgresAssistantStore(pool)
        await store.serve(graphs)
        return store

    return postgres


@pytest.fixture
async def store(make_store: Make) -> AssistantStore:
    return await make_store(SERVED)


def _assistant(
    aid: str,
    *,
    graph_id: str = "agent",
    name: str | None = "Helper",
    metadata: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    description: str | None = "helps",
) -> Assistant:
    return new_assistant(
        assistant_id=aid,
        graph_id=graph_id,
        config=config if config is not None else {"configurable": {"model": "m", "n": [1, 2]}},
        context=context if context is not None else {"user": "ann", "deep": {"a": {"b": None}}},
        metadata=metadata if metadata is not None else {"owner": "ann", "tags": ["x"]},
        name=name,
        description=description,
    )


def _version(assistant: Assistant, created_at: str | None = None) -> Assistant:
    """The version record an assistant's version keeps: no ``updated_at``."""
    record = {k: v for k, v in assistant.items() if k != "updated_at"}
    return {**record, "created_at": created_at or assistant["created_at"]}


def _ids(found: list[Assistant]) -> list[str]:
    return [a["assistant_id"] for a in found]


# ---------------------------------------------------------------- the contract, both stores


async def test_served_graphs_have_their_system_assistants(store: AssistantStore) -> None:
    found = await store.search()
    assert _ids(found) == [AGENT, WRITER]  # the served order
    at = found[0]["created_at"]
    assert found == [system_assistant("agent", AGENT, at), system_assistant("writer", WRITER, at)]
    assert await store.get(WRITER) == system_assistant("writer", WRITER, at)
    assert await store.versions(AGENT) == [_version(system_assistant("agent", AGENT, at))]


async def test_unknown_ids(store: AssistantStore) -> None:
    assert await store.get("nope") is None
    assert await store.versions("nope") is None
    assert await store.update("nope", {"name": "x"}) is None
    assert await store.set_latest("nope", 1) is None
    assert await store.delete("nope") is False
    assert await store.set_latest(AGENT, 2) is None  # a known assistant, an unknown version


async def test_create_keeps_exactly_what_was_given(store: AssistantStore) -> None:
    given = _assistant("a1", name=None, description=None)
    assert given["name"] == "Untitled"
    made = await store.create(copy.deepcopy(given), if_exists="raise")
    assert made == given
    assert await store.get("a1") == given
    assert await store.versions("a1") == [_version(given)]
    assert _ids(await store.search()) == [AGENT, WRITER, "a1"]


async def test_values_read_back_as_they_were_written(store: AssistantStore) -> None:
    """What a JSON body can carry comes back the same: key order, a float that looks like
    an integer, a NUL in a string, a ``None`` name (jsonb or text columns would not)."""
    odd = {"z": 1, "a": {"y": 1e20, "b": 1.0, "x": -0.5}, "\u0000k": "nul\u0000here", "é": [{}]}
    given = {
        **_assistant("a1", config={"configurable": odd}, context=odd, metadata=odd),
        "name": None,
        "description": "a\u0000b",
    }
    assert await store.create(copy.deepcopy(given), if_exists="raise") == given
    for got in (await store.get("a1"), (await store.versions("a1") or [{}])[0]):
        assert got is not None
        assert json.dumps(got["metadata"]) == json.dumps(odd)  # the same order and types
        assert json.dumps(got["context"]) == json.dumps(odd)
        assert got["name"] is None
        assert got["description"] == "a\u0000b"
    assert _ids(await store.search(name="none", metadata={"\u0000k": "nul\u0000here"})) == ["a1"]
    updated = await store.update("a1", {"name": "n\u0000", "metadata": {"\u0000": None}})
    assert updated is not None
    assert updated["name"] == "n\u0000"
    assert list(updated["metadata"]) == [*odd, "\u0000"]
    assert await store.get("a1") == updated


async def test_an_id_with_a_nul_is_unknown(store: AssistantStore) -> None:
    nul = "a1\u0000"
    await store.create(_assistant("a1"), if_exists="raise")
    assert await store.get(nul) is None
    assert await store.versions(nul) is None
    assert await store.update(nul, {"name": "x"}) is None
    assert await store.set_latest(nul, 1) is None
    assert await store.delete(nul) is False
    assert await store.search(graph_id="agent\u0000") == []
    assert (await store.get("a1") or {})["version"] == 1


async def test_create_an_existing_id_raises_or_returns_the_one_there(
    store: AssistantStore,
) -> None:
    first = _assistant("a1")
    await store.create(first, if_exists="raise")
    other = _assistant("a1", name="Other", metadata={"owner": "bob"})
    with pytest.raises(AssistantExists):
        await store.create(other, if_exists="raise")
    assert await store.create(other, if_exists="do_nothing") == first
    assert await store.get("a1") == first
    assert await store.versions("a1") == [_version(first)]
    with pytest.raises(AssistantExists):  # a system assistant's id is taken too
        await store.create(_assistant(AGENT), if_exists="raise")


async def test_update_makes_the_next_version_with_the_platforms_rules(
    store: AssistantStore,
) -> None:
    first = _assistant("a1", metadata={"owner": "ann", "keep": 1})
    await store.create(first, if_exists="raise")

    # an empty config and None fields keep the current ones; metadata is merged in
    second = await store.update(
        "a1",
        {
            "config": {},
            "metadata": {"owner": "bob", "team": {"x": 1}},
            "name": None,
            "description": "better",
        },
    )
    assert second is not None
    assert second == {
        **first,
        "metadata": {"owner": "bob", "keep": 1, "team": {"x": 1}},
        "description": "better",
        "version": 2,
        "updated_at": second["updated_at"],
    }
    assert second["updated_at"] >= first["updated_at"]

    # a config replaces the config whole; an empty context is a context; no metadata keeps it
    third = await store.update(
        "a1", {"config": {"tags": ["t"]}, "graph_id": "writer", "context": {}, "name": "New"}
    )
    assert third is not None
    assert third == {
        **second,
        "config": {"tags": ["t"]},
        "graph_id": "writer",
        "context": {},
        "name": "New",
        "version": 3,
        "updated_at": third["updated_at"],
    }
    assert third["created_at"] == first["created_at"]  # the assistant's stays its creation's
    assert await store.get("a1") == third
    assert await store.versions("a1") == [
        _version(first),
        _version(second, second["updated_at"]),  # a version's own is when it was made
        _version(third, third["updated_at"]),
    ]


async def test_set_latest_picks_a_version_and_the_next_update_numbers_past_all(
    store: AssistantStore,
) -> None:
    first = _assistant("a1")
    await store.create(first, if_exists="raise")
    second = await store.update("a1", {"name": "Two", "metadata": {"v": 2}})
    assert second is not None
    versions = await store.versions("a1")

    head = await store.set_latest("a1", 1)
    assert head is not None
    assert head == {**first, "updated_at": head["updated_at"]}
    assert head["updated_at"] >= second["updated_at"]
    assert await store.get("a1") == head
    assert await store.versions("a1") == versions  # no new version
    assert await store.set_latest("a1", 3) is None
    assert await store.get("a1") == head

    # the highest + 1, over the latest (version 1) as it is
    third = await store.update("a1", {"description": "three"})
    assert third is not None
    assert third == {
        **first,
        "description": "three",
        "version": 3,
        "updated_at": third["updated_at"],
    }
    assert [v["version"] for v in await store.versions("a1") or []] == [1, 2, 3]

    back = await store.set_latest("a1", 2)
    assert back is not None
    assert back == {**second, "updated_at": back["updated_at"]}


async def test_delete_forgets_the_assistant_and_its_versions(store: AssistantStore) -> None:
    first = _assistant("a1")
    await store.create(first, if_exists="raise")
    await store.update("a1", {"name": "Two"})
    assert await store.delete("a1") is True
    assert await store.get("a1") is None
    assert await store.versions("a1") is None
    assert await store.update("a1", {"name": "Three"}) is None
    assert await store.set_latest("a1", 1) is None
    assert await store.delete("a1") is False
    assert _ids(await store.search()) == [AGENT, WRITER]

    again = _assistant("a1", name="Again")
    assert await store.create(again, if_exists="raise") == again
    assert await store.versions("a1") == [_version(again)]  # numbering starts over

    assert await store.delete(AGENT) is True  # a system assistant may go too
    assert _ids(await store.search()) == [WRITER, "a1"]


async def test_search_filters_by_graph_name_and_metadata(store: AssistantStore) -> None:
    made = [
        _assistant("bot", name="Alpha Bot", metadata={"team": {"name": "red", "size": 3}}),
        _assistant("under", name="beta_bot", graph_id="writer", metadata={"team": "red"}),
        _assistant("pct", name="50% OFF", metadata={"team": {"name": "blue"}}),
        _assistant("plain", name="betaXbot", metadata={}),
    ]
    for a in made:
        await store.create(a, if_exists="raise")

    assert _ids(await store.search(graph_id="writer")) == [WRITER, "under"]
    assert _ids(await store.search(graph_id="none")) == []
    assert _ids(await store.search(name="BOT")) == ["bot", "under", "plain"]  # any case
    assert _ids(await store.search(name="a_b")) == ["under"]  # "_" is itself, not a wildcard
    assert _ids(await store.search(name="%")) == ["pct"]  # "%" too
    assert _ids(await store.search(name="50% o")) == ["pct"]
    assert _ids(await store.search(name="")) == _ids(await store.search())  # no filter
    assert _ids(await store.search(metadata={})) == _ids(await store.search())
    assert _ids(await store.search(metadata={"created_by": "system"})) == [AGENT, WRITER]
    assert _ids(await store.search(metadata={"team": {"name": "red"}})) == ["bot"]  # nested
    assert _ids(await store.search(metadata={"team": {}})) == ["bot", "pct"]
    assert _ids(await store.search(metadata={"team": "red"})) == ["under"]
    assert _ids(await store.search(name="bot", graph_id="agent", metadata={"team": {}})) == ["bot"]
    assert await store.search(graph_id="writer", name="beta") == [made[1]]


#: metadata of stored assistants, and filters: the stores must agree with ``contains``
HAVE: list[dict[str, Any]] = [
    {"n": 1},
    {"n": 1.0},
    {"n": True},
    {"n": 0},
    {"n": None},
    {"n": "1"},
    {"tags": ["a", "b"]},
    {"tags": ["b", "a"]},
    {"tags": ["a"]},
    {"tags": [{"k": 1, "j": 2}]},
    {"deep": {"a": {"b": [1, 2], "c": None}, "d": "x"}},
    {"deep": {"a": "flat"}},
    {"deep": {}},
    {"": "empty key", "ü": "ünïcode"},
    {},
]
WANT: list[dict[str, Any]] = [
    {"n": 1},
    {"n": True},
    {"n": False},
    {"n": None},
    {"n": "1"},
    {"tags": ["a"]},  # @> would also find ["a", "b"]: contains asks for equal lists
    {"tags": ["a", "b"]},
    {"tags": [{"k": 1}]},
    {"tags": "a"},
    {"deep": {"a": {"b": [1]}}},
    {"deep": {"a": {"b": [1, 2]}}},
    {"deep": {"a": {"c": None}, "d": "x"}},
    {"deep": {"a": {}}},
    {"deep": {}},
    {"": "empty key"},
    {"ü": "ünïcode"},
    {"missing": None},
]


async def test_metadata_filters_are_contains_exactly(store: AssistantStore) -> None:
    for i, metadata in enumerate(HAVE):
        await store.create(_assistant(f"m{i}", metadata=metadata), if_exists="raise")
    everyone = await store.search()
    for want in WANT:
        expected = [a["assistant_id"] for a in everyone if contains(a["metadata"], want)]
        assert _ids(await store.search(metadata=want)) == expected, want
    # the oracle is not trivial: the cases jsonb's @> answers otherwise
    assert _ids(await store.search(metadata={"tags": ["a"]})) == ["m8"]
    assert _ids(await store.search(metadata={"n": True})) == ["m0", "m1", "m2"]


async def test_search_keeps_creation_order(store: AssistantStore) -> None:
    for aid in ("a", "b", "c"):
        await store.create(_assistant(aid), if_exists="raise")
    await store.update("a", {"name": "changed"})
    await store.set_latest("b", 1)
    assert _ids(await store.search()) == [AGENT, WRITER, "a", "b", "c"]
    await store.delete("b")
    await store.create(_assistant("b"), if_exists="raise")
    assert _ids(await store.search()) == [AGENT, WRITER, "a", "c", "b"]


async def test_every_call_returns_copies(store: AssistantStore) -> None:
    given = _assistant("a1")
    kept = copy.deepcopy(given)
    made = await store.create(given, if_exists="raise")
    given["config"]["configurable"]["model"] = "changed by the caller"
    given["metadata"]["tags"].append("y")
    made["context"]["deep"]["a"]["b"] = "mine"
    assert await store.get("a1") == kept

    calls: list[Callable[[], Awaitable[Assistant | None]]] = [
        lambda: store.get("a1"),
        lambda: store.create(_assistant("a1"), if_exists="do_nothing"),
        lambda: store.set_latest("a1", 1),
    ]
    for call in calls:
        got = await call()
        assert got is not None
        got["config"]["configurable"]["n"].append(3)
        got["metadata"]["owner"] = "eve"
        assert {**(await store.get("a1") or {}), "updated_at": None} == {
            **kept,
            "updated_at": None,
        }

    found = await store.search(graph_id="agent")
    found[-1]["metadata"]["tags"].clear()
    versions = await store.versions("a1")
    assert versions is not None
    versions[0]["config"].clear()
    assert (await store.versions("a1")) == [_version(kept)]
    assert (await store.search(graph_id="agent"))[-1]["metadata"] == kept["metadata"]

    changes: dict[str, Any] = {"config": {"configurable": {"x": [1]}}, "metadata": {"m": [1]}}
    updated = await store.update("a1", changes)
    assert updated is not None
    changes["config"]["configurable"]["x"].append(2)
    changes["metadata"]["m"].append(2)
    updated["metadata"]["m"].append(3)
    latest = await store.get("a1")
    assert latest is not None
    assert latest["config"] == {"configurable": {"x": [1]}}
    assert latest["metadata"]["m"] == [1]


async def test_a_store_serving_nothing_is_empty(make_store: Make) -> None:
    empty = await make_store([])
    assert await empty.search() == []
    given = _assistant("a1")
    assert await empty.create(given, if_exists="do_nothing") == given


# ---------------------------------------------------------------- Postgres: several processes


@pytest.fixture
async def pools(pg_pool: Any, postgres_db: str) -> AsyncIterator[list[Any]]:
    """Three pools on one database: three server processes' view of it."""
    from psycopg_pool import AsyncConnectionPool

    async with (
        AsyncConnectionPool(
            postgres_db, min_size=1, max_size=8, open=False, kwargs={"autocommit": True}
        ) as second,
        AsyncConnectionPool(
            postgres_db, min_size=1, max_size=8, open=False, kwargs={"autocommit": True}
        ) as third,
    ):
        yield [pg_pool, second, third]


async def test_simultaneous_updates_each_make_their_own_version(pools: list[Any]) -> None:
    stores = [PostgresAssistantStore(pool) for pool in pools]
    await stores[0].create(_assistant("a1", metadata={}), if_exists="raise")
    made = await asyncio.gather(
        *(stores[i % 3].update("a1", {"metadata": {f"k{i}": i}}) for i in range(20))
    )
    assert sorted(a["version"] for a in made if a is not None) == list(range(2, 22))
    versions = await stores[1].versions("a1")
    assert versions is not None
    assert [v["version"] for v in versions] == list(range(1, 22))
    latest = await stores[2].get("a1")
    assert latest is not None
    assert latest["version"] == 21
    # each update merged into the one before it: none was lost
    assert latest["metadata"] == {f"k{i}": i for i in range(20)}
    # each version holds the metadata of its own update over all the earlier ones
    for v in versions[1:]:
        assert len(v["metadata"]) == v["version"] - 1


async def test_simultaneous_creates_of_one_id_make_one(pools: list[Any]) -> None:
    stores = [PostgresAssistantStore(pool) for pool in pools]
    outcomes = await asyncio.gather(
        *(
            stores[i % 3].create(_assistant("a1", name=f"n{i}"), if_exists="raise")
            for i in range(12)
        ),
        return_exceptions=True,
    )
    made = [o for o in outcomes if isinstance(o, dict)]
    assert len(made) == 1
    assert all(isinstance(o, AssistantExists) for o in outcomes if o is not made[0])
    assert await stores[1].get("a1") == made[0]

    kept = await asyncio.gather(
        *(
            stores[i % 3].create(_assistant("a2", name=f"n{i}"), if_exists="do_nothing")
            for i in range(12)
        )
    )
    assert len({a["name"] for a in kept}) == 1  # all answered with the one made
    assert await stores[2].versions("a2") == [_version(kept[0])]


async def test_processes_starting_together_serve_each_system_assistant_once(
    pools: list[Any],
) -> None:
    graphs = [(f"g{i}", f"00000000-0000-5000-8000-{i:012d}") for i in range(12)]
    stores = [PostgresAssistantStore(pool) for pool in pools]
    await asyncio.gather(*(store.serve(graphs) for store in stores))

    found = await stores[0].search()
    assert _ids(found) == [aid for _, aid in graphs]  # once each, in the served order
    at = found[0]["created_at"]
    assert found == [system_assistant(g, aid, at) for g, aid in graphs]  # one created_at
    for g, aid in graphs:
        assert await stores[1].versions(aid) == [_version(system_assistant(g, aid, at))]

    # a later start keeps what clients did to them, and brings back a deleted one
    changed = await stores[1].update(graphs[0][1], {"name": "renamed"})
    await stores[2].delete(graphs[1][1])
    await asyncio.gather(*(store.serve(graphs) for store in stores))
    assert await stores[0].get(graphs[0][1]) == changed
    back = await stores[0].get(graphs[1][1])
    assert back is not None
    assert back["version"] == 1
    assert back["created_at"] > at
    assert len(await stores[0].search()) == len(graphs)


async def test_delete_takes_the_version_rows_with_it(pg_pool: Any) -> None:
    store = PostgresAssistantStore(pg_pool)
    await store.create(_assistant("a1"), if_exists="raise")
    await store.update("a1", {"name": "Two"})
    await store.delete("a1")
    async with pg_pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM streamtap_assistant_versions")
        assert await cur.fetchone() == (0,)


async def test_processes_serving_in_different_orders_neither_deadlock_nor_mix(
    pools: list[Any],
) -> None:
    stores = [PostgresAssistantStore(pool) for pool in pools]
    for round_ in range(5):
        graphs = [(f"g{i}", f"00000000-0000-5000-8{round_:03d}-{i:012d}") for i in range(12)]
        orders = [graphs, graphs[::-1], graphs[6:] + graphs[:6]]
        await asyncio.gather(*(s.serve(order) for s, order in zip(stores, orders, strict=True)))
        prefix = f"00000000-0000-5000-8{round_:03d}"
        mine = [a for a in await stores[0].search() if a["assistant_id"].startswith(prefix)]
        assert sorted(_ids(mine)) == sorted(aid for _, aid in graphs)
        assert len({a["created_at"] for a in mine}) == 1  # all from one process's start

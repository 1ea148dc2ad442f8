"""200 concurrent SSE clients against one server process, each reading a 200-chunk answer.

Loopback only, bounded in count (200 runs) and time (the run is abandoned after
120 s); the assertion is completeness and order, not speed (see
``python -m bench.server_load`` for CPU, latency, throughput and memory, side by side
with a floor and ``langgraph dev``).
"""

from __future__ import annotations

from bench.server_load import ServerProcess, run_load

CLIENTS = 200
CHUNKS = 200


async def test_every_client_gets_every_event_in_order() -> None:
    # a plain langchain-core model: tokens through langchain-core's own callback dispatch,
    # each stamped when made (the benchmark's default fake model is covered in tests/bench)
    with ServerProcess(CHUNKS, delay=0.0, model="langchain") as server:
        result = await run_load(server.url, CLIENTS, CHUNKS, timeout=120.0)
    assert result.failures == []
    # metadata + CHUNKS tokens + the closing empty chunk + end, for every client
    assert result.events == CLIENTS * (1 + CHUNKS + 1 + 1)
    assert len(result.latencies) == CLIENTS * CHUNKS
    assert result.runs == CLIENTS and len(result.ttfts) == CLIENTS

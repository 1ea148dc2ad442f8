"""The adapters of the vendors added in issue 24, next to iterating each vendor's raw SDK.

For each SDK the same N-token text answer, in the vendor's own framing (Gemini's SSE, the
anthropic SDK's Bedrock event-stream, Bedrock Converse's event-stream), is read twice:

* ``raw``: the vendor's SDK streaming call, every event read: what a user of the SDK alone
  pays (google-genai's ``generate_content_stream``, ``AnthropicBedrock.messages.create``,
  boto3's and aiobotocore's ``converse_stream``);
* ``streamtap``: ``model.stream_chunks`` of the streamtap model for the same spec: the SDK
  read plus the fold into normalized ``AIMessageChunk`` s and their accumulation.

The SDKs on httpx (google-genai, anthropic) read the body from an in-process transport, so
the figure is the Python cost per chunk and nothing else; boto3 (urllib3) and aiobotocore
(aiohttp) cannot take one, so they read it from a loopback server (``tests/_bedrock_server``),
both sides alike. Each round runs every (vendor, side) once in a fresh random order; a
vendor's ``added_us`` is the median over rounds of streamtap − raw per chunk in the same
round, ``ratio`` the median of the same-round ratios.

    python -m bench --sdk-adapters-only                 # this group, merged into results.json
    python -m bench --sdk-adapters-only --quick --json out.json
"""

from __future__ import annotations

import asyncio
import base64
import gc
import importlib.util
import json
import random
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from bench.streams import events as sse_events

if TYPE_CHECKING:
    import httpx2

# streamtap, httpx2 and the SDKs are imported where they are used: the docs build renders
# this module's table() in an environment that has none of them.

__all__ = ["VENDORS", "run", "table"]

ROOT: Final = Path(__file__).resolve().parents[1]
VENDORS: Final = ("gemini", "anthropic-bedrock", "bedrock", "bedrock-async")
_REGION: Final = "us-east-1"
_AWS: Final = {
    "aws_access_key_id": "AKIDBENCHBENCHBENCH01",
    "aws_secret_access_key": "benchbenchbenchbenchbenchbenchbenchbench",
}
_GEMINI_MODEL: Final = "gemini-2.5-flash"
_CLAUDE_ID: Final = "anthropic.claude-sonnet-4-6-v1:0"
_PACKAGES: Final = (
    "streamtap",
    "langchain-core",
    "google-genai",
    "anthropic",
    "boto3",
    "aiobotocore",
)
#: What each row reads, for the table.
ABOUT: Final = {
    "gemini": "google-genai `generate_content_stream`, in process",
    "anthropic-bedrock": "anthropic `AnthropicBedrock.messages.create(stream=True)`, in process",
    "bedrock": "boto3 `converse_stream`, loopback",
    "bedrock-async": "aiobotocore `converse_stream`, loopback",
}


def _builder(name: str) -> ModuleType:
    """A fixture builder (``fixtures/build_<name>.py``): its ``text_body`` makes the bodies."""
    path = ROOT / "fixtures" / f"build_{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_build_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _eventstream() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_bench_eventstream", ROOT / "fixtures" / "eventstream.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _anthropic_bedrock_body(tokens: int) -> bytes:
    """The anthropic SDK's Bedrock framing: each Messages SSE event's JSON, base64, in a
    ``chunk`` event-stream frame (the Messages events are the main benchmark's)."""
    es = _eventstream()
    frames = []
    for raw in sse_events("anthropic", tokens):
        data = next(line for line in raw.decode().splitlines() if line.startswith("data: "))
        payload = {"bytes": base64.b64encode(data.removeprefix("data: ").encode()).decode()}
        frames.append(es.event("chunk", payload))
    return b"".join(frames)


def _in_process(body: bytes, content_type: str) -> httpx2.Client:
    import httpx2

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": content_type}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


# --------------------------------------------------------------------------- the readers


class _Vendor:
    """One vendor's two sides, each a function reading one whole stream."""

    def __init__(self, raw: Callable[[], int], adapter: Callable[[], int]) -> None:
        self.sides = {"raw": raw, "streamtap": adapter}


def _gemini(tokens: int, stack: ExitStack) -> _Vendor:
    from google import genai
    from google.genai import types

    import streamtap

    body = _builder("gemini").text_body(tokens)
    base = "https://generativelanguage.googleapis.com"
    http = stack.enter_context(_in_process(body, "text/event-stream"))
    client = genai.Client(
        api_key="bench-key",
        http_options=types.HttpOptions(base_url=base, httpx_client=http),
    )
    model = streamtap.chat_model(
        f"gemini:{_GEMINI_MODEL}", api_key="bench-key", base_url=base, http_client=http
    )

    def raw() -> int:
        return sum(
            1 for _ in client.models.generate_content_stream(model=_GEMINI_MODEL, contents="hi")
        )

    def adapter() -> int:
        return sum(1 for _ in model.stream_chunks("hi"))

    return _Vendor(raw, adapter)


def _anthropic_bedrock(tokens: int, stack: ExitStack) -> _Vendor:
    from anthropic import AnthropicBedrock

    import streamtap

    body = _anthropic_bedrock_body(tokens)
    http = stack.enter_context(_in_process(body, "application/vnd.amazon.eventstream"))
    client = AnthropicBedrock(
        aws_region=_REGION,
        http_client=http,
        aws_access_key=_AWS["aws_access_key_id"],
        aws_secret_key=_AWS["aws_secret_access_key"],
    )
    model = streamtap.chat_model(
        f"anthropic-bedrock:{_CLAUDE_ID}", aws_region=_REGION, http_client=http, **_AWS
    )
    messages: Any = [{"role": "user", "content": "hi"}]

    def raw() -> int:
        stream = client.messages.create(
            model=_CLAUDE_ID, max_tokens=tokens + 16, messages=messages, stream=True
        )
        with stream:
            return sum(1 for _ in stream)

    def adapter() -> int:
        return sum(1 for _ in model.stream_chunks("hi"))

    return _Vendor(raw, adapter)


def _bedrock_server(tokens: int, stack: ExitStack) -> Any:
    from tests._bedrock_server import Reply, running

    server = stack.enter_context(running())
    server.serve(Reply(body=_builder("bedrock").text_body(tokens)))
    return server


def _bedrock(tokens: int, stack: ExitStack) -> _Vendor:
    import boto3

    import streamtap

    server = _bedrock_server(tokens, stack)
    client = boto3.client("bedrock-runtime", region_name=_REGION, endpoint_url=server.url, **_AWS)
    model = streamtap.chat_model(
        f"bedrock:{_CLAUDE_ID}", region_name=_REGION, endpoint_url=server.url, **_AWS
    )
    messages = [{"role": "user", "content": [{"text": "hi"}]}]

    def raw() -> int:
        response = client.converse_stream(modelId=_CLAUDE_ID, messages=messages)
        return sum(1 for _ in response["stream"])

    def adapter() -> int:
        return sum(1 for _ in model.stream_chunks("hi"))

    return _Vendor(raw, adapter)


def _bedrock_async(tokens: int, stack: ExitStack, runner: asyncio.Runner) -> _Vendor:
    from aiobotocore.session import get_session

    import streamtap

    server = _bedrock_server(tokens, stack)
    model = streamtap.chat_model(
        f"bedrock:{_CLAUDE_ID}", region_name=_REGION, endpoint_url=server.url, **_AWS
    )
    creator = get_session().create_client(
        "bedrock-runtime", region_name=_REGION, endpoint_url=server.url, **_AWS
    )
    client = runner.run(creator.__aenter__())
    stack.callback(lambda: runner.run(creator.__aexit__(None, None, None)))
    stack.callback(lambda: runner.run(model.aclose()))
    messages = [{"role": "user", "content": [{"text": "hi"}]}]

    async def araw() -> int:
        response = await client.converse_stream(modelId=_CLAUDE_ID, messages=messages)
        return sum([1 async for _ in response["stream"]])

    async def aadapter() -> int:
        return sum([1 async for _ in model.astream_chunks("hi")])

    return _Vendor(lambda: runner.run(araw()), lambda: runner.run(aadapter()))


# --------------------------------------------------------------------------- timing


def _time(read: Callable[[], int]) -> tuple[float, float, int]:
    c0, t0 = time.process_time(), time.perf_counter()
    items = read()
    return time.perf_counter() - t0, time.process_time() - c0, items


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(
    *,
    vendors: tuple[str, ...] = VENDORS,
    tokens: int = 2000,
    repeats: int = 7,
    warmup: int = 1,
    seed: int = 20250,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time every vendor's raw SDK and streamtap side by side; the ``sdk_adapters`` section."""
    from bench import machine

    rng = random.Random(seed)
    out: dict[str, Any] = {
        "machine": machine.machine(),
        "versions": machine.versions(_PACKAGES),
        "tokens": tokens,
        "repeats": repeats,
        "warmup": warmup,
        "vendors": {},
    }
    with asyncio.Runner() as runner, ExitStack() as stack:
        built: dict[str, _Vendor] = {}
        for name in vendors:
            if name == "bedrock-async":
                built[name] = _bedrock_async(tokens, stack, runner)
            else:
                built[name] = {
                    "gemini": _gemini,
                    "anthropic-bedrock": _anthropic_bedrock,
                    "bedrock": _bedrock,
                }[name](tokens, stack)
        pairs = [(v, side) for v in built for side in ("raw", "streamtap")]
        wall: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
        cpu_s: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
        items: dict[tuple[str, str], int] = {}
        for round_no in range(warmup + repeats):
            rng.shuffle(pairs)
            for vendor, side in pairs:
                gc.collect()
                total, used, n = _time(built[vendor].sides[side])
                items[vendor, side] = n
                if round_no >= warmup:
                    wall[vendor, side].append(total)
                    cpu_s[vendor, side].append(used)
            progress(f"[sdk-adapters] round {round_no + 1}/{warmup + repeats}")
        for vendor in built:
            raw_us = [t * 1e6 / tokens for t in wall[vendor, "raw"]]
            st_us = [t * 1e6 / tokens for t in wall[vendor, "streamtap"]]
            out["vendors"][vendor] = {
                "raw_us_per_chunk": round(_median(raw_us), 2),
                "streamtap_us_per_chunk": round(_median(st_us), 2),
                "added_us_per_chunk": round(
                    _median([s - r for s, r in zip(st_us, raw_us, strict=True)]), 2
                ),
                "ratio": round(_median([s / r for s, r in zip(st_us, raw_us, strict=True)]), 3),
                "cpu_added_us_per_chunk": round(
                    _median(
                        [
                            (s - r) * 1e6 / tokens
                            for s, r in zip(
                                cpu_s[vendor, "streamtap"], cpu_s[vendor, "raw"], strict=True
                            )
                        ]
                    ),
                    2,
                ),
                "raw_events": items[vendor, "raw"],
                "streamtap_chunks": items[vendor, "streamtap"],
            }
    out["machine"]["load_average_end"] = machine.load_average()
    return out


def table(section: dict[str, Any]) -> str:
    """The section as a Markdown table (the docs page renders the same from results.json)."""
    lines = [
        f"{section['tokens']}-token answers, {section['warmup']} warm-up and "
        f"{section['repeats']} timed rounds in random order (medians shown).",
        "",
        "| vendor | raw SDK read | raw SDK µs/chunk | streamtap µs/chunk | added µs/chunk "
        "| ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for vendor, row in section["vendors"].items():
        lines.append(
            f"| {vendor} | {ABOUT.get(vendor, '')} | {row['raw_us_per_chunk']:.2f} | "
            f"{row['streamtap_us_per_chunk']:.2f} | {row['added_us_per_chunk']:+.2f} | "
            f"{row['ratio']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    section = run(tokens=200, repeats=3)
    print(json.dumps(section, indent=2))
    print(table(section))

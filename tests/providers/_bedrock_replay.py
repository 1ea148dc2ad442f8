"""Serving the Bedrock fixtures to real boto3 / aiobotocore clients (tests and the cross-vendor suite).

``serving("text")`` starts the loopback server (``tests/_bedrock_server.py``) with
``fixtures/bedrock/text.eventstream`` and yields the keyword arguments for
``streamtap.chat_model(SPEC, **kwargs)``: ``endpoint_url``, ``region_name``, fake
credentials, ``max_retries=0``. The yielded dict's ``.server`` is the server (its
``requests``, ``disconnects``...). AWS configuration of the machine running the tests
is kept out: config and credential files point at /dev/null, IMDS is disabled.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from tests._bedrock_server import BedrockServer, Reply, running

__all__ = [
    "ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY",
    "SESSION_TOKEN",
    "SPEC",
    "Served",
    "builder",
    "expected",
    "isolated_aws",
    "reply",
    "scenarios",
    "serving",
]

SPEC = "bedrock:anthropic.claude-sonnet-4-6-v1:0"
MODEL_ID = SPEC.partition(":")[2]
REGION = "us-east-1"
#: Planted credentials: tests assert the secret and the token never show.
ACCESS_KEY_ID = "AKIDEXAMPLESTREAMTAP1"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/PLANTEDsecretKEY0123"
SESSION_TOKEN = "FwoGZXIvYXdzEPLANTEDsessionTOKEN0123456789abcdefXYZ"

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FOLDER = FIXTURES / "bedrock"
SUFFIX = ".eventstream"


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@functools.cache
def _base() -> ModuleType:
    return _load_module("_bedrock_tests_build", FIXTURES / "build.py")


@functools.cache
def builder() -> ModuleType:
    """``fixtures/build_bedrock.py`` (its ``files``, ``expected``, ``text_body``)."""
    return _load_module("_bedrock_tests_builder", FIXTURES / "build_bedrock.py")


def generated() -> dict[str, bytes]:
    """What the builder writes (relative path -> bytes), for the committed-bytes check."""
    return dict(builder().files(_base()))


def scenarios(*, errors: bool | None = None) -> list[str]:
    """Recorded scenarios: bodies (``errors=False``), HTTP errors (True) or all (None)."""
    names = {p.stem for p in FOLDER.iterdir() if p.suffix in (SUFFIX, ".json")}
    bodies = {p.stem for p in FOLDER.glob(f"*{SUFFIX}")}
    if errors is None:
        return sorted(names)
    return sorted(bodies if not errors else names - bodies)


def expected(scenario: str) -> dict[str, Any]:
    """The logical answer (``build._expected_one``) a body encodes."""
    return dict(builder().expected(_base())["bedrock"][scenario])


def reply(
    scenario: str,
    *,
    piece_size: int | None = None,
    cuts: Sequence[int] | None = None,
    delay: float = 0.0,
    header_delay: float = 0.0,
) -> Reply:
    """The server's answer for a recorded scenario."""
    body_path = FOLDER / f"{scenario}{SUFFIX}"
    meta_path = FOLDER / f"{scenario}.json"
    meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
    if not body_path.exists():
        return Reply(
            body=None,
            status=int(meta["status"]),
            headers=dict(meta.get("headers") or {}),
            json_body=meta.get("body"),
        )
    return Reply(
        body=body_path.read_bytes(),
        status=int(meta.get("status", 200)),
        headers=dict(meta.get("headers") or {}),
        reset_after=meta.get("reset_after"),
        piece_size=piece_size,
        cuts=cuts,
        delay=delay,
        header_delay=header_delay,
    )


@contextlib.contextmanager
def isolated_aws() -> Iterator[None]:
    """No real AWS configuration, credentials or instance metadata for the block."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Served(dict[str, Any]):
    """``chat_model`` keyword arguments, with the server behind them as ``.server``."""

    server: BedrockServer


def model_kwargs(server: BedrockServer) -> dict[str, Any]:
    """Keyword arguments pointing a BedrockChatModel at ``server`` with the planted credentials."""
    return {
        "endpoint_url": server.url,
        "region_name": REGION,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
        "aws_session_token": SESSION_TOKEN,
        "max_retries": 0,
    }


@contextlib.contextmanager
def serving(
    scenario: str,
    *,
    piece_size: int | None = None,
    cuts: Sequence[int] | None = None,
    delay: float = 0.0,
) -> Iterator[Served]:
    """Serve ``scenario`` on a fresh loopback server; yield ``chat_model`` kwargs (``.server``)."""
    with isolated_aws(), running() as server:
        server.serve(reply(scenario, piece_size=piece_size, cuts=cuts, delay=delay))
        served = Served(model_kwargs(server))
        served.server = server
        yield served

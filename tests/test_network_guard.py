"""A test that forgets to mock fails at once with a clear error: it never reaches the network."""

from __future__ import annotations

import socket
import time

import pytest

import streamtap
from tests._httpx2_alias import NetworkBlockedError


def test_unmocked_sdk_call_fails_fast_and_says_why() -> None:
    model = streamtap.chat_model("openai:gpt-4o", api_key="sk-test", max_retries=0)
    started = time.monotonic()
    # Not a connection error (which retry logic would retry): the guard's own error.
    with pytest.raises(NetworkBlockedError, match=r"api\.openai\.com"):
        model.invoke("hi")
    assert time.monotonic() - started < 5


def test_raw_sockets_are_blocked_too() -> None:
    with pytest.raises(NetworkBlockedError, match="never reach the internet"):
        socket.create_connection(("example.com", 443), timeout=1)


def test_loopback_stays_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()

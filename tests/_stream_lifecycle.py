"""langchain-tests' validator of a v3 protocol event stream, where the installed
langchain-tests has it (its ``utils.stream_lifecycle`` came after the oldest version the
test extra allows): without it, a test that asks for it is skipped at that point, its
other assertions having run."""

from __future__ import annotations

from typing import Any

import pytest

try:
    from langchain_tests.utils.stream_lifecycle import (
        assert_valid_event_stream as _validator,
    )
except ImportError:  # pragma: no cover - langchain-tests without the validator
    _validator = None

__all__ = ["assert_valid_event_stream"]


def assert_valid_event_stream(events: Any) -> None:
    if _validator is None:
        pytest.skip("the installed langchain-tests has no utils.stream_lifecycle validator")
    _validator(events)

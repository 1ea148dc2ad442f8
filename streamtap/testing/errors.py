"""Errors raised by streamtap cassettes.

Set-up problems (missing cassette, bad file, broken httpx alias) are ordinary
exceptions raised when a cassette is entered. A request that matches nothing is
different: see :class:`CassetteMismatchError`.
"""

from __future__ import annotations


class CassetteError(Exception):
    """Base class for cassette set-up and file errors."""


class CassetteNotFoundError(CassetteError, FileNotFoundError):
    """Replay-only mode and the cassette file does not exist yet."""


class CassetteFormatError(CassetteError, ValueError):
    """The cassette file is not valid streamtap cassette JSON."""


class CassetteSetupError(CassetteError, RuntimeError):
    """Interception cannot work in this process (usually: httpx imported before the alias)."""


class CassetteMismatchError(BaseException):
    """A request matched no recorded interaction and recording is not allowed.

    It derives from ``BaseException`` on purpose, like ``pytest.fail``'s ``Failed``:
    the anthropic SDK wraps every ``Exception`` raised by its transport into a
    retried ``APIConnectionError("Connection error.")``, and LangChain and LangGraph
    retry on ``Exception`` too. A mismatch is a test bug, not a network failure,
    so it must reach the test unwrapped, at once, with its diff.
    """

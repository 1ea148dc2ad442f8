"""LangGraph's SQLite savers, with a path accepted where LangGraph wants a connection.

``SqliteSaver("graph.sqlite")`` was streamtap's own API before the savers became
LangGraph's; a file name is what most users have, so it stays.
"""

from __future__ import annotations

import sqlite3
from os import PathLike
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver as _LangGraphSqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

__all__ = ["AsyncSqliteSaver", "SqliteSaver"]


class SqliteSaver(_LangGraphSqliteSaver):
    """LangGraph's ``SqliteSaver``; also takes a file path (or ``":memory:"``)."""

    def __init__(
        self, conn: sqlite3.Connection | str | PathLike[str], *args: Any, **kwargs: Any
    ) -> None:
        if not isinstance(conn, sqlite3.Connection):
            # graphs run nodes in worker threads; the saver serialises access itself
            conn = sqlite3.connect(str(conn), check_same_thread=False)
        super().__init__(conn, *args, **kwargs)

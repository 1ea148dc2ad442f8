"""The "Porting from LangGraph" page's name table (conformance/public_names.json) matches the
installed LangGraph and streamtap.graph: a name added on either side updates it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_name_table_is_current() -> None:
    # the table is LangGraph's names at the locked release; another release (make
    # test-oldest / test-latest) has other names, and the lock is what the docs describe
    import importlib.metadata

    data = json.loads((ROOT / "conformance/public_names.json").read_text(encoding="utf-8"))
    installed = importlib.metadata.version("langgraph")
    if installed != data["langgraph"]:
        pytest.skip(f"langgraph {installed} is not the table's {data['langgraph']} (the lock's)")
    done = subprocess.run(
        [sys.executable, "conformance/public_names.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_the_table_names_what_streamtap_graph_really_exports() -> None:
    import streamtap.graph as st

    data = json.loads((ROOT / "conformance/public_names.json").read_text(encoding="utf-8"))
    graph_names = data["modules"]["langgraph.graph"]
    # StateGraph, START, END ... are offered, and each from a module that has it
    assert graph_names["StateGraph"] == "streamtap.graph"
    for module, names in data["modules"].items():
        for name, where in names.items():
            if where == "streamtap.graph":
                assert hasattr(st, name), (module, name)

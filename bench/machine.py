"""What the numbers were measured on: machine, load, library versions."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

__all__ = [
    "PACKAGES",
    "load_average",
    "machine",
    "peak_rss_kb",
    "reset_peak_rss",
    "rss_kb",
    "versions",
]

PACKAGES = (
    "streamtap",
    "openai",
    "anthropic",
    "httpx2",
    "langchain-core",
    "langchain-openai",
    "langchain-anthropic",
    "langgraph",
    "pydantic",
)


def versions(packages: Sequence[str] = PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    """The machine section of results.json (load is sampled again at the end of a run)."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "implementation": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_start": load_average(),
    }


def _status_kb(field: str, pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # "VmRSS:   12345 kB"
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_kb(pid: int | str = "self") -> int:
    """Current resident set size in KiB (Linux), 0 where unavailable; ``pid``: another
    process of this user (a server the benchmark started)."""
    return _status_kb("VmRSS", pid)


def peak_rss_kb(pid: int | str = "self") -> int:
    """Peak resident set size of this process image in KiB (Linux ``VmHWM``), 0 elsewhere.

    Not ``ru_maxrss``: Linux carries that across fork and exec, so a child of
    a large parent would report the parent's peak.
    """
    return _status_kb("VmHWM", pid)


def reset_peak_rss(pid: int | str = "self") -> None:
    """Start a new ``VmHWM`` peak from the current RSS (Linux ``clear_refs`` value 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass

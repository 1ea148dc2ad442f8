"""What the numbers were measured on: machine, load, library versions."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["PACKAGES", "load_average", "machine", "rss_kb", "versions"]

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


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
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


def rss_kb() -> int:
    """Current resident set size in KiB (Linux), 0 where unavailable."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_kb() -> int:
    """Peak resident set size so far in KiB (``ru_maxrss`` is KiB on Linux)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

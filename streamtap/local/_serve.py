"""``serve()``: a llama.cpp server that lives exactly as long as a ``with`` block."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from streamtap.local._errors import ServerStartError
from streamtap.local._process import LocalServer, launch, terminate

DEFAULT_MODEL = "smollm2"
# One thread: on a busy 2-core machine (pytest and the client share the cores) two
# spin-waiting llama.cpp threads ran 12x slower than one; the output was the same.
DEFAULT_THREADS = 1
DEFAULT_CONTEXT_SIZE = 4096
DEFAULT_READY_TIMEOUT = 60.0


@contextmanager
def serve(
    model: str = DEFAULT_MODEL,
    *,
    port: int | None = None,
    log_path: str | os.PathLike[str] | None = None,
    threads: int = DEFAULT_THREADS,
    context_size: int = DEFAULT_CONTEXT_SIZE,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    extra_args: Sequence[str] = (),
) -> Iterator[LocalServer]:
    """Run a local llama.cpp server on 127.0.0.1 for the duration of the block.

    ``model`` is a known model name (``"smollm2"``) or a path to a ``.gguf`` file;
    ``port=None`` picks a free port. The block starts once ``/health`` answers 200. On
    exit - normal, exception or Ctrl-C - the server's process group is stopped and
    reaped. Without ``log_path`` the server logs to a temporary file that is removed
    after a clean exit and kept when the block raised or the server failed, for post-mortems.
    """
    own_log = log_path is None
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="streamtap-llama-server-", suffix=".log")
        os.close(handle)
        log_path = name
    path = Path(log_path)
    try:
        process, server = launch(
            model,
            port=port,
            log_path=path,
            threads=threads,
            context_size=context_size,
            ready_timeout=ready_timeout,
            extra_args=extra_args,
        )
    except BaseException as exc:
        server_ran = isinstance(exc, ServerStartError) and exc.log_path is not None
        if own_log and not server_ran:  # nothing worth reading in it
            path.unlink(missing_ok=True)
        raise
    try:
        yield server
    finally:
        terminate(process)
    if own_log:
        path.unlink(missing_ok=True)

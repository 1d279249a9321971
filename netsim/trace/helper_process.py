"""A trace tool's helper process, forked to use a second CPU (``export_sqlite``'s second half, the
report's verify and diagram): whether forking is safe here, the fork with the child's first steps, and
the helper's end."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading


def may_fork() -> bool:
    """Whether this process may fork a helper.

    fork() copies only the calling thread: a lock held by another thread (logging's, a stream's) would
    stay held in the child for good, so a caller running threads (a notebook kernel) gets one process.
    """
    return hasattr(os, "fork") and threading.active_count() == 1


def fork_helper() -> int:
    """``os.fork()``: the child's pid here, 0 in the child, which must end with ``os._exit``.

    Standard output and error are flushed first: anything buffered would be written twice, once by each
    process. The child ignores Ctrl-C (it reaches the whole process group; the parent handles it and
    kills the child), ends on SIGTERM, and freezes the collector, which would walk (and so copy) the
    heap it shares with its parent.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            gc.freeze()
        except BaseException:  # noqa: BLE001 - never return into the caller's code half set up
            os._exit(1)
    return pid


def kill_and_reap(pid: int) -> None:
    """End the helper ``pid`` if it still runs, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)

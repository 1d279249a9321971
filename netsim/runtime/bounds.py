"""Bounds on what a node writes that a stranger, or a runaway app, could otherwise make unbounded.

* ``ErrorBudget``: at most ``ERROR_EVENTS_PER_S`` error events a second after a burst of
  ``ERROR_EVENT_BURST``. Junk datagrams, connection floods and a listener at the descriptor limit all
  make errors as fast as they arrive; each one past the budget is counted, not written, and the next
  event the node writes (an ``error``, or its ``stop``) says how many with ``suppressed``.
* ``CappedLog``: a node's log file (its app's ``print()`` and ``ctx.log()``, and anything written to its
  file descriptors 1 and 2, by it or by the programs it starts) stops growing at ``LOG_LIMIT_BYTES``,
  with a last line that says so.
* ``bounded_text``: a crash's traceback (its message can be anything an app raised) as the log, the
  trace and the launcher's report keep it: its head and its tail, at most ``CRASH_TEXT_LIMIT``.
* ``ACCEPT_BACKOFF_*``: a listener that runs out of file descriptors stops accepting for a while
  instead of spinning on EMFILE (see ``netsim.runtime.channels.Listener``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from netsim.clock import now_ns

ERROR_EVENTS_PER_S = 100
ERROR_EVENT_BURST = 200
LOG_LIMIT_BYTES = 16 * 1024 * 1024
# What descriptors 1 and 2 of a node may hold while its loop is busy (Linux lets a user ask for up to
# /proc/sys/fs/pipe-max-size, 1 MiB by default).
PIPE_BYTES = 1024 * 1024
CRASH_TEXT_LIMIT = 64 * 1024
# A crash's last line, as an error event and a failure's one-line report give it.
CRASH_LINE_LIMIT = 1000
ACCEPT_BACKOFF_FIRST_S = 0.05
ACCEPT_BACKOFF_MAX_S = 1.0


class ErrorBudget:
    """A token bucket for one node's error events."""

    __slots__ = ("_at_ns", "_tokens", "suppressed")

    def __init__(self) -> None:
        self._tokens = float(ERROR_EVENT_BURST)
        self._at_ns = now_ns()
        # Errors counted but not written since the last error event that was.
        self.suppressed = 0

    def take(self, at_ns: int) -> bool:
        """True if an error event may be written at ``at_ns``; False counts it as suppressed."""
        refill = (at_ns - self._at_ns) * ERROR_EVENTS_PER_S / 1e9
        tokens = min(float(ERROR_EVENT_BURST), self._tokens + refill)
        self._at_ns = at_ns
        if tokens < 1.0:
            self._tokens = tokens
            self.suppressed += 1
            return False
        self._tokens = tokens - 1.0
        return True

    def settle(self) -> int:
        """How many errors went unwritten since the last written one; the count starts again at 0."""
        suppressed, self.suppressed = self.suppressed, 0
        return suppressed


class CappedLog:
    """A node's log: a file that stops growing at ``limit`` bytes, whoever writes to it.

    Python's own writes go through ``write`` (``sys.stdout`` and ``sys.stderr`` are this object, so
    ``print()`` in an app does, and so does ``ctx.log``). Whatever reaches file descriptors 1 and 2
    directly (a C extension, or a program the app started, which inherits them) goes into a pipe that
    the node's event loop drains into the log (``capture_descriptors``, ``on_readable``): nothing
    reaches the file but through the cap. The pipe holds up to ``PIPE_BYTES`` while the loop is busy;
    a callback that waits for a program writing more than that waits for ever, like any callback that
    blocks (and the run's end names the node). A reader thread would lift that limit at some 300 KiB of
    memory per node, which a run of thousands of nodes cannot spare.
    """

    def __init__(self, path: str, limit: int = LOG_LIMIT_BYTES) -> None:
        self.path = path
        self.limit = limit
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = os.fstat(self._fd).st_size
        self.truncated = False
        self._pipe: int | None = None
        self.buffer = _BinaryLog(self)  # what ``sys.stdout.buffer.write(b"...")`` reaches

    # ---- the text-stream interface sys.stdout and sys.stderr need -----------------------------------

    def write(self, text: str) -> int:
        self.write_bytes(text.encode("utf-8", "replace"))
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        if self.truncated:
            return
        room = self.limit - self._size
        if len(data) > room:
            self._put(data[: max(0, room)])
            self._truncate()
            return
        self._put(data)

    def write_always(self, text: str) -> None:
        """Write past the limit: netsim's own last words (a crash's traceback) are always kept."""
        self._put(text.encode("utf-8", "replace"))

    def flush(self) -> None:
        pass  # every write is a write(2) already

    def fileno(self) -> int:
        # Code that writes to sys.stdout's descriptor itself goes through the pipe, and so the cap.
        return 1

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    encoding = "utf-8"
    errors = "replace"
    closed = False

    # ---- descriptors 1 and 2 ----------------------------------------------------------------------

    def capture_descriptors(self) -> int:
        """Point descriptors 1 and 2 at a pipe into this log; returns its read end for the node's loop."""
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            with contextlib.suppress(OSError):  # the system's pipe-max-size may be lower
                fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        for fd in (1, 2):
            os.dup2(write_end, fd)
        os.close(write_end)
        self._pipe = read_end
        return read_end

    def on_readable(self) -> None:
        """The node's loop found the pipe readable: move what is there into the log."""
        self.drain()

    def on_writable(self) -> None:
        pass

    def drain(self) -> None:
        while self._pipe is not None:
            try:
                data = os.read(self._pipe, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not data:
                return
            self.write_bytes(data)

    def close(self) -> None:
        """Close the file (and the pipe, if any). Only a process that goes on without the log needs to."""
        for fd in (self._fd, self._pipe):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pipe = None

    # ---- the file -----------------------------------------------------------------------------------

    def _put(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._size += written
            view = view[written:]

    def _truncate(self) -> None:
        self.truncated = True
        notice = f"\n[netsim: the log reached its limit of {self.limit:,} bytes; no more is kept]\n"
        self._put(notice.encode())


class _BinaryLog:
    """``sys.stdout.buffer`` of a node: bytes into the same capped log."""

    def __init__(self, log: CappedLog) -> None:
        self._log = log

    def write(self, data: bytes) -> int:
        self._log.write_bytes(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def bounded_text(text: str, limit: int) -> str:
    """``text``, or its first and last ``limit // 2`` characters with what was left out said between."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half:,} characters left out ...]\n{text[-half:]}"


def bounded_lines(text: str, line_limit: int, limit: int) -> str:
    """``text`` with each line cut to its first ``line_limit`` characters (a traceback's last line
    keeps the exception's name), then bounded as a whole (``bounded_text``)."""
    if len(text) <= line_limit:
        return text
    lines = [
        line
        if len(line) <= line_limit
        else f"{line[:line_limit]} [... {len(line) - line_limit:,} characters left out]"
        for line in text.split("\n")
    ]
    return bounded_text("\n".join(lines), limit)

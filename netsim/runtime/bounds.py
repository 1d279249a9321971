"""Bounds on what a node writes that a stranger, or a runaway app, could otherwise make unbounded.

* ``ErrorBudget``: at most ``ERROR_EVENTS_PER_S`` error events a second after a burst of
  ``ERROR_EVENT_BURST``. Junk datagrams, connection floods and a listener at the descriptor limit all
  make errors as fast as they arrive; each one past the budget is counted, not written, and the next
  event the node writes (an ``error``, or its ``stop``) says how many with ``suppressed``.
* ``CappedLog``: a node's log file (its app's ``print()`` and ``ctx.log()``, and anything written to its
  file descriptors 1 and 2) stops growing at ``LOG_LIMIT_BYTES``, with a last line that says so.
* ``ACCEPT_BACKOFF_*``: a listener that runs out of file descriptors stops accepting for a while
  instead of spinning on EMFILE (see ``netsim.runtime.channels.Listener``).
"""

from __future__ import annotations

import os
from typing import IO, Any

from netsim.clock import now_ns

ERROR_EVENTS_PER_S = 100
ERROR_EVENT_BURST = 200
LOG_LIMIT_BYTES = 16 * 1024 * 1024
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
    """A node's log: a text file that stops at ``limit`` bytes.

    Python writes through ``write`` (``print()`` in an app goes to ``sys.stdout``, which is this), so the
    cap is exact for them; ``check`` catches what reaches the file descriptors directly (a C extension,
    a program the app started) once per call, from the node's loop, by pointing them at /dev/null.
    """

    def __init__(self, path: str, limit: int = LOG_LIMIT_BYTES) -> None:
        self.path = path
        self.limit = limit
        self._file: IO[str] = open(path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
        self.truncated = False
        # The file's size as far as this process knows: what it had, plus what went through write().
        self._size = self._file_size()

    # ---- the text-file interface sys.stdout and sys.stderr need --------------------------------------

    def write(self, text: str) -> int:
        if self.truncated:
            return len(text)
        encoded = text.encode("utf-8", "replace")
        room = self.limit - self._size
        if len(encoded) > room:
            self._file.write(encoded[: max(0, room)].decode("utf-8", "ignore"))
            self._truncate()
            return len(text)
        self._size += len(encoded)
        return self._file.write(text)

    def write_always(self, text: str) -> None:
        """Write past the limit: netsim's own last words (a crash's traceback) are always kept."""
        self._file.write(text)
        self._file.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()

    def __getattr__(self, name: str) -> Any:
        # Whatever else a program asks a text stream for (errors, newlines, buffer...).
        return getattr(self._file, name)

    # ---- the cap --------------------------------------------------------------------------------------

    def check(self) -> None:
        """Stop the log at its limit if writes that bypassed ``write`` took it there."""
        if self.truncated:
            return
        self._size = self._file_size()
        if self._size >= self.limit:
            self._truncate()

    def _file_size(self) -> int:
        self._file.flush()
        try:
            return os.fstat(self._file.fileno()).st_size
        except OSError:
            return 0

    def _truncate(self) -> None:
        self.truncated = True
        self._file.write(f"\n[netsim: the log reached its limit of {self.limit:,} bytes; no more is kept]\n")
        self._file.flush()
        # Writers that bypass Python (fds 1 and 2) write nowhere from now on.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in (1, 2):
                os.dup2(devnull, fd)
        finally:
            os.close(devnull)

"""The signals that end a run from outside: Ctrl-C (SIGINT), SIGTERM and SIGHUP.

CI runners, ``timeout``, systemd and closed terminals stop a program with SIGTERM or SIGHUP, not
Ctrl-C, so all three end a run the same way: the launcher stops its nodes cooperatively, merges the
trace and writes the summary, which says which signal ended the run. A signal is only noted when it
comes; the launcher acts on it at the next point where the run can stop cleanly (an exception in the
middle of forking a node or reading its control channel would leave a process without an owner, or
a channel half read), and not at all once the run is already stopping.

SIGKILL cannot be caught: for that ending, each node notices its launcher's death by itself (see
``netsim.runtime.lifeline``).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class RunInterrupted(BaseException):
    """Raised in the launcher when a stop signal arrives at a point where the run can stop.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSignals:
    """Owns the stop signals' handlers for the length of a run (a context manager).

    A handler only notes the signal; the launcher's loops call ``check()`` at the points where the run
    can stop cleanly (never in the middle of reading a node's control message), at least ten times a
    second while it waits. Outside the main thread Python cannot set handlers: nothing is installed and
    the process keeps whatever handling it had.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        # False while the run is stopping anyway: a signal then changes nothing.
        self.active = True
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    def check(self) -> None:
        """Raise RunInterrupted if a stop signal came while the run was still going."""
        if self.active and self.received is not None:
            self.active = False
            raise RunInterrupted(self.received)

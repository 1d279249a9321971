"""What ties a node process, and every process its app starts, to the run that owns it.

* A node is the leader of its own process group, so a program its app starts (``subprocess``,
  ``os.fork``) is in that group and the launcher can end them together, and a terminal's Ctrl-C or
  hangup reaches the launcher only, which then stops the nodes in order.
* A node asks the kernel for SIGTERM when its launcher dies (``PR_SET_PDEATHSIG``), so a launcher
  killed with SIGKILL does not leave its nodes running: each one ends as it does on SIGTERM, with its
  trace part flushed. Its control channel's EOF says the same where the kernel has no such signal.
* A stop signal that arrives while a message is being handed to the kernel waits until the message's
  send record is written (``handoff``, ``raise_deferred_signal``): raised in between, it would leave a
  message on the wire that the trace never says was sent.
* A node is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a process its app starts that detaches
  itself (a daemon's double fork, ``setsid``) is still the node's descendant, and the node ends every
  descendant before it exits (``end_descendants``).

The prctl calls are Linux's; elsewhere they are skipped and the control channel and the process group
are what remain.
"""

from __future__ import annotations

import _signal
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, TypeVar

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36
# The kernel keeps 15 bytes of a process's name (its comm, which top and ps -e show).
_NAME_BYTES = 15


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The process's own symbols: libc is loaded already, and no library search (find_library runs
        # a program) is made. Loaded once, in the launcher, and inherited by every forked node.
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _prctl(option: int, value: int) -> bool:
    if _LIBC is None:
        return False
    try:
        return _LIBC.prctl(option, value, 0, 0, 0) == 0
    except AttributeError:
        return False


# After the first SIGTERM, a node has this long to close its sockets and flush its trace; then the
# kernel ends it (SIGALRM's default action), even if its app caught the exception and went on.
TERMINATE_GRACE_S = 3


class NodeTerminated(BaseException):
    """Raised in a node by SIGTERM or SIGHUP: from the launcher's last resort, or the launcher's death.

    A BaseException, so that an app's ``except Exception`` does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def set_handler(signum: int, handler: Callable[[int, FrameType | None], Any] | int) -> None:
    """``signal.signal`` without its conversions of numbers to enums and back.

    ``handler``: a callable, ``SIG_DFL`` or ``SIG_IGN``. A node sets its handlers right after the
    fork, and code run for the first time in a process writes to its pages (CPython counts calls to
    a function before it specialises it): the enum machinery of ``signal.signal`` alone, run there,
    copied ~150 KiB into every node.
    """
    if handler is signal.SIG_DFL:
        handler = _signal.SIG_DFL
    elif handler is signal.SIG_IGN:
        handler = _signal.SIG_IGN
    _signal.signal(int(signum), handler)


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP raise NodeTerminated once; SIGINT (the terminal's Ctrl-C) is the launcher's."""
    set_handler(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        set_handler(signum, _terminate)


def ignore_stop_signals() -> None:
    """From now on the node is ending anyway: SIGTERM and SIGHUP change nothing."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        set_handler(signum, signal.SIG_IGN)


# The code that hands messages to the kernel and then writes their send records (see ``handoff``);
# a signal handler looks this many frames up from where it interrupted the node.
_HANDOFF_CODE: set[CodeType] = set()
_HANDOFF_DEPTH = 4
_deferred_signum: int | None = None

F = TypeVar("F", bound=Callable[..., Any])


def handoff(function: F) -> F:
    """Mark ``function`` as one that hands messages to the kernel and then traces them: a stop signal
    that interrupts it is acted on at the node loop's next turn, not in between."""
    _HANDOFF_CODE.add(function.__code__)
    return function


def raise_deferred_signal() -> None:
    """Raise the NodeTerminated of a stop signal that came during a hand-off; the loop's safe point."""
    global _deferred_signum
    if _deferred_signum is not None:
        signum, _deferred_signum = _deferred_signum, None
        _raise_terminated(signum)


def _terminate(signum: int, frame: FrameType | None) -> None:
    global _deferred_signum
    depth = 0
    while frame is not None and depth < _HANDOFF_DEPTH:
        if frame.f_code in _HANDOFF_CODE:
            _deferred_signum = signum
            # The grace period runs from the signal, as it does when it is raised at once.
            set_handler(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(TERMINATE_GRACE_S)
            return
        frame = frame.f_back
        depth += 1
    _raise_terminated(signum)


def _raise_terminated(signum: int) -> None:
    ignore_stop_signals()
    set_handler(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(TERMINATE_GRACE_S)
    raise NodeTerminated(signum)


def own_process_group() -> None:
    """Make this process the leader of a new process group (the launcher does the same from its side)."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)


def die_with_launcher(launcher_pid: int) -> bool:
    """Have the kernel send SIGTERM when the launcher dies; False if it is already gone.

    The launcher may have died between the fork and this call, when nobody was asked to tell us yet:
    hence the check of the parent pid after the request.
    """
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    return os.getppid() == launcher_pid


def launcher_alive(launcher_pid: int) -> bool:
    """True while this process is still the launcher's child (an orphan is adopted by another)."""
    return os.getppid() == launcher_pid


def name_process(name: str) -> None:
    """Show ``name`` (its first 15 bytes) as this process's name in top and ``ps -e``; Linux only."""
    if _LIBC is None:
        return
    with contextlib.suppress(AttributeError, OSError):
        _LIBC.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:_NAME_BYTES]), 0, 0, 0)


def become_subreaper() -> None:
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return children


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    stack = _children(pid)
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(_children(child))
    return found


def end_descendants(timeout_s: float = 2.0) -> int:
    """SIGKILL every process this one started, directly or not, and reap them; returns how many.

    As a subreaper this process inherits each orphaned descendant, so it kills what it finds, reaps
    what has died and looks again, until it has no child left; bounded by ``timeout_s`` so that a
    process that cannot die (stuck in the kernel) does not keep the node from exiting.
    """
    if not sys.platform.startswith("linux"):
        return 0  # no /proc to find them: the launcher ends the node's process group instead
    own_pid = os.getpid()
    deadline = time.monotonic() + timeout_s
    ended: set[int] = set()
    while True:
        descendants = _descendants(own_pid)
        for pid in descendants:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        ended.update(descendants)
        if not _reap_dead_children() and not descendants:
            return len(ended)
        if time.monotonic() >= deadline:
            return len(ended)
        time.sleep(0.002)


def _reap_dead_children() -> bool:
    """Reap every child that has exited; True while some child remains."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        except InterruptedError:
            continue
        if pid == 0:
            return True

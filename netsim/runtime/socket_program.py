"""A node that runs a socket program: the user's ``main(net)`` in its own thread, beside the node's loop.

The program owns its sockets and may block in any call; the node's event loop still serves the
launcher (start, drain, faults, the run's end), so ``main`` runs in a thread of its own, started at
the start barrier. When ``main`` returns, the node is done; when it raises, the node fails with the
program's traceback (``MainFailed``). At the run's end the node process exits with ``main`` still
blocked (say, in ``accept``) if it never returned: a server that serves forever is normal.

A node running a program counts as idle, for the run's "quiet" ending, while each of its program's
threads waits in a receive or an ``accept`` (nothing will happen until someone sends) or for another of
its threads, it has done no call for a moment, and its links hold none of its bytes; it is busy while
any of its threads computes or sleeps.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netsim.runtime.app import App, MainFailed
from netsim.runtime.hosts import node_host, node_path_dir
from netsim.runtime.net import Net, declared_listeners
from netsim.runtime.program_links import ProgramSockets

if TYPE_CHECKING:
    from netsim.runtime.context import NodeContext
    from netsim.runtime.node import Node

# How often the node's loop looks at its program: for activity, to flush its calls, to see it end.
POLL_INTERVAL_S = 0.1
# Where a thread waits for another thread of the program (its innermost frame): it works only once
# that one does.
_THREAD_WAITS = frozenset({threading.__file__, queue.__file__})
CALLS_PART_SUFFIX = ".calls"


class SocketProgramApp(App):
    def __init__(self, node: Node, main: Callable[[Net], object]) -> None:
        self.node = node
        self.main = main
        plan = node.plan
        host = node_host(plan.host_base, plan.index)
        stem, dot, suffix = plan.trace_path.rpartition(".trace.")
        calls_path = (
            f"{stem}{CALLS_PART_SUFFIX}.trace.{suffix}" if dot else f"{plan.trace_path}{CALLS_PART_SUFFIX}"
        )
        self.sockets = ProgramSockets(
            node_name=node.name,
            node_index=plan.index,
            node_names=plan.node_names,
            neighbours=node.neighbour_names,
            host=host,
            host_base=plan.host_base,
            socket_dir=plan.socket_dir,
            trace_path=calls_path,
            seed=plan.seed,
            shapers=node.shaping.shapers,
        )
        self.net = Net(
            self.sockets,
            index=plan.index,
            nodes=plan.node_names,
            neighbours=node.neighbour_names,
            seed=plan.seed,
            log=node.log,
            record=lambda data: self.sockets.event("app", data=data),
        )
        self._thread: threading.Thread | None = None
        self._failure: str | None = None
        self._finished = False
        self._last_calls = -1
        # The program's thread tells the loop it ended through this pair (a selector sees the byte).
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self.fileno = self._wake_read.fileno()
        node.end_program_calls = self.close

    # ---- set-up, before the start barrier -------------------------------------------------------------

    def bind_declared(self) -> dict[str, Any]:
        """Make the node's path directory and bind what ``main`` declared (``netsim.listens``)."""
        os.makedirs(node_path_dir(self.node.plan.socket_dir, self.node.plan.index), mode=0o700, exist_ok=True)
        return self.net._bind_declared(declared_listeners(self.main, self.node.name))  # noqa: SLF001

    def learn_addresses(self, peers: dict[str, dict[str, Any]]) -> None:
        """The launcher's address book: the listeners each neighbour declared."""
        for peer, entry in peers.items():
            listeners = entry.get("listeners")
            if isinstance(listeners, dict):
                self.sockets.learn_declared(peer, listeners)

    # ---- the run --------------------------------------------------------------------------------------

    def on_start(self, ctx: NodeContext) -> None:
        node = self.node
        node.selector.register(self.fileno, 1, self)  # selectors.EVENT_READ
        node.busy_program = self.busy
        self.net._start_clock()  # noqa: SLF001
        self._thread = threading.Thread(target=self._run, name=f"netsim main {node.name}", daemon=True)
        self._thread.start()
        node.call_later(POLL_INTERVAL_S, self._poll)

    def _run(self) -> None:
        node_pid = os.getpid()
        failure: str | None = None
        exit_code = 0
        try:
            result = self.main(self.net)
            if result is not None:
                import inspect

                if inspect.iscoroutine(result):
                    # async def main(net): run as a script runs it, with asyncio.run.
                    import asyncio

                    asyncio.run(result)
        except SystemExit as exit_request:
            code = exit_request.code
            if code not in (None, 0):
                failure = f"main called sys.exit({code!r})\n"
                exit_code = code if isinstance(code, int) else 1
        except BaseException as error:  # noqa: BLE001 - every failure of main fails its node
            # From main's own frame on: the thread's runner says nothing to the user.
            tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
            failure = "".join(traceback.TracebackException(type(error), error, tb).format())
            exit_code = 1
        finally:
            if os.getpid() != node_pid:
                self._end_forked_child(failure, exit_code)
            self._failure = failure
            self.sockets.flush()
            with contextlib.suppress(OSError):
                self._wake_write.send(b"!")

    def _end_forked_child(self, failure: str | None, exit_code: int) -> None:
        """A child the program forked (a forking server) left ``main``: it ends there, as a script's
        child ends when its code does. The node is its parent's: the child neither ends nor fails it."""
        try:
            if failure is not None:
                sys.stderr.write(failure)
            sys.stdout.flush()
            sys.stderr.flush()
            self.sockets.close()
        finally:
            os._exit(exit_code)

    def busy(self) -> bool:
        """Whether the program has work in hand (see the module's docstring): it computes or sleeps,
        a link holds its bytes, or what it waits on has something for it already (its thread has not
        been scheduled yet to take it: a busy machine)."""
        if self.sockets.line:
            return True
        if self._finished:
            return False
        waiting_on = self.sockets.waiting_on
        waited_on = list(waiting_on.values())
        if not waited_on or self._a_thread_works(waiting_on):
            return True
        try:
            readable, _, _ = select.select(waited_on, (), (), 0)
        except (OSError, ValueError):
            return True  # a descriptor closed under the wait: look again next turn
        return bool(readable)

    def _a_thread_works(self, waiting_on: dict[int, int]) -> bool:
        """Whether a thread of the program computes or sleeps: one not waiting in a receive or an
        accept, nor for another of its threads (a join, an Event, a Condition, a Queue) without a
        timeout (one with a timeout is a timer, as a sleep is)."""
        ours = {threading.main_thread().ident, self.sockets.line.thread_id}
        for ident, frame in sys._current_frames().items():  # noqa: SLF001 - the one way to see a thread's wait
            if ident in ours or ident in waiting_on:
                continue
            if frame.f_code.co_filename not in _THREAD_WAITS:
                return True
            timeout = frame.f_locals.get("timeout")
            if isinstance(timeout, (int, float)) and timeout >= 0:
                return True
        return False

    def _poll(self) -> None:
        failure = self.sockets.line.failure
        if failure is not None:
            raise RuntimeError(f"netsim's delay line for the program's held bytes failed:\n{failure}")
        if self._finished and not self.sockets.line:
            return
        calls = self.sockets.calls
        if calls != self._last_calls:
            self._last_calls = calls
            self.node.mark_activity()
        self.sockets.flush()
        self.node.call_later(POLL_INTERVAL_S, self._poll)

    def on_readable(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_read.recv(16)
        if self._finished:
            return
        self._finished = True
        self.node.selector.unregister(self.fileno)
        if self._thread is not None:
            self._thread.join(1.0)
        if self._failure is not None:
            raise MainFailed(self._failure)
        self.node.mark_activity()
        self.node.app_done()

    def on_writable(self) -> None:
        pass

    def on_stop(self, ctx: NodeContext) -> None:
        # The run ends: bytes a link still holds were sent before the stop, so they go now.
        self.sockets.line.release_all()

    def flush_calls(self) -> None:
        self.sockets.flush()

    def close(self) -> None:
        """The node is ending: nothing of the program's is written after its stop."""
        self.sockets.flush()
        self.sockets.close()

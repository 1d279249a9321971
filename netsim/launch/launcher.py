"""Run a simulation: spawn one process per node, rendezvous, start together, watch, stop, merge.

The launcher owns every node process: it knows each pid, reads each control pipe, and waits for
each exit. Shutdown is staged and bounded: ``drain`` (apps stop, queued messages are delivered),
``close``, then ``terminate()``, then ``kill()``, each with a timeout. Nothing is killed by name.

Why one module of some 640 lines: ``Launcher`` is one state machine over the table of node processes
and one selector over their control pipes; start-up, watching, shutdown and the fault calls all read
and write that table, and its sections (marked below) are the seams a split would follow if one of
them grows on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import selectors
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import multiprocess
from multiprocess.connection import Connection

from netsim.apps.registry import resolve_app
from netsim.errors import StartupError
from netsim.launch.faults import FaultRunner
from netsim.launch.signals import RunInterrupted, StopSignals, signal_name
from netsim.runs.layout import node_part_name
from netsim.runtime import control
from netsim.runtime.plan import NodePlan
from netsim.runtime.process import node_main


@dataclass
class NodeState:
    """What the launcher knows of one node process."""

    plan: NodePlan
    process: Any
    conn: Connection
    bound: dict[str, Any] | None = None
    ready: bool = False
    done: bool = False
    quiesced: bool = False
    drained: bool = False
    closed: bool = False
    exited: bool = False
    idle: bool = False
    last_activity_ns: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    crash_traceback: str | None = None
    killed_by_fault: bool = False  # its death was scheduled: a fault, not a failure
    stopped: bool = False  # SIGSTOPped by a fault
    # The signal the shutdown had to send because the node did not stop when asked (a failure).
    forced: str | None = None
    forced_after_s: float = 0.0
    reaped: bool = False

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass(frozen=True, slots=True)
class ReadyNode:
    """A node that has started: its process id and the addresses its listeners got from the kernel."""

    name: str
    pid: int
    listeners: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for progress displays."""

    phase: str  # "starting", "running", "stopping"
    nodes: int
    nodes_bound: int
    nodes_ready: int
    nodes_done: int
    elapsed_s: float
    messages_sent: int
    messages_received: int


@dataclass
class LaunchOutcome:
    """How the processes ran; the caller turns it into summary.json."""

    ended_by: str  # "done", "quiet", "duration", "failure", "interrupted"
    signal: str | None = None  # the signal that interrupted the run (SIGINT, SIGTERM, SIGHUP)
    startup_s: float = 0.0
    running_s: float = 0.0
    shutdown_s: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LaunchLimits:
    duration_s: float
    quiet_s: float
    startup_timeout_s: float = 60.0
    drain_timeout_s: float = 5.0
    close_timeout_s: float = 5.0
    terminate_timeout_s: float = 2.0


ProgressCallback = Callable[[Progress], None]
ReadyCallback = Callable[[list[ReadyNode]], None]


def _context() -> Any:
    methods = multiprocess.get_all_start_methods()
    # fork starts a node in ~1 ms where spawn takes ~35 ms (see bench/launch.py).
    return multiprocess.get_context("fork" if "fork" in methods else "spawn")


class Launcher:
    def __init__(
        self,
        plans: list[NodePlan],
        limits: LaunchLimits,
        on_progress: ProgressCallback | None = None,
        on_ready: ReadyCallback | None = None,
        faults: Callable[[Launcher], FaultRunner] | None = None,
        signals: StopSignals | None = None,
    ) -> None:
        self.plans = plans
        self.signals = signals if signals is not None else StopSignals()
        self.limits = limits
        self.on_progress = on_progress
        self.on_ready = on_ready
        self.nodes: list[NodeState] = []
        self.selector = selectors.DefaultSelector()
        self.failed = False
        self._t0 = time.monotonic()
        self._last_progress = 0.0
        self._phase = "starting"
        self._startup_problem: str | None = None
        self._gate_write: int | None = None
        self.by_name: dict[str, NodeState] = {}
        self.retired: list[NodeState] = []  # earlier processes of restarted nodes
        self.faults: FaultRunner | None = faults(self) if faults is not None else None
        self._started_at = 0.0

    # ---- the whole run ------------------------------------------------------------------------------

    def run(self) -> LaunchOutcome:
        outcome = LaunchOutcome(ended_by="failure")
        started = time.monotonic()
        try:
            try:
                self._spawn()
                outcome.pids = [node.process.pid for node in self.nodes]
                self._rendezvous()
                outcome.startup_s = time.monotonic() - started
                if self.on_ready is not None:
                    self.on_ready(
                        [
                            ReadyNode(node.name, node.process.pid, dict(node.bound["listeners"]))
                            for node in self.nodes
                            if node.bound is not None
                        ]
                    )
                self._open_start_gate()
                self._started_at = time.monotonic()
                self._phase = "running"
                outcome.ended_by = self._watch()
            except KeyboardInterrupt:
                outcome.ended_by = "interrupted"
                outcome.signal = "SIGINT"
            except RunInterrupted as interruption:
                outcome.ended_by = "interrupted"
                outcome.signal = signal_name(interruption.signum)
            except StartupError as error:
                self._fail_startup(str(error))
            if self.failed:
                outcome.ended_by = "failure"
        finally:
            # From here on the run is stopping anyway: a signal is noted, and changes nothing.
            self.signals.active = False
            stopping = time.monotonic()
            if self._started_at:
                outcome.running_s = stopping - self._started_at
            self._phase = "stopping"
            self._shutdown()
            outcome.shutdown_s = time.monotonic() - stopping
            outcome.failures = self._failures()
            if self.faults is not None:
                outcome.faults = self.faults.applied
                self.faults.close()
        return outcome

    def _fail_startup(self, problem: str) -> None:
        self.failed = True
        self._startup_problem = problem

    # ---- start-up -------------------------------------------------------------------------------------

    def _spawn(self) -> None:
        context = _context()
        forking = context.get_start_method() == "fork"
        # Forked nodes share one start gate (a pipe); spawned ones are started over their control pipe.
        gate: tuple[int, int] | None = os.pipe() if forking else None
        self._gate_write = gate[1] if gate else None
        # Objects that exist before fork stay shared copy-on-write instead of being touched by gc.
        gc.collect()
        gc.freeze()
        try:
            for plan in self.plans:
                self.nodes.append(self._spawn_node(context, plan, gate))
        finally:
            gc.unfreeze()
            if gate is not None:
                os.close(gate[0])

    def _spawn_node(self, context: Any, plan: NodePlan, gate: tuple[int, int] | None) -> NodeState:
        parent_end, child_end = context.Pipe(duplex=True)
        forking = context.get_start_method() == "fork"
        # A forked child holds copies of the launcher's ends of every control channel, its own included:
        # it closes them first thing, so that the launcher's end is the only one left.
        inherited = ()
        if forking:
            inherited = (*(node.conn for node in self.nodes if not node.conn.closed), parent_end)
        process = context.Process(
            target=node_main,
            # The app is loaded in the node process, by the registry (the runtime knows no app by name).
            args=(plan, child_end, resolve_app, inherited, gate, os.getpid()),
            name=f"netsim-node-{plan.index}",
            daemon=True,
        )
        process.start()
        # The node does the same: whichever runs first, the node leads its own group before anything
        # else could happen to it, so that ending the group always reaches what its app started.
        with contextlib.suppress(OSError):
            os.setpgid(process.pid, process.pid)
        child_end.close()
        node = NodeState(plan=plan, process=process, conn=parent_end)
        self.by_name[plan.name] = node
        self.selector.register(parent_end.fileno(), selectors.EVENT_READ, ("conn", node))
        self.selector.register(process.sentinel, selectors.EVENT_READ, ("exit", node))
        return node

    def _rendezvous(self) -> None:
        deadline = time.monotonic() + self.limits.startup_timeout_s
        self._pump_until(
            lambda: all(node.bound is not None for node in self.nodes), deadline, "bind its sockets"
        )
        self._send_addresses()
        self._pump_until(lambda: all(node.ready for node in self.nodes), deadline, "bring its links up")

    def _open_start_gate(self) -> None:
        """Start every node at once: closing the gate's write end is one EOF that all nodes see together."""
        if self._gate_write is not None:
            os.close(self._gate_write)
            self._gate_write = None
        else:
            for node in self.nodes:
                control.send_control(node.conn, control.START)

    def _send_addresses(self) -> None:
        for node in self.nodes:
            self._send_addresses_to(node)

    def _send_addresses_to(self, node: NodeState) -> None:
        peers: dict[str, dict[str, Any]] = {}
        for link in node.plan.links:
            peer = self.by_name[link.peer]
            # A peer that died keeps the addresses it had: a restart binds them again.
            bound = peer.bound or {"listeners": {}, "links": {}}
            peers[link.peer] = {
                "listener": bound["listeners"].get(link.transport),
                "link": bound["links"].get(node.name),
            }
        control.send_control(node.conn, control.ADDRESSES, peers=peers)

    def _tell_neighbours_if_moved(self, node: NodeState) -> None:
        """A restarted node that could not bind where it was: its neighbours learn where it is now."""
        assert node.bound is not None
        before = node.plan.fixed_addresses or {}
        now = node.bound
        if (before.get("listeners"), before.get("links")) == (now["listeners"], now["links"]):
            return
        for link in node.plan.links:
            self.send_to(
                link.peer,
                control.MOVED,
                peer=node.name,
                listener=now["listeners"].get(link.transport),
                link=now["links"].get(link.peer),
            )

    def _pump_until(self, condition: Callable[[], bool], deadline: float, step: str) -> None:
        while not condition():
            if self.failed:
                raise StartupError(self._first_failure_text())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = [node.name for node in self.nodes if not condition_holds_for(node, step)]
                raise StartupError(
                    f"start-up timed out after {self.limits.startup_timeout_s:g} s: "
                    f"{len(missing)} node(s) did not {step} (first: {missing[:5]})"
                )
            self._pump(min(remaining, 0.1))

    # ---- watching the run -----------------------------------------------------------------------------

    def _watch(self) -> str:
        deadline = time.monotonic() + self.limits.duration_s
        quiet_ns = int(self.limits.quiet_s * 1e9)
        while True:
            if self.faults is not None:
                self.faults.run_due(time.monotonic() - self._started_at)
            if self.failed:
                return "failure"
            # While faults are still to come the run goes on: they are part of what is being tested.
            faults_pending = self.faults is not None and self.faults.next_at_s is not None
            # A node that a fault killed cannot say it is done or idle.
            alive = [node for node in self.nodes if not (node.exited and node.killed_by_fault)]
            if not faults_pending and all(node.done for node in alive):
                return "done"
            now = time.monotonic()
            if now >= deadline:
                return "duration"
            if not faults_pending and all(node.idle for node in alive):
                last_activity = max((node.last_activity_ns for node in alive), default=0)
                if time.monotonic_ns() - last_activity >= quiet_ns:
                    return "quiet"
            timeout = min(deadline - now, 0.05)
            if faults_pending:
                assert self.faults is not None and self.faults.next_at_s is not None
                timeout = min(timeout, max(0.0, self._started_at + self.faults.next_at_s - now))
            self._pump(timeout)

    def _pump(self, timeout: float) -> None:
        """Handle whatever the nodes said within ``timeout`` seconds; then act on a stop signal, if any."""
        for key, _ in self.selector.select(timeout):
            kind, node = key.data
            if kind == "conn":
                self._read_control(node)
            else:
                self._on_exit(node)
        self._report_progress()
        self.signals.check()

    def _read_control(self, node: NodeState) -> None:
        try:
            while node.conn.poll():
                self._on_control(node, control.receive_control(node.conn))
        except (EOFError, OSError):
            self._unregister(node.conn.fileno())

    def _on_control(self, node: NodeState, message: dict[str, Any]) -> None:
        kind = message["kind"]
        if kind == control.BOUND:
            node.bound = message
            if node.plan.generation > 0:
                self._send_addresses_to(node)
                self._tell_neighbours_if_moved(node)
        elif kind == control.READY:
            node.ready = True
            if node.plan.generation > 0 and self._phase == "running":
                control.send_control(node.conn, control.START)
        elif kind == control.STATUS:
            node.idle = message["idle"]
            node.last_activity_ns = message["last_activity_ns"]
            node.counters = message["counters"]
        elif kind == control.DONE:
            node.done = True
        elif kind == control.QUIESCED:
            node.quiesced = True
        elif kind == control.DRAINED:
            node.drained = True
        elif kind == control.CLOSED:
            node.closed = True
            node.counters = message["counters"]
        elif kind == control.CRASHED:
            node.crash_traceback = message["traceback"]
            self.failed = True

    def _on_exit(self, node: NodeState) -> None:
        self._read_control(node)
        self._reap(node)
        node.exited = True
        self._unregister(node.process.sentinel)
        if not node.closed and self._phase != "stopping" and not node.killed_by_fault:
            # Died without saying goodbye: a crash even if it did not manage to report one.
            self.failed = True

    def _reap(self, node: NodeState) -> None:
        """Wait for a node that has exited, and end what its app started (its process group).

        The group is ended before the node is reaped: until then the node's pid, which is the group's
        id, cannot belong to any other process.
        """
        if node.reaped:
            return
        pid = node.process.pid
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.waitid here
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # until it has exited, not reaping it
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        node.process.join()
        node.reaped = True

    def _unregister(self, fileno: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(fileno)

    def _report_progress(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < 0.1:
            return
        self._last_progress = now
        self.on_progress(
            Progress(
                phase=self._phase,
                nodes=len(self.plans),
                nodes_bound=sum(node.bound is not None for node in self.nodes),
                nodes_ready=sum(node.ready for node in self.nodes),
                nodes_done=sum(node.done for node in self.nodes),
                elapsed_s=now - self._t0,
                messages_sent=sum(node.counters.get("sent", 0) for node in self.nodes),
                messages_received=sum(node.counters.get("received", 0) for node in self.nodes),
            )
        )

    # ---- shutdown -------------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        try:
            alive = [node for node in self.nodes if not node.exited]
            for node in alive:
                if node.stopped:
                    # A paused node cannot drain: let it run again first.
                    self.signal_node(node.name, signal.SIGCONT)
            # Two phases: every app stops first, and only then do links half-close and drain.
            asked_at = time.monotonic()
            self._broadcast(alive, control.DRAIN)
            self._pump_for(
                lambda: all(node.quiesced or node.exited for node in alive), self.limits.drain_timeout_s
            )
            # A node whose app did not stop never will (stuck in a callback): end it now, so that its
            # neighbours read their links to the end instead of waiting for it.
            self._force([node for node in alive if not node.quiesced], asked_at)
            self._broadcast(alive, control.SHUT)
            self._pump_for(
                lambda: all(node.drained or node.exited for node in alive), self.limits.drain_timeout_s
            )
            self._broadcast(alive, control.CLOSE)
            self._pump_for(lambda: all(node.exited for node in alive), self.limits.close_timeout_s)
            self._force(alive, asked_at)
        finally:
            for node in self.nodes + self.retired:
                if not node.reaped:
                    if node.process.exitcode is None and not node.exited:
                        # Only after an error in the shutdown above: no process is left unowned.
                        node.process.kill()
                    self._reap(node)
                node.exited = True
                node.conn.close()
            self.selector.close()
            if self._gate_write is not None:
                # Never opened (start-up failed): close it only now that no node can start.
                os.close(self._gate_write)
                self._gate_write = None

    def _force(self, nodes: list[NodeState], asked_at: float) -> None:
        """End the nodes of ``nodes`` still running although asked to stop: SIGTERM, then SIGKILL.

        A node that had to be ended so is a failure of the run, named (``_failures``).
        """
        stuck = [node for node in nodes if not node.exited]
        if not stuck:
            return
        for node in stuck:
            node.forced = "SIGTERM"
            node.forced_after_s = time.monotonic() - asked_at
            node.process.terminate()
        self._pump_for(lambda: all(node.exited for node in stuck), self.limits.terminate_timeout_s)
        for node in stuck:
            if not node.exited:
                node.forced = "SIGKILL"
                node.process.kill()

    def _broadcast(self, nodes: list[NodeState], kind: str) -> None:
        for node in nodes:
            if node.exited:
                continue
            with contextlib.suppress(OSError):
                control.send_control(node.conn, kind)

    def _pump_for(self, condition: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            self._pump(min(0.05, max(0.0, deadline - time.monotonic())))

    # ---- what went wrong ------------------------------------------------------------------------------

    def _failures(self) -> list[dict[str, Any]]:
        failures = []
        for node in self.nodes + self.retired:
            if node.killed_by_fault:
                continue
            exit_code = node.process.exitcode
            crashed = node.crash_traceback is not None
            died = not node.closed and exit_code not in (0, None) and not crashed
            if not crashed and not died and node.forced is None:
                continue
            text = node.crash_traceback or _death_text(exit_code)
            if node.forced is not None:
                text += f"\n{self._forced_text(node)}"
            failures.append(
                {
                    "name": node.name,
                    "exit_code": exit_code,
                    "error": text.strip().splitlines()[-1] if text.strip() else "",
                    "traceback": text,
                    "log": node.plan.log_path,
                }
            )
        if not failures and self._startup_problem:
            failures.append(
                {"name": None, "exit_code": None, "error": self._startup_problem, "traceback": ""}
            )
        return failures

    @staticmethod
    def _forced_text(node: NodeState) -> str:
        return (
            f"did not stop within {node.forced_after_s:.1f} s of being asked to (its app never returned "
            f"from a callback, or ignored the stop): ended with {node.forced}"
        )

    def _first_failure_text(self) -> str:
        for failure in self._failures():
            return f"node {failure['name']!r} failed during start-up: {failure['error']}"
        return "a node failed during start-up"

    # ---- faults (called by the FaultRunner) --------------------------------------------------------

    def send_to(self, name: str, kind: str, **fields: Any) -> None:
        node = self.by_name[name]
        if node.exited:
            return
        with contextlib.suppress(OSError):
            control.send_control(node.conn, kind, **fields)

    def signal_node(self, name: str, signum: int) -> None:
        node = self.by_name[name]
        if node.exited:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.process.pid, signum)
        node.stopped = signum == signal.SIGSTOP

    def kill_node(self, name: str) -> None:
        """SIGKILL: the node dies without a goodbye; its partial trace is kept."""
        node = self.by_name[name]
        if node.exited:
            return
        node.killed_by_fault = True
        if not node.stopped:
            self._freeze(node)
        node.process.kill()
        self._on_exit(node)

    def _freeze(self, node: NodeState, timeout_s: float = 1.0) -> None:
        """Ask a node to flush its trace and stop itself; wait for its answer (bounded)."""
        try:
            control.send_control(node.conn, control.FREEZE)
            deadline = time.monotonic() + timeout_s
            while node.conn.poll(max(0.0, deadline - time.monotonic())):
                message = control.receive_control(node.conn)
                if message["kind"] == control.FROZEN:
                    return
                self._on_control(node, message)
        except (OSError, EOFError):
            pass

    def restart_node(self, name: str) -> None:
        """A fresh process for ``name``: same addresses, same app, state reset, a new trace part."""
        old = self.by_name[name]
        self.kill_node(name)
        old.conn.close()
        self.retired.append(old)
        generation = old.plan.generation + 1
        trace_path = os.path.join(
            os.path.dirname(old.plan.trace_path), node_part_name(old.plan.index, generation)
        )
        plan = dataclasses.replace(
            old.plan, generation=generation, trace_path=trace_path, fixed_addresses=old.bound
        )
        node = self._spawn_node(_context(), plan, None)
        self.nodes[self.nodes.index(old)] = node


def condition_holds_for(node: NodeState, step: str) -> bool:
    return node.bound is not None if step == "bind its sockets" else node.ready


def _death_text(exit_code: int | None) -> str:
    if exit_code is not None and exit_code < 0:
        try:
            return f"killed by signal {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exited with code {exit_code} without reporting"


def make_socket_dir() -> str:
    """A private (0700) directory for the run's AF_UNIX sockets, with a short path (sun_path is 108 bytes)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    # The launcher's pid in the name tells whose directory it is.
    return tempfile.mkdtemp(prefix=f"netsim-{os.getpid()}-", dir=base)


def remove_socket_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)

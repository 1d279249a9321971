"""Run a simulation: spawn one process per node, rendezvous, start together, watch, stop, merge.

The launcher owns every node process: the fork server (``netsim.launch.forkserver``) forks them at
its request, reports each pid and each exit, and signals them for it; the launcher talks to each node
over its control socket. Shutdown is staged and bounded: ``drain`` (apps stop, queued messages are
delivered), ``close``, then SIGTERM, then SIGKILL, each with a timeout. Nothing is killed by name.

The work per message is O(1): one selector for every socket, reads of whatever has arrived, sends
that queue rather than block (a node stopped by a fault reads nothing), and waits that keep the set
of nodes they still wait for instead of asking every node again after each message.

Why one module of some 670 lines (its records are ``netsim.launch.records``): ``Launcher`` is one
state machine over the table of node processes and one selector over their control sockets; start-up,
watching, shutdown and the fault calls all read and write that table, and its sections (marked below)
are the seams a split would follow if one of them grows on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from netsim.clock import now_ns
from netsim.errors import StartupError
from netsim.launch import forkserver
from netsim.launch.control_link import ControlLink
from netsim.launch.faults import FaultRunner
from netsim.launch.forkserver import ForkServer
from netsim.launch.records import (
    LaunchLimits,
    LaunchOutcome,
    NodeState,
    Progress,
    ProgressCallback,
    ReadyCallback,
    ReadyNode,
    death_text,
    drained,
    exited,
    forced_text,
    forked,
    frozen_or_exited,
    has_bound,
    is_ready,
    quiesced,
)
from netsim.launch.signals import RunInterrupted, StopSignals, signal_name
from netsim.runs.layout import node_part_name
from netsim.runtime import control
from netsim.runtime.bounds import CRASH_LINE_LIMIT, CRASH_TEXT_LIMIT, bounded_lines
from netsim.runtime.control import ControlProtocolError
from netsim.runtime.plan import NodePlan, plan_to_json

# Plans per fork request: the server starts forking while the rest are still being encoded and sent.
FORK_BATCH = 64
# How long the launcher waits for the fork server to report the exit of a node it killed.
EXIT_WAIT_S = 5.0


class Launcher:
    def __init__(
        self,
        plans: list[NodePlan],
        limits: LaunchLimits,
        on_progress: ProgressCallback | None = None,
        on_ready: ReadyCallback | None = None,
        faults: Callable[[Launcher], FaultRunner] | None = None,
        signals: StopSignals | None = None,
        server: ForkServer | None = None,
    ) -> None:
        self.plans = plans
        self.signals = signals if signals is not None else StopSignals()
        self.limits = limits
        self.on_progress = on_progress
        self.on_ready = on_ready
        # Started by the caller as early as it could (it then loads while we plan), or here.
        self.server = server
        self.nodes: list[NodeState] = [NodeState(plan) for plan in plans]
        self.by_name: dict[str, NodeState] = {node.name: node for node in self.nodes}
        self.by_index: dict[int, NodeState] = {node.plan.index: node for node in self.nodes}
        self.by_pid: dict[int, NodeState] = {}
        self.retired: list[NodeState] = []  # earlier processes of restarted nodes
        self.selector = selectors.DefaultSelector()
        self.failed = False
        self._t0 = time.monotonic()
        self._last_progress = 0.0
        self._phase = "starting"
        self._startup_problem: str | None = None
        self._server_lost = False
        self._server_lost_running = False  # lost after start-up, while nodes ran (a failure of its own)
        self._hosts_lost: list[str] = []
        # What the run waits for, kept up to date as messages come, so that no message costs a scan
        # of every node: the nodes a wait (start-up, each shutdown step) still waits for, the live
        # nodes whose app has not finished, and the live nodes that last said they were busy.
        self._awaiting: set[NodeState] = set()
        self._awaiting_test: Callable[[NodeState], bool] | None = None
        self._not_done: set[NodeState] = {node for node in self.nodes if self._ends_run(node)}
        self._busy: set[NodeState] = set(self.nodes)
        self._last_activity_ns = 0
        self.faults: FaultRunner | None = faults(self) if faults is not None else None
        self._started_at = 0.0

    # ---- the whole run ------------------------------------------------------------------------------

    def _ends_run(self, node: NodeState) -> bool:
        """Whether this node's app stopping counts towards the run's "done"."""
        done_when = self.limits.done_when
        return done_when is None or node.plan.name in done_when

    def run(self) -> LaunchOutcome:
        outcome = LaunchOutcome(ended_by="failure")
        started = time.monotonic()
        try:
            try:
                self._spawn()
                self._rendezvous()
                outcome.startup_s = time.monotonic() - started
                if self.on_ready is not None:
                    self.on_ready(
                        [
                            ReadyNode(node.name, node.pid, dict(node.bound["listeners"]))
                            for node in self.nodes
                            if node.bound is not None and node.pid is not None
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
            outcome.pids = [node.pid for node in self.nodes if node.pid is not None]
            outcome.failures = self._failures()
            if self.faults is not None:
                outcome.faults = self.faults.applied
                self.faults.close()
        return outcome

    def _fail_startup(self, problem: str) -> None:
        self.failed = True
        if self._startup_problem is None:
            self._startup_problem = problem

    # ---- start-up -------------------------------------------------------------------------------------

    def _spawn(self) -> None:
        """Have the fork server fork every node, in batches it can start on while the rest arrive."""
        if self.server is None:
            self.server = ForkServer.start()
        self.selector.register(self.server.link.fileno, selectors.EVENT_READ, ("server", None))
        first = self.plans[0]
        apps = sorted({plan.app for plan in self.plans})
        self.server.setup(first.node_names, first.run_key, apps, first.program_links)
        for at in range(0, len(self.plans), FORK_BATCH):
            batch = self.plans[at : at + FORK_BATCH]
            self._tell_server(forkserver.FORK, plans=[plan_to_json(plan) for plan in batch], gated=True)

    def _rendezvous(self) -> None:
        deadline = time.monotonic() + self.limits.startup_timeout_s
        self._wait_until(self.nodes, has_bound, deadline, "bind its sockets")
        self._send_addresses()
        self._wait_until(self.nodes, is_ready, deadline, "bring its links up")

    def _open_start_gate(self) -> None:
        """Start every node at once: the fork server closes the gate, one EOF that all nodes see together."""
        self._tell_server(forkserver.OPEN_GATE)

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
                # A restarted node waits for its links to come up again, but for those of dead peers.
                "down": peer.exited or peer.stopped,
            }
            if node.plan.socket_program:
                # A socket program learns which ports its neighbours declared (net.listen).
                peers[link.peer]["listeners"] = bound["listeners"]
        self._tell(node, control.ADDRESSES, peers=peers)

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

    def _wait_until(
        self, nodes: list[NodeState], test: Callable[[NodeState], bool], deadline: float, step: str
    ) -> None:
        """Pump until ``test`` holds for every node of ``nodes``; StartupError on a failure or timeout."""
        self._await(nodes, test)
        while self._awaiting:
            if self.failed:
                raise StartupError(self._first_failure_text())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(self._awaiting, key=lambda node: node.plan.index)
                raise StartupError(
                    f"start-up timed out after {self.limits.startup_timeout_s:g} s: "
                    f"{len(missing)} node(s) did not {step} (first: {[node.name for node in missing[:5]]})"
                )
            self._pump(min(remaining, 0.1))
        if self.failed:
            raise StartupError(self._first_failure_text())

    def _wait_for(self, nodes: list[NodeState], test: Callable[[NodeState], bool], timeout_s: float) -> None:
        """Pump until ``test`` holds for every node of ``nodes``, for at most ``timeout_s``."""
        self._await(nodes, test)
        deadline = time.monotonic() + timeout_s
        while self._awaiting and time.monotonic() < deadline:
            self._pump(min(0.05, max(0.0, deadline - time.monotonic())))

    def _await(self, nodes: list[NodeState], test: Callable[[NodeState], bool]) -> None:
        self._awaiting_test = test
        self._awaiting = {node for node in nodes if not test(node)}

    def _recheck(self, node: NodeState) -> None:
        """A message changed what the launcher knows of ``node``: is a wait still waiting for it?"""
        if node in self._awaiting and self._awaiting_test is not None and self._awaiting_test(node):
            self._awaiting.discard(node)

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
            # A node that a fault killed cannot say it is done or idle: it is in neither set.
            if not faults_pending and not self._not_done:
                return "done"
            now = time.monotonic()
            if now >= deadline:
                return "duration"
            quiet_for_ns = time.monotonic_ns() - self._last_activity_ns
            if not faults_pending and not self._busy and quiet_for_ns >= quiet_ns:
                return "quiet"
            timeout = min(deadline - now, 0.05)
            if faults_pending:
                assert self.faults is not None and self.faults.next_at_s is not None
                timeout = min(timeout, max(0.0, self._started_at + self.faults.next_at_s - now))
            self._pump(timeout)

    def _pump(self, timeout: float) -> None:
        """Handle whatever the nodes said within ``timeout`` seconds; then act on a stop signal, if any."""
        for key, events in self.selector.select(timeout):
            kind, node = key.data
            if kind == "server":
                if events & selectors.EVENT_WRITE:
                    self._flush_server()
                if events & selectors.EVENT_READ:
                    self._read_server()
            else:
                if events & selectors.EVENT_WRITE and node.link is not None and not node.exited:
                    with contextlib.suppress(OSError):
                        node.link.flush()
                    self._watch_output(node.link, ("node", node))
                if events & selectors.EVENT_READ:
                    self._read_control(node)
        self._report_progress()
        self.signals.check()

    def _read_control(self, node: NodeState) -> None:
        link = node.link
        if link is None or link.sock.fileno() < 0:
            return
        try:
            messages = link.read()
        except (OSError, ControlProtocolError) as error:
            messages = []
            link.eof = True
            node.crash_traceback = node.crash_traceback or f"its control socket failed: {error}"
        for message in messages:
            self._on_control(node, message)
        if link.eof:
            self._unregister(link.fileno)
            if self._server_lost and not node.exited:
                # Nobody will report its exit: its control socket's EOF is all there is to go by. A node
                # ends by itself when its fork server dies: the server's death is the failure, not its.
                node.lost_with_server = True
                self._on_exit(node, None)

    def _on_control(self, node: NodeState, message: dict[str, Any]) -> None:
        kind = message["kind"]
        if kind == control.BOUND:
            node.bound = message
            if node.plan.generation > 0:
                self._send_addresses_to(node)
                self._tell_neighbours_if_moved(node)
                for link in node.plan.links:
                    self.send_to(link.peer, control.PEER_BACK, peer=node.name)
        elif kind == control.READY:
            node.ready = True
            if node.plan.generation > 0 and self._phase == "running":
                self._tell(node, control.START)
        elif kind == control.STATUS:
            node.idle = message["idle"]
            if node.idle:
                self._busy.discard(node)
            elif not node.exited:
                self._busy.add(node)
            node.last_activity_ns = message["last_activity_ns"]
            self._last_activity_ns = max(self._last_activity_ns, node.last_activity_ns)
            node.counters = message["counters"]
        elif kind == control.DONE:
            node.done = True
            self._not_done.discard(node)
        elif kind == control.QUIESCED:
            node.quiesced = True
        elif kind == control.DRAINED:
            node.drained = True
        elif kind == control.CLOSED:
            node.closed = True
            node.counters = message["counters"]
        elif kind == control.FROZEN:
            node.frozen = True
        elif kind == control.CRASHED:
            node.crash_traceback = message["traceback"]
            self.failed = True
        self._recheck(node)

    def _on_exit(self, node: NodeState, exit_code: int | None) -> None:
        if node.exited:
            return
        # First: reading its last words below may find its socket at its end and come back here.
        node.exited = True
        node.exit_code = exit_code
        if node.link is not None:
            # What it said before it went is still in its socket: its goodbye, or its traceback.
            self._read_control(node)
            self._unregister(node.link.fileno)
            node.link.close()
        if node.killed_by_fault:
            self._not_done.discard(node)
        self._busy.discard(node)
        self._recheck(node)
        if not node.closed and self._phase != "stopping" and not node.killed_by_fault:
            # Died without saying goodbye: a crash even if it did not manage to report one.
            node.died_unreported = True
            self.failed = True

    # ---- the fork server -------------------------------------------------------------------------------

    def _tell_server(self, kind: str, **fields: Any) -> None:
        assert self.server is not None
        if self._server_lost:
            return
        try:
            self.server.send(kind, **fields)
        except OSError:
            self._lose_server()
            return
        self._watch_output(self.server.link, ("server", None))

    def _flush_server(self) -> None:
        assert self.server is not None
        try:
            self.server.link.flush()
        except OSError:
            self._lose_server()
            return
        self._watch_output(self.server.link, ("server", None))

    def _read_server(self) -> None:
        assert self.server is not None
        link = self.server.link
        try:
            messages = link.read()
        except (OSError, ControlProtocolError):
            messages = []
            link.eof = True
        for message in messages:
            kind = message["kind"]
            if kind == forkserver.FORKED:
                self._on_forked(message, link.fds.popleft())
            elif kind == forkserver.EXITED:
                node = self.by_pid.get(message["pid"])
                if node is not None:
                    self._on_exit(node, message["exit_code"])
            elif kind == forkserver.HOST_LOST:
                self._on_host_lost(message)
            elif kind == forkserver.FORK_FAILED:
                node = self.by_index[message["index"]]
                node.exited = True  # it never ran
                self._recheck(node)
                self._fail_startup(f"could not start node {node.name!r}: {message['error']}")
        if link.eof:
            self._lose_server()

    def _on_host_lost(self, message: dict[str, Any]) -> None:
        """A host of a run over many hosts is gone with its nodes: one failure, naming the host."""
        lost = [self.by_index[index] for index in message["indexes"] if index in self.by_index]
        if any(not node.exited for node in lost) or self._phase != "stopping":
            self.failed = True
            self._hosts_lost.append(
                f"host {message['host']!r} ({message['address']}) was lost: {message['error']}"
            )
        for node in lost:
            if not node.exited:
                node.lost_with_host = True
                self._on_exit(node, None)

    def _on_forked(self, message: dict[str, Any], fd: int) -> None:
        node = self.by_index[message["index"]]
        link = ControlLink(socket.socket(fileno=fd))
        if node.plan.generation != message["generation"] or node.pid is not None:
            link.close()  # not the process this launcher waits for (cannot happen: a bug)
            return
        node.pid = message["pid"]
        node.link = link
        self.by_pid[node.pid] = node
        self.selector.register(link.fileno, selectors.EVENT_READ, ("node", node))
        self._recheck(node)

    def _lose_server(self) -> None:
        if self._server_lost:
            return
        self._server_lost = True
        assert self.server is not None
        self._unregister(self.server.link.fileno)
        if self._phase != "stopping":
            self.failed = True
            self._server_lost_running = self._phase != "starting"
            self._fail_startup("the fork server, which starts and reaps the nodes, exited")

    # ---- talking to nodes -----------------------------------------------------------------------------

    def _tell(self, node: NodeState, kind: str, **fields: Any) -> None:
        """Send ``node`` one command; what its socket does not take now goes when it can."""
        if node.link is None or node.exited:
            return
        try:
            node.link.send(kind, **fields)
        except OSError:
            return
        self._watch_output(node.link, ("node", node))

    def _watch_output(self, link: ControlLink, data: tuple[str, NodeState | None]) -> None:
        """Have the selector say when ``link`` is writable while it has output queued, and only then."""
        wants = link.pending_output
        if wants != link.wants_write:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants else 0)
            # A link already unregistered (its node exited, the server is gone) has nothing to watch.
            with contextlib.suppress(KeyError, ValueError):
                self.selector.modify(link.fileno, events, data)
            link.wants_write = wants

    def _signal(self, node: NodeState, signum: int) -> None:
        if node.pid is not None and not node.exited:
            self._tell_server(forkserver.SIGNAL, pid=node.pid, signum=int(signum))

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
        progress = Progress(
            phase=self._phase,
            nodes=len(self.plans),
            nodes_bound=sum(node.bound is not None for node in self.nodes),
            nodes_ready=sum(node.ready for node in self.nodes),
            nodes_done=sum(node.done for node in self.nodes),
            elapsed_s=now - self._t0,
            messages_sent=sum(node.counters.get("sent", 0) for node in self.nodes),
            messages_received=sum(node.counters.get("received", 0) for node in self.nodes),
            nodes_forked=sum(node.pid is not None for node in self.nodes),
            nodes_exited=sum(node.exited for node in self.nodes),
        )
        self.on_progress(progress)

    # ---- shutdown -------------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        try:
            if self.server is not None:
                # Every node asked for is forked (or could not be) before any is told to stop.
                self._wait_for(self.nodes, forked, self.limits.startup_timeout_s)
            alive = [node for node in self.nodes if not node.exited and node.pid is not None]
            for node in alive:
                if node.stopped:
                    # A paused node cannot drain: let it run again first.
                    self.signal_node(node.name, signal.SIGCONT)
            # Two phases: every app stops first, and only then do links half-close and drain.
            asked_at = time.monotonic()
            self._broadcast(alive, control.DRAIN)
            self._wait_for(alive, quiesced, self.limits.drain_timeout_s)
            # A node whose app did not stop never will (stuck in a callback): end it now, so that its
            # neighbours read their links to the end instead of waiting for it.
            self._force([node for node in alive if not node.quiesced], asked_at)
            self._broadcast(alive, control.SHUT)
            self._wait_for(alive, drained, self.limits.drain_timeout_s)
            self._broadcast(alive, control.CLOSE)
            self._wait_for(alive, exited, self.limits.close_timeout_s)
            self._force(alive, asked_at)
        finally:
            self._end_every_process()

    def _end_every_process(self) -> None:
        """Leave no process behind, whatever happened above: kill what still runs, wait for its exit."""
        everyone = self.nodes + self.retired
        try:
            left = [node for node in everyone if not node.exited and node.pid is not None]
            for node in left:
                self._signal(node, signal.SIGKILL)
            if left and not self._server_lost:
                self._wait_for(left, exited, EXIT_WAIT_S)
        finally:
            for node in everyone:
                if node.link is not None:
                    node.link.close()
            if self.server is not None:
                self.server.close()
            self.selector.close()

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
            self._signal(node, signal.SIGTERM)
        self._wait_for(stuck, exited, self.limits.terminate_timeout_s)
        for node in stuck:
            if not node.exited:
                node.forced = "SIGKILL"
                self._signal(node, signal.SIGKILL)

    def _broadcast(self, nodes: list[NodeState], kind: str) -> None:
        for node in nodes:
            self._tell(node, kind)

    # ---- what went wrong ------------------------------------------------------------------------------

    def _failures(self) -> list[dict[str, Any]]:
        failures = [
            {"name": None, "exit_code": None, "error": text, "traceback": "", "host_lost": True}
            for text in self._hosts_lost
        ]
        if self._server_lost and self._server_lost_running:
            failures.append(
                {
                    "name": None,
                    "exit_code": None,
                    "error": "the fork server, which starts and reaps the nodes, died during the run: "
                    "every node ended with it",
                    "traceback": "",
                }
            )
        for node in self.nodes + self.retired:
            if node.killed_by_fault or node.pid is None or node.lost_with_host or node.lost_with_server:
                continue
            exit_code = node.exit_code
            crashed = node.crash_traceback is not None
            died = not crashed and (node.died_unreported or (not node.closed and exit_code not in (0, None)))
            if not crashed and not died and node.forced is None:
                continue
            # Bounded by the node already; a node's report is only as trustworthy as its code.
            text = bounded_lines(
                node.crash_traceback or death_text(exit_code), CRASH_LINE_LIMIT, CRASH_TEXT_LIMIT
            )
            if node.forced is not None:
                text += f"\n{forced_text(node)}"
            failures.append(
                {
                    "name": node.name,
                    "exit_code": exit_code,
                    "error": text.strip().splitlines()[-1] if text.strip() else "",
                    "traceback": text,
                    "log": node.plan.log_path,
                    "during_startup": not self._started_at,
                }
            )
        if not failures and self._startup_problem:
            failures.append(
                {"name": None, "exit_code": None, "error": self._startup_problem, "traceback": ""}
            )
        return failures

    def _first_failure_text(self) -> str:
        for failure in self._failures():
            if failure["name"] is None:
                return failure["error"]
            return f"node {failure['name']!r} failed during start-up: {failure['error']}"
        return "a node failed during start-up"

    # ---- faults (called by the FaultRunner) --------------------------------------------------------

    def send_to(self, name: str, kind: str, **fields: Any) -> None:
        self._tell(self.by_name[name], kind, **fields)

    def signal_node(self, name: str, signum: int) -> None:
        node = self.by_name[name]
        if node.exited:
            return
        self._signal(node, signum)
        node.stopped = signum == signal.SIGSTOP

    def kill_node(self, name: str) -> int:
        """SIGKILL: the node dies without a goodbye; its partial trace is kept. Returns when it stopped
        acting: frozen (its trace flushed) or paused, just before the kill its peers will notice."""
        node = self.by_name[name]
        if node.exited:
            return now_ns()
        node.killed_by_fault = True
        if not node.stopped:
            self._freeze(node)
        stopped_at = now_ns()
        self._signal(node, signal.SIGKILL)
        self._wait_for([node], exited, EXIT_WAIT_S)
        return stopped_at

    def _freeze(self, node: NodeState, timeout_s: float = 1.0) -> None:
        """Ask a node to flush its trace and stop itself; wait for its answer (bounded)."""
        node.frozen = False
        self._tell(node, control.FREEZE)
        self._wait_for([node], frozen_or_exited, timeout_s)

    def restart_node(self, name: str) -> int:
        """A fresh process for ``name``: same addresses, same app, state reset, a new trace part.
        Returns when the old process stopped acting (see ``kill_node``)."""
        old = self.by_name[name]
        stopped_at = self.kill_node(name)
        self.retired.append(old)
        generation = old.plan.generation + 1
        trace_path = os.path.join(
            os.path.dirname(old.plan.trace_path), node_part_name(old.plan.index, generation)
        )
        plan = dataclasses.replace(
            old.plan, generation=generation, trace_path=trace_path, fixed_addresses=old.bound
        )
        node = NodeState(plan)
        self.nodes[self.nodes.index(old)] = node
        self.by_name[name] = node
        self.by_index[plan.index] = node
        if self._ends_run(node):
            self._not_done.add(node)
        self._busy.add(node)
        self._tell_server(forkserver.FORK, plans=[plan_to_json(plan)], gated=False)
        return stopped_at

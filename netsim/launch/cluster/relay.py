"""The launcher's relay to its host agents: to the launcher, it is one fork server for every host.

``ClusterForkServer`` has the interface of ``netsim.launch.forkserver.ForkServer`` (a control link
that passes descriptors, ``setup``, ``send``, ``close``), so the launcher runs a run over many hosts
as it runs one on a single host: its own end of each node's control socket comes with ``forked``, its
signals, gate and forks go to "the server". Behind it a thread (the relay) listens for the host
agents (``netsim.launch.cluster.agent``) on the launcher's cluster address, checks each one's proof of the
run key, and then:

- routes each plan of a ``fork`` to the host the placement gave its node, and ``signal`` to the host
  that runs the pid (pids are each host's own: a pid that two hosts share gets a launcher-side number
  of its own, ``_virtual_pid``);
- relays each node's control stream between the node's socket on its host and a socketpair whose other
  end the launcher holds, as bytes;
- measures each host's clock against the launcher's at the start and at the end
  (``netsim.launch.cluster.hostlink.ClockSample``), and rewrites ``ts_ns`` and ``start_ns`` of the trace parts
  the agents send back at the end into the launcher's clock;
- reports a host whose link closes before its ``bye``, or whose agent says its fork server died, as
  ``host-lost``, naming it, and closes its nodes' sockets (the launcher hears each end).

A connection to the relay that does not prove the run key within ``HELLO_TIMEOUT_S`` is traced as an
``error`` (node ``*``, with its peer's address) and closed.
"""

from __future__ import annotations

import array
import contextlib
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsim.errors import CodecError
from netsim.launch import forkserver
from netsim.launch.cluster import hostlink
from netsim.launch.cluster.host_files import HostFiles
from netsim.launch.cluster.outbox import Outbox, keepalive, receive_now, watch_output
from netsim.launch.cluster.placement import Placement
from netsim.launch.control_link import ControlLink
from netsim.runtime.control import ControlDecoder, ControlProtocolError, encode_control
from netsim.trace.writer import TraceWriter

HOST_LOST = "host-lost"
HELLO_TIMEOUT_S = 5.0
CLOCK_SAMPLES = 5
READ_BYTES = 256 * 1024
# How long the relay waits at the end for the agents' files and goodbyes.
END_WAIT_S = 120.0
_PID_SPACE = 1 << 22  # Linux's largest pid_max


@dataclass(eq=False)
class _Host:
    index: int
    name: str
    address: str
    nodes: list[int]
    files: HostFiles
    link: Outbox | None = None
    decoder: hostlink.FrameDecoder = field(default_factory=hostlink.FrameDecoder)
    pending: bytearray = field(default_factory=bytearray)
    ready: bool = False
    bye: bool = False
    lost: str | None = None
    # The agent's link is closed (or gone); a lost host's link may stay open for its files and bye.
    link_done: bool = False
    clock_start: list[hostlink.ClockSample] = field(default_factory=list)
    clock_end: list[hostlink.ClockSample] = field(default_factory=list)
    quit_after_clock: bool = False
    correction: hostlink.ClockCorrection | None = None
    agent_pid: int | None = None

    def send(self, data: bytes) -> None:
        if self.link is None:
            self.pending += data
        elif self.lost is None:
            with contextlib.suppress(OSError):
                self.link.queue(data)


@dataclass(eq=False)
class _Stranger:
    sock: socket.socket
    peer: Any
    nonce: str
    since: float
    decoder: hostlink.FrameDecoder = field(
        default_factory=lambda: hostlink.FrameDecoder(hostlink.HELLO_LIMIT_BYTES)
    )


class ClusterForkServer:
    """The launcher's fork server for a run over many hosts (see the module's docstring)."""

    def __init__(
        self,
        placement: Placement,
        run_key: bytes,
        node_dir: str | os.PathLike[str],
        bind_address: str,
        trace_part: str | os.PathLike[str],
    ) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.link = ControlLink(ours, takes_fds=True)
        self.closed = False
        self._relay = _Relay(placement, run_key, Path(node_dir), bind_address, theirs, Path(trace_part))
        self.address = self._relay.address
        self._thread = threading.Thread(target=self._relay.run, name="netsim-relay", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        return os.getpid()

    def setup(
        self,
        node_names: tuple[str, ...],
        run_key: bytes,
        apps: list[str],
        program_links: tuple[tuple[int, int], ...] = (),
    ) -> None:
        # The run key is not sent: each agent has it already (from the cluster engine).
        self.link.send(forkserver.SETUP, node_names=node_names, apps=apps, program_links=program_links)

    def send(self, kind: str, **fields: Any) -> None:
        self.link.send(kind, **fields)

    def host_lost(self, host: str, reason: str) -> None:
        """Another thread learnt that ``host``'s agent is gone (the cluster engine said so)."""
        self._relay.lose_from_outside(host, reason)

    def hosts_json(self) -> list[dict[str, Any]]:
        """What the header and summary record of each host: where, how many nodes, its clock."""
        return self._relay.hosts_json()

    def close(self, timeout_s: float = END_WAIT_S) -> None:
        """Ask every agent to quit and wait for their files; once is enough."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.link.sock.setblocking(True)
            self.link.flush()
            self.link.sock.sendall(encode_control(forkserver.QUIT))
        self.link.sock.setblocking(False)
        deadline = time.monotonic() + timeout_s
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(0.1)
            # The run is over and nobody acts on what the relay still says, but its writes to the
            # launcher block until they are read: read them.
            with contextlib.suppress(OSError, ControlProtocolError):
                self.link.read()
        self._relay.stop()
        self._thread.join(5.0)
        self.link.close()


class _Relay:
    def __init__(
        self,
        placement: Placement,
        run_key: bytes,
        node_dir: Path,
        bind_address: str,
        launcher_sock: socket.socket,
        trace_part: Path,
    ) -> None:
        self.run_key = run_key
        self.node_dir = node_dir
        self.trace_part = trace_part
        self.hosts = [
            _Host(index, host.name, host.address, [], HostFiles(node_dir))
            for index, host in enumerate(placement.hosts)
        ]
        self.by_name = {host.name: host for host in self.hosts}
        self.host_of: dict[int, _Host] = {}
        self.node_names: tuple[str, ...] = ()
        self._placement = placement
        self.listener = socket.create_server((bind_address, 0), family=_family(bind_address), backlog=64)
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()[:2]
        self.launcher = launcher_sock
        self.launcher_decoder = ControlDecoder()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("listener", None))
        self.selector.register(launcher_sock, selectors.EVENT_READ, ("launcher", None))
        self.wake_read, self.wake_write = socket.socketpair()
        self.wake_read.setblocking(False)
        self.selector.register(self.wake_read, selectors.EVENT_READ, ("wake", None))
        self.outside_losses: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.strangers: dict[int, _Stranger] = {}
        self.node_ends: dict[int, Outbox] = {}
        self.pids: dict[int, tuple[_Host, int]] = {}  # launcher-side pid -> host, its pid there
        self.virtual: dict[tuple[int, int], int] = {}  # (host index, its pid) -> launcher-side pid
        self.quitting = False
        self.stopped = False
        self.ready_sent = False
        self.trace: TraceWriter | None = None

    # ---- the loop --------------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self.stopped:
                for key, events in self.selector.select(0.5):
                    kind, value = key.data
                    if events & selectors.EVENT_WRITE:
                        self._flush(kind, value)
                    if not events & selectors.EVENT_READ:
                        continue
                    if kind == "listener":
                        self._accept()
                    elif kind == "launcher":
                        self._read_launcher()
                    elif kind == "stranger":
                        self._read_stranger(value)
                    elif kind == "host":
                        self._read_host(value)
                    elif kind == "node":
                        self._read_node_end(value)
                    elif kind == "wake":
                        self._take_outside_losses()
                self._expire_strangers()
                if self.quitting and all(host.bye or (host.lost and host.link_done) for host in self.hosts):
                    return
        finally:
            self._close()

    def stop(self) -> None:
        self.stopped = True
        with contextlib.suppress(OSError):
            self.wake_write.send(b"x")

    # ---- agents joining ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, peer = self.listener.accept()
            except BlockingIOError:
                return
            except OSError:
                return
            sock.setblocking(False)
            stranger = _Stranger(sock, peer, hostlink.new_nonce(), time.monotonic())
            self.strangers[sock.fileno()] = stranger
            self.selector.register(sock, selectors.EVENT_READ, ("stranger", stranger))
            with contextlib.suppress(OSError):
                sock.send(hostlink.encode_control(hostlink.CHALLENGE, nonce=stranger.nonce))

    def _read_stranger(self, stranger: _Stranger) -> None:
        data = receive_now(stranger.sock, hostlink.HELLO_LIMIT_BYTES)
        if data is None:
            return
        if not data:
            self._refuse(stranger, "closed before its hello")
            return
        try:
            frames = stranger.decoder.feed(data)
        except CodecError as error:
            self._refuse(stranger, str(error))
            return
        if not frames:
            return
        hello = frames[0].value if frames[0].kind == hostlink.CONTROL else {}
        name = hello.get("host") if hello.get("kind") == hostlink.HELLO else None
        host = self.by_name.get(name) if isinstance(name, str) else None
        agent_nonce = hello.get("nonce")
        if host is None or not isinstance(agent_nonce, str):
            self._refuse(stranger, "its first message was not a hello naming a host of the run")
            return
        if not hostlink.proves(self.run_key, hello.get("proof"), "agent", name, stranger.nonce, agent_nonce):
            self._refuse(stranger, f"its hello as host {name!r} does not prove the run key")
            return
        if host.link is not None or host.lost is not None:
            self._refuse(stranger, f"host {name!r} has joined already")
            return
        self.selector.unregister(stranger.sock)
        del self.strangers[stranger.sock.fileno()]
        keepalive(stranger.sock)
        host.link = Outbox(stranger.sock)
        host.decoder.limit = hostlink.FRAME_LIMIT_BYTES
        host.agent_pid = hello.get("pid") if isinstance(hello.get("pid"), int) else None
        self.selector.register(stranger.sock, selectors.EVENT_READ, ("host", host))
        welcome = hostlink.proof(self.run_key, "launcher", name, stranger.nonce, agent_nonce)
        host.link.queue(hostlink.encode_control(hostlink.WELCOME, proof=welcome))
        # What the launcher said before this host joined, then the first clock exchange.
        host.link.queue(bytes(host.pending))
        host.pending.clear()
        self._ask_clock(host)
        self._watch_host(host)
        leftover = frames[1:]
        for frame in leftover:
            self._on_host_frame(host, frame)

    def _refuse(self, stranger: _Stranger, why: str) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(stranger.sock)
        self.strangers.pop(stranger.sock.fileno(), None)
        sockname = _name(stranger.sock.getsockname)
        stranger.sock.close()
        self._trace_error(
            f"refused a connection to the launcher's relay: {why}",
            transport="tcp",
            sockname=sockname,
            peername=list(stranger.peer[:2]),
        )

    def _expire_strangers(self) -> None:
        now = time.monotonic()
        for stranger in [s for s in self.strangers.values() if now - s.since > HELLO_TIMEOUT_S]:
            self._refuse(stranger, f"no hello within {HELLO_TIMEOUT_S:g} s")

    def _trace_error(self, problem: str, **fields: Any) -> None:
        if self.trace is None:
            self.trace = TraceWriter(self.trace_part, "*")
        self.trace.event("error", error=problem, **fields)
        self.trace.flush()

    # ---- the launcher's requests ---------------------------------------------------------------------

    def _read_launcher(self) -> None:
        data = receive_now(self.launcher, READ_BYTES)
        if data is None:
            return
        if not data:
            self.quitting = True
            self.stopped = True
            return
        for request in self.launcher_decoder.feed(data):
            self._on_request(request)

    def _on_request(self, request: dict[str, Any]) -> None:
        kind = request.pop("kind")
        if kind == forkserver.SETUP:
            self.node_names = tuple(request["node_names"])
            self._index_hosts()
            for host in self.hosts:
                host.send(hostlink.encode_control(forkserver.SETUP, **request))
        elif kind == forkserver.FORK:
            by_host: dict[int, list[dict[str, Any]]] = {}
            for plan in request["plans"]:
                by_host.setdefault(self.host_of[plan["index"]].index, []).append(plan)
            for host_index, plans in by_host.items():
                host = self.hosts[host_index]
                if host.lost is not None:
                    for plan in plans:
                        self._to_launcher(
                            encode_control(forkserver.FORK_FAILED, index=plan["index"], error=host.lost)
                        )
                    continue
                host.send(hostlink.encode_control(forkserver.FORK, plans=plans, gated=request["gated"]))
                self._watch_host(host)
        elif kind == forkserver.OPEN_GATE:
            for host in self.hosts:
                host.send(hostlink.encode_control(forkserver.OPEN_GATE))
                self._watch_host(host)
        elif kind == forkserver.SIGNAL:
            where = self.pids.get(request["pid"])
            if where is not None:
                host, pid = where
                host.send(hostlink.encode_control(forkserver.SIGNAL, pid=pid, signum=request["signum"]))
                self._watch_host(host)
        elif kind == forkserver.QUIT:
            self.quitting = True
            for host in self.hosts:
                if host.link is not None and host.lost is None:
                    # The end's clock exchange first: the agent quits after its answers.
                    host.quit_after_clock = True
                    self._ask_clock(host)
                elif host.link is None and host.lost is None:
                    host.lost = "its agent never joined the run"
                    host.link_done = True

    def _index_hosts(self) -> None:
        index_of = {name: index for index, name in enumerate(self.node_names)}
        for host in self.hosts:
            host.nodes = [index_of[name] for name in self._placement.nodes_on(host.index) if name in index_of]
            for index in host.nodes:
                self.host_of[index] = host

    def _to_launcher(self, data: bytes, fd: int | None = None) -> None:
        """The launcher always reads its server link: a blocking write only waits for it to."""
        self.launcher.setblocking(True)
        try:
            if fd is None:
                self.launcher.sendall(data)
            else:
                rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
                sent = self.launcher.sendmsg([data], rights)
                if sent < len(data):
                    self.launcher.sendall(data[sent:])
        except OSError:
            self.stopped = True
        finally:
            self.launcher.setblocking(False)

    # ---- what the agents say ---------------------------------------------------------------------------

    def _read_host(self, host: _Host) -> None:
        assert host.link is not None
        try:
            data = host.link.sock.recv(READ_BYTES)
        except BlockingIOError:
            return
        except OSError as error:
            self._lose(host, f"its link to the launcher failed: {error.strerror or error}")
            return
        if not data:
            if not host.bye and host.lost is None:
                self._lose(host, "its agent closed the link before the run ended")
            else:
                host.files.end()
                host.link_done = True
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(host.link.sock)
            return
        try:
            frames = host.decoder.feed(data)
        except CodecError as error:
            self._lose(host, f"its agent sent what netsim cannot read: {error}")
            return
        for frame in frames:
            self._on_host_frame(host, frame)

    def _on_host_frame(self, host: _Host, frame: hostlink.Frame) -> None:
        if frame.kind == hostlink.NODE:
            end = self.node_ends.get(frame.value)
            if end is not None:
                with contextlib.suppress(OSError):
                    end.queue(frame.data)
                watch_output(self.selector, end, ("node", frame.value))
        elif frame.kind == hostlink.NODE_EOF:
            self._close_node_end(frame.value)
        elif frame.kind == hostlink.FILE:
            self._write_file(host, frame.value, frame.data)
        elif frame.kind == hostlink.CONTROL:
            self._on_host_control(host, frame.value)

    def _on_host_control(self, host: _Host, message: dict[str, Any]) -> None:
        kind = message["kind"]
        if kind == hostlink.CLOCK:
            self._on_clock(host, message)
        elif kind == forkserver.READY:
            host.ready = True
            if not self.ready_sent and all(h.ready for h in self.hosts):
                self.ready_sent = True
                self._to_launcher(encode_control(forkserver.READY, pid=os.getpid()))
        elif kind == forkserver.FORKED:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            index = message["index"]
            self._close_node_end(index)
            end = Outbox(ours)
            self.node_ends[index] = end
            self.selector.register(ours, selectors.EVENT_READ, ("node", index))
            pid = self._virtual_pid(host, message["pid"])
            self._to_launcher(
                encode_control(forkserver.FORKED, index=index, generation=message["generation"], pid=pid),
                fd=theirs.fileno(),
            )
            theirs.close()
        elif kind == forkserver.FORK_FAILED:
            self._to_launcher(
                encode_control(forkserver.FORK_FAILED, index=message["index"], error=message["error"])
            )
        elif kind == forkserver.EXITED:
            pid = self.virtual.get((host.index, message["pid"]))
            if pid is not None:
                self._to_launcher(encode_control(forkserver.EXITED, pid=pid, exit_code=message["exit_code"]))
        elif kind == hostlink.FILES:
            if message.get("corrected") is True:
                host.files.correction = None
        elif kind == hostlink.BYE:
            host.files.end()
            host.bye = True
        elif kind == hostlink.SERVER_LOST:
            self._report_lost(
                host, "its fork server died during the run: every node of the host ended with it"
            )

    def _virtual_pid(self, host: _Host, pid: int) -> int:
        """The pid the launcher knows this process by: its own, unless another host's has it already."""
        virtual = pid
        while virtual in self.pids:
            virtual += _PID_SPACE
        self.pids[virtual] = (host, pid)
        self.virtual[(host.index, pid)] = virtual
        return virtual

    def _ask_clock(self, host: _Host) -> None:
        assert host.link is not None
        host.link.queue(hostlink.encode_control(hostlink.CLOCK, asked_ns=time.monotonic_ns()))
        self._watch_host(host)

    def _on_clock(self, host: _Host, message: dict[str, Any]) -> None:
        answered = time.monotonic_ns()
        asked, host_ns = message.get("asked_ns"), message.get("host_ns")
        if not isinstance(asked, int) or not isinstance(host_ns, int):
            return
        samples = host.clock_end if host.quit_after_clock else host.clock_start
        samples.append(hostlink.ClockSample(asked, host_ns, answered))
        if len(samples) < CLOCK_SAMPLES:
            self._ask_clock(host)
            return
        if not host.quit_after_clock:
            # Until the end's exchange (a host may end before it), the start's offset holds.
            host.files.correction = hostlink.ClockCorrection(hostlink.best_sample(samples))
            return
        start, end = hostlink.best_sample(host.clock_start), hostlink.best_sample(host.clock_end)
        host.correction = host.files.correction = hostlink.ClockCorrection(start, end)
        # The agent re-times its own parts with it, beside the other hosts' agents.
        host.send(hostlink.encode_control(forkserver.QUIT, clock={"start": list(start), "end": list(end)}))
        self._watch_host(host)

    # ---- node control streams ----------------------------------------------------------------------------

    def _read_node_end(self, index: int) -> None:
        end = self.node_ends.get(index)
        if end is None:
            return
        data = receive_now(end.sock, READ_BYTES)
        if data is None:
            return
        if not data:
            # The launcher closed its end: the node's exit was reported, nothing more to relay.
            self._close_node_end(index)
            return
        host = self.host_of.get(index)
        if host is not None:
            host.send(hostlink.encode_node(index, data))
            self._watch_host(host)

    def _close_node_end(self, index: int) -> None:
        end = self.node_ends.pop(index, None)
        if end is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(end.sock)
        with contextlib.suppress(OSError):
            end.sock.setblocking(True)
            end.sock.settimeout(1.0)
            if end.out:
                end.sock.sendall(end.out)
        end.sock.close()

    # ---- the agents' files ------------------------------------------------------------------------------

    def _write_file(self, host: _Host, name: str, data: bytes) -> None:
        problem = host.files.write(name, data)
        if problem is not None:
            self._trace_error(f"host {host.name!r} sent {problem}")

    # ---- hosts lost ------------------------------------------------------------------------------------

    def lose_from_outside(self, name: str, reason: str) -> None:
        with self.lock:
            self.outside_losses.append((name, reason))
        with contextlib.suppress(OSError):
            self.wake_write.send(b"x")

    def _take_outside_losses(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self.wake_read.recv(4096):
                pass
        with self.lock:
            losses, self.outside_losses = self.outside_losses, []
        for name, reason in losses:
            host = self.by_name.get(name)
            if host is not None and not host.bye:
                self._lose(host, reason)

    def _lose(self, host: _Host, reason: str) -> None:
        """The host is gone, and so is its link."""
        if host.bye or host.link_done:
            return
        self._report_lost(host, reason)
        host.link_done = True
        if host.link is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(host.link.sock)
            host.link.sock.close()
        host.files.end()

    def _report_lost(self, host: _Host, reason: str) -> None:
        """Tell the launcher the host's nodes are gone (once), and close their ends."""
        if host.lost is not None:
            return
        host.lost = reason
        self._to_launcher(
            encode_control(HOST_LOST, host=host.name, address=host.address, error=reason, indexes=host.nodes)
        )
        for index in host.nodes:
            self._close_node_end(index)

    # ---- writing without blocking ---------------------------------------------------------------------

    def _flush(self, kind: str, value: Any) -> None:
        if kind == "host":
            if value.link is not None and value.lost is None:
                with contextlib.suppress(OSError):
                    value.link.flush()
                self._watch_host(value)
        elif kind == "node":
            end = self.node_ends.get(value)
            if end is not None:
                with contextlib.suppress(OSError):
                    end.flush()
                watch_output(self.selector, end, ("node", value))

    def _watch_host(self, host: _Host) -> None:
        if host.link is not None and host.lost is None:
            watch_output(self.selector, host.link, ("host", host))

    # ---- the end ------------------------------------------------------------------------------------

    def hosts_json(self) -> list[dict[str, Any]]:
        rows = []
        for host, placed in zip(self.hosts, self._placement.hosts, strict=True):
            row: dict[str, Any] = {
                "name": host.name,
                "address": host.address,
                "address6": placed.address6,
                "cpus": placed.cpus,
                "nodes": len(self._placement.nodes_on(host.index)),
                "agent_pid": host.agent_pid,
            }
            if host.correction is not None:
                row.update(host.correction.to_json())
            elif host.clock_start:
                row.update(hostlink.ClockCorrection(hostlink.best_sample(host.clock_start)).to_json())
            if host.lost is not None:
                row["lost"] = host.lost
            rows.append(row)
        return rows

    def _close(self) -> None:
        # First, whatever fails below: a launcher that still waits for its nodes hears the relay end
        # (as the end of its fork server) rather than waiting for them forever.
        self.launcher.close()
        try:
            for host in self.hosts:
                if host.link is not None:
                    host.link.sock.close()
                host.files.end()
        finally:
            self._close_sockets()

    def _close_sockets(self) -> None:
        for index in list(self.node_ends):
            self._close_node_end(index)
        for stranger in list(self.strangers.values()):
            stranger.sock.close()
        self.listener.close()
        self.wake_read.close()
        self.wake_write.close()
        self.selector.close()
        if self.trace is not None:
            self.trace.close()


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _name(getter: Any) -> Any:
    try:
        name = getter()
    except OSError:
        return None
    return list(name[:2]) if isinstance(name, tuple) else name

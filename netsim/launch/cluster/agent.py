"""The host agent: one per host of a run over many hosts, forking that host's nodes.

The agent is what the cluster engine starts on each host (``netsim.launch.cluster.ray_cluster`` runs it in
a Ray actor pinned to the host). It connects to the launcher's relay (``netsim.launch.cluster.relay``),
proves the run key (``netsim.launch.cluster.hostlink``), starts a fork server (``netsim.launch.forkserver``,
the same one a single-host run uses) and then relays: the fork server's protocol both ways, and each
node's control stream as bytes. What the launcher's plans name on its own machine (the trace part,
log, socket and state directories) the agent moves into a directory of its own on this host, and it
gives each node the host's address to bind. At the end it sends the node directory's files back on
the link and removes its directory.

A node is this host's process: its pid is the one the fork server reports, and signals for it go
through the fork server as on one host. When the launcher goes (its link closes), the agent quits its
fork server, whose nodes then end themselves (``netsim.runtime.lifeline``).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from netsim.errors import CodecError
from netsim.launch import forkserver
from netsim.launch.cluster import hostlink
from netsim.launch.cluster.host_files import LineCorrector, is_trace_part
from netsim.launch.cluster.outbox import Outbox, keepalive, receive_now, watch_output
from netsim.runs.layout import NODE_DIR_NAME, STATE_DIR_NAME
from netsim.runtime.control import ControlProtocolError

CONNECT_TIMEOUT_S = 15.0
READ_BYTES = 256 * 1024
# How long the agent waits for its fork server to quit at the end before killing it.
QUIT_WAIT_S = 5.0


class AgentError(Exception):
    """The agent could not join the run (the launcher refused it, or cannot be reached)."""


class HostAgent:
    """One host's agent. ``serve`` runs it from the connection to the end of the run."""

    def __init__(
        self,
        launcher: tuple[str, int],
        run_key: bytes,
        host: str,
        address: str,
        address6: str | None = None,
        workdir: str | None = None,
    ) -> None:
        self.launcher = launcher
        self.run_key = run_key
        self.host = host
        self.address = address
        self.address6 = address6
        self.workdir = tempfile.mkdtemp(prefix=f"netsim-agent-{os.getpid()}-", dir=workdir or _tmp())
        self.node_dir = os.path.join(self.workdir, NODE_DIR_NAME)
        self.socket_dir = os.path.join(self.workdir, "s")
        os.makedirs(self.node_dir)
        os.mkdir(self.socket_dir, 0o700)
        self.selector = selectors.DefaultSelector()
        self.server: forkserver.ForkServer | None = None
        self.nodes: dict[int, Outbox] = {}
        self.link: Outbox | None = None
        self.decoder = hostlink.FrameDecoder()
        self.quitting = False
        self.forked = 0
        self.early: list[hostlink.Frame] = []
        self.correction: hostlink.ClockCorrection | None = None

    # ---- the run, from the connection to the end --------------------------------------------------

    def serve(self) -> dict[str, Any]:
        """Join the run and relay until it ends; what happened, as JSON values."""
        try:
            # The fork server imports netsim's runtime while the agent connects.
            self.server = forkserver.ForkServer.start()
            self._connect()
            self._relay()
            ended = "quit" if self.quitting else "launcher-gone"
        finally:
            self._stop_server()
            self._send_files()
            self._close()
        return {"host": self.host, "ended": ended, "nodes_forked": self.forked}

    def _connect(self) -> None:
        sock = socket.create_connection(self.launcher, timeout=CONNECT_TIMEOUT_S)
        keepalive(sock)
        # The launcher's requests may follow its welcome in the same read: frames of any size.
        decoder = hostlink.FrameDecoder()
        challenge, _ = _expect(sock, decoder, hostlink.CHALLENGE)
        launcher_nonce = str(challenge.get("nonce", ""))
        agent_nonce = hostlink.new_nonce()
        sock.sendall(
            hostlink.encode_control(
                hostlink.HELLO,
                host=self.host,
                nonce=agent_nonce,
                proof=hostlink.proof(self.run_key, "agent", self.host, launcher_nonce, agent_nonce),
                pid=os.getpid(),
            )
        )
        # What the launcher sent after its welcome (its requests so far) came in the same reads.
        welcome, self.early = _expect(sock, decoder, hostlink.WELCOME)
        self.decoder = decoder
        if not hostlink.proves(
            self.run_key, welcome.get("proof"), "launcher", self.host, launcher_nonce, agent_nonce
        ):
            sock.close()
            raise AgentError(f"{self.launcher}: the launcher did not prove the run key")
        self.link = Outbox(sock)
        self.selector.register(sock, selectors.EVENT_READ, ("launcher", None))
        assert self.server is not None
        self.selector.register(self.server.link.fileno, selectors.EVENT_READ, ("server", None))
        for frame in self.early:
            self._on_frame(frame)

    def _relay(self) -> None:
        assert self.link is not None
        while True:
            for key, events in self.selector.select(1.0):
                kind, index = key.data
                if events & selectors.EVENT_WRITE:
                    self._flush(kind, index)
                if not events & selectors.EVENT_READ:
                    continue
                if kind == "launcher":
                    if not self._read_launcher():
                        return
                elif kind == "server":
                    self._read_server()
                else:
                    self._read_node(index)
            if self.quitting:
                return

    # ---- from the launcher ---------------------------------------------------------------------------

    def _read_launcher(self) -> bool:
        assert self.link is not None
        data = receive_now(self.link.sock, READ_BYTES)
        if data is None:
            return True
        if not data:
            return False
        try:
            frames = self.decoder.feed(data)
        except CodecError:
            return False
        for frame in frames:
            self._on_frame(frame)
        return True

    def _on_frame(self, frame: hostlink.Frame) -> None:
        if frame.kind == hostlink.NODE:
            node = self.nodes.get(frame.value)
            if node is not None:
                with contextlib.suppress(OSError):
                    node.queue(frame.data)
                    watch_output(self.selector, node, ("node", frame.value))
        elif frame.kind == hostlink.CONTROL:
            self._on_control(frame.value)

    def _on_control(self, message: dict[str, Any]) -> None:
        assert self.server is not None
        kind = message.pop("kind")
        if kind == hostlink.CLOCK:
            self._to_launcher(
                hostlink.encode_control(
                    hostlink.CLOCK, asked_ns=message.get("asked_ns"), host_ns=time.monotonic_ns()
                )
            )
        elif kind == forkserver.SETUP:
            self.server.setup(
                tuple(message["node_names"]),
                self.run_key,
                list(message["apps"]),
                tuple((a, b) for a, b in message["program_links"]),
            )
        elif kind == forkserver.FORK:
            plans = [self._localise(plan) for plan in message["plans"]]
            self.server.send(forkserver.FORK, plans=plans, gated=bool(message["gated"]))
        elif kind in (forkserver.OPEN_GATE, forkserver.SIGNAL):
            self.server.send(kind, **message)
        elif kind == forkserver.QUIT:
            # The relay's measure of this host's clock, start and end: the parts are re-timed here.
            clock = message.get("clock")
            if isinstance(clock, dict):
                self.correction = hostlink.ClockCorrection(
                    hostlink.ClockSample(*clock["start"]), hostlink.ClockSample(*clock["end"])
                )
            self.quitting = True
        self._watch_server()

    def _localise(self, plan: dict[str, Any]) -> dict[str, Any]:
        """A plan as the launcher wrote it, with this host's directories and address."""
        plan = dict(plan)
        plan["trace_path"] = os.path.join(self.node_dir, os.path.basename(plan["trace_path"]))
        plan["log_path"] = os.path.join(self.node_dir, os.path.basename(plan["log_path"]))
        if plan.get("state_dir"):
            plan["state_dir"] = os.path.join(
                self.workdir, STATE_DIR_NAME, os.path.basename(plan["state_dir"])
            )
        plan["socket_dir"] = self.socket_dir
        plan["bind_host"] = self.address
        plan["bind_host6"] = self.address6
        self.forked += 1
        return plan

    # ---- from the fork server and the nodes ----------------------------------------------------------

    def _read_server(self) -> None:
        assert self.server is not None
        link = self.server.link
        try:
            messages = link.read()
        except (OSError, ControlProtocolError):
            messages, link.eof = [], True
        for message in messages:
            if message["kind"] == forkserver.FORKED:
                fd = link.fds.popleft()
                node = Outbox(socket.socket(fileno=fd))
                self.nodes[message["index"]] = node
                self.selector.register(node.sock, selectors.EVENT_READ, ("node", message["index"]))
            self._to_launcher(hostlink.encode_control(**message))
        if link.eof:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(link.fileno)
            if not self.quitting:
                # Without its fork server the host runs nothing: the launcher loses the host, and still
                # gets what its nodes traced (the files, then bye).
                self._to_launcher(hostlink.encode_control(hostlink.SERVER_LOST))
            self.quitting = True

    def _read_node(self, index: int) -> None:
        node = self.nodes[index]
        data = receive_now(node.sock, READ_BYTES)
        if data is None:
            return
        if data:
            self._to_launcher(hostlink.encode_node(index, data))
            return
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(node.sock)
        node.sock.close()
        del self.nodes[index]
        self._to_launcher(hostlink.encode_node_eof(index))

    def _to_launcher(self, data: bytes) -> None:
        assert self.link is not None
        with contextlib.suppress(OSError):
            self.link.queue(data)
        watch_output(self.selector, self.link, ("launcher", None))

    # ---- writing without blocking ---------------------------------------------------------------------

    def _flush(self, kind: str, index: int | None) -> None:
        if kind == "launcher" and self.link is not None:
            with contextlib.suppress(OSError):
                self.link.flush()
            watch_output(self.selector, self.link, ("launcher", None))
        elif kind == "server":
            self._watch_server()
        elif index in self.nodes:
            node = self.nodes[index]
            with contextlib.suppress(OSError):
                node.flush()
            watch_output(self.selector, node, ("node", index))

    def _watch_server(self) -> None:
        assert self.server is not None
        link = self.server.link
        with contextlib.suppress(OSError):
            link.flush()
        wants = link.pending_output
        if wants != link.wants_write:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants else 0)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.modify(link.fileno, events, ("server", None))
            link.wants_write = wants

    # ---- the end ------------------------------------------------------------------------------------

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.close(QUIT_WAIT_S)
        for node in self.nodes.values():
            node.sock.close()
        self.nodes.clear()

    def _send_files(self) -> None:
        """Every file of this host's node directory, back to the launcher; then ``bye``."""
        link = self.link
        if link is None:
            return
        try:
            link.sock.setblocking(True)
            if link.out:
                link.sock.sendall(link.out)
                link.out.clear()
            correction = self.correction
            link.sock.sendall(hostlink.encode_control(hostlink.FILES, corrected=correction is not None))
            for path in sorted(Path(self.node_dir).rglob("*")):
                if not path.is_file():
                    continue
                name = path.relative_to(self.node_dir).as_posix()
                corrector = LineCorrector(correction) if correction and is_trace_part(name) else None
                with path.open("rb") as file:
                    while chunk := file.read(hostlink.FILE_CHUNK_BYTES):
                        if corrector is not None:
                            chunk = corrector.feed(chunk)
                        link.sock.sendall(hostlink.encode_file(name, chunk))
                if corrector is not None:
                    link.sock.sendall(hostlink.encode_file(name, corrector.end()))
            link.sock.sendall(hostlink.encode_control(hostlink.BYE))
        except OSError:
            pass  # the launcher is gone: nobody to send them to

    def _close(self) -> None:
        if self.link is not None:
            with contextlib.suppress(OSError):
                self.link.sock.shutdown(socket.SHUT_WR)
                # Until the launcher has read everything (it closes first), or a while.
                self.link.sock.settimeout(30.0)
                while self.link.sock.recv(READ_BYTES):
                    pass
            self.link.sock.close()
        self.selector.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _expect(
    sock: socket.socket, decoder: hostlink.FrameDecoder, kind: str
) -> tuple[dict[str, Any], list[hostlink.Frame]]:
    """Read until one CONTROL message arrives; it must be ``kind``. Returns it, and the frames that
    came after it in the same reads."""
    while True:
        data = sock.recv(READ_BYTES)
        if not data:
            raise AgentError(f"the launcher closed the host link before its {kind}")
        try:
            frames = decoder.feed(data)
        except CodecError as error:
            raise AgentError(f"the launcher's {kind}: {error}") from None
        if frames:
            frame = frames[0]
            if frame.kind != hostlink.CONTROL or frame.value["kind"] != kind:
                raise AgentError(f"the launcher sent something else than its {kind}")
            return frame.value, frames[1:]


def _tmp() -> str | None:
    return "/tmp" if os.path.isdir("/tmp") else None


def host_addresses(address: str) -> str | None:
    """An IPv6 address (global or unique-local, not link-local) on the interface that holds the IPv4
    ``address``, for tcp6 and udp6 links to other hosts; None if it has none (Linux only)."""
    interface = _interface_of(address)
    if interface is None:
        return None
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # address hex, index, prefix length, scope, flags, name; scope 00 is global.
        if len(fields) == 6 and fields[5] == interface and fields[3] == "00":
            raw = bytes.fromhex(fields[0])
            return socket.inet_ntop(socket.AF_INET6, raw)
    return None


def _interface_of(address: str) -> str | None:
    import fcntl
    import struct

    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), siocgifaddr, request)
            except OSError:
                continue
            if socket.inet_ntoa(answer[20:24]) == address:
                return name
    return None

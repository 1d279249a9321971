"""A socket program's side of the network: who owns an address, what a link does to a send, and the
trace part its calls go to.

A socket program makes its own sockets, so netsim's own send path (``netsim.runtime.shaped_links``)
never sees its bytes. Conditions and faults act here instead, in the traced socket's calls
(``netsim.runtime.traced_socket``), with the same seeded ``LinkShaper`` decisions and the same trace
events (``delay``, ``drop``), for sends to a node that is a neighbour in the topology:

* a **datagram** (udp, udp6, unix-dgram) is dropped (loss, a full queue, a partition or a link that
  is down: a ``drop`` event with its ``digest``), or held for the link's latency, jitter and bandwidth
  and sent then (a ``delay`` event), perhaps twice (``duplicate``);
* **stream and seqpacket** bytes are never lost, as TCP loses none: they are held for the link's
  latency, and while a partition or a link fault lasts (TCP retransmitting), and a loss costs them a
  retransmission timeout (``RETRANSMIT_NS``) instead; they keep their order;
* a **connect** across a partition fails with ``ENETUNREACH``; on a link with latency it takes one
  round trip (twice the latency) longer.

The send call returns at once, as when the kernel's buffer takes the bytes: a held send does not block
the program. A thread (``DelayLine``) hands held bytes to the kernel when they are due, on a duplicate
of the socket's descriptor, so that a socket the program closed meanwhile still delivers what it sent
before its close, then closes (the peer sees the end of the stream after the bytes, as with a kernel
that lingers).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import heapq
import os
import select
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netsim.clock import now_ns
from netsim.runtime.hosts import SHARED_HOST, host_index, node_path_dir, path_index
from netsim.runtime.socket_calls import CONNECTED_TRANSPORTS, address_json, digest, error_text
from netsim.shaping.shaper import LinkShaper
from netsim.trace.writer import TraceWriter

if TYPE_CHECKING:
    from netsim.runtime.traced_socket import TracedSocket

# What a lost segment costs a stream: Linux's minimum retransmission timeout.
RETRANSMIT_NS = 200_000_000
# How often a held stream waits for a partition to heal before it looks again.
BLOCKED_RECHECK_NS = 20_000_000
# The run's directory of announced addresses (ProgramSockets.announce).
PORTS_DIR = "ports"
# A program's calls part is written to disk at least this often (a node can die without warning).
FLUSH_INTERVAL_NS = 200_000_000
# Past this many bytes held for one socket, its sends wait for the link (a send buffer's limit).
HELD_BYTES_LIMIT = 4 << 20


class ProgramSockets:
    """The node's bookkeeping for its program's sockets; shared by the program's thread(s) and the
    node's event loop, hence the lock around the trace part."""

    def __init__(
        self,
        *,
        node_name: str,
        node_index: int,
        node_names: tuple[str, ...],
        neighbours: tuple[str, ...],
        host: str,
        host_base: int,
        socket_dir: str,
        trace_path: str,
        seed: int,
        shapers: dict[str, LinkShaper],
    ) -> None:
        self.node_name = node_name
        self.node_index = node_index
        self.node_names = node_names
        self.neighbours = frozenset(neighbours)
        self.host = host
        # False where every node shares 127.0.0.1 (netsim.runtime.hosts): nothing to bind then.
        self.own_host = host_base != 0
        self.host_base = host_base
        self.socket_dir = socket_dir
        self.seed = seed
        # The node's LinkShapers, peer -> shaper, whose faults the node's loop sets (block, conditions);
        # empty while the run has no condition and no fault has touched a link of the node.
        self._node_shapers = self.link_shapers = shapers
        self._shapers: dict[tuple[str, bool], LinkShaper] = {}
        self.shaping_lock = threading.Lock()
        # Listeners that neighbours declared (net.listen before main): the only way to tell which node
        # owns a port on ::1, or on 127.0.0.1 where nodes share it.
        self.declared: dict[Any, str] = {}
        self._peer_cache: dict[Any, str | None] = {}
        self._lock = threading.Lock()
        self._trace_path = trace_path
        self._writer: TraceWriter | None = TraceWriter(trace_path, node_name)
        self._last_flush_ns = now_ns()
        # A child the program forks (a forking server) writes its calls to a part of its own, each
        # record at once (it may leave by os._exit): never into the buffer it inherited.
        self._flush_every_record = False
        os.register_at_fork(
            before=self._before_fork,
            after_in_parent=self._lock.release,
            after_in_child=self._in_forked_child,
        )
        self._number = 0
        # Activity, read by the node's loop: calls that moved bytes, and the program's threads blocked
        # in a receive or an accept (thread id -> the descriptor it waits on).
        self.calls = 0
        self.waiting_on: dict[int, int] = {}
        self.line = DelayLine(self)

    # ---- the trace part -------------------------------------------------------------------------------

    def new_number(self) -> int:
        with self._lock:
            self._number += 1
            return self._number

    def write(self, record: dict[str, Any]) -> None:
        """Write ``record``, time-stamped now: under the lock, so that the part stays in time order
        when the program's threads and the delay line write at once (the merge needs each part sorted)."""
        with self._lock:
            writer = self._writer
            if writer is None:
                return  # the node has written its stop: nothing after it
            record["ts_ns"] = ts_ns = now_ns()
            writer.write(record)
            if self._flush_every_record or ts_ns - self._last_flush_ns >= FLUSH_INTERVAL_NS:
                self._last_flush_ns = ts_ns
                writer.flush()

    def event(self, kind: str, **fields: Any) -> None:
        record: dict[str, Any] = {"ts_ns": 0, "node": self.node_name, "event": kind}
        record.update((key, value) for key, value in fields.items() if value is not None)
        self.write(record)

    def _before_fork(self) -> None:
        # Held across the fork, so that no thread is half-way through a record when the child copies it.
        self._lock.acquire()
        if self._writer is not None:
            self._writer.flush()

    def _in_forked_child(self) -> None:
        # A child of the program (a forking server's, a multiprocessing worker) is the program's process,
        # not a node: stop signals end it as they end any Python process, without netsim's NodeTerminated
        # (a Pool's exit SIGTERMs its workers).
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_DFL)
        self._lock = threading.Lock()
        self.line = DelayLine(self)  # the parent's delay line thread is not in the child
        if self._writer is None:
            return
        self._writer.close()  # flushed before the fork: nothing of the parent's is written twice
        stem, _, suffix = self._trace_path.rpartition(".trace.")
        self._writer = TraceWriter(f"{stem}-{os.getpid()}.trace.{suffix}", self.node_name)
        self._flush_every_record = True

    def flush(self) -> None:
        with self._lock:
            if self._writer is not None and self._writer.unflushed:
                self._writer.flush()
                self._last_flush_ns = now_ns()

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    # ---- who owns an address ----------------------------------------------------------------------------

    def learn_declared(self, peer: str, listeners: dict[str, Any]) -> None:
        for address in listeners.values():
            self.declared[_key(address)] = peer
        self._peer_cache.clear()

    def peer_of(self, address: Any) -> str | None:
        """The node whose address ``address`` (as JSON) is, or None for one that is no node's."""
        key = _key(address)
        cached = self._peer_cache.get(key, self)
        if cached is not self:
            return cached  # type: ignore[return-value]
        peer = self.declared.get(key)
        if peer is None:
            index = None
            if isinstance(address, list) and len(address) >= 2 and isinstance(address[0], str):
                index = host_index(self.host_base, address[0]) if len(address) == 2 else None
                if index is None:
                    index = self._announced(address[0], address[1])
                    if index is None:
                        return None  # perhaps not announced yet: asked again next time
            elif isinstance(address, str) and address:
                # A path under a node's net.path directory, or an abstract name netsim gave a client.
                index = path_index(self.socket_dir, address[1:] if address.startswith("@") else address)
            if index is not None and index < len(self.node_names):
                peer = self.node_names[index]
        if len(self._peer_cache) > 10_000:
            self._peer_cache.clear()
        self._peer_cache[key] = peer
        return peer

    # ---- addresses that do not say whose they are -----------------------------------------------------
    # On ::1, and on 127.0.0.1 where nodes share it, only a port tells nodes apart: each node announces
    # the address of every such socket it binds, before it connects or sends from it, as a symbolic
    # link in the run's private directory (ports/HOST_PORT -> node index), and a node that meets the
    # address looks it up there.

    def announce(self, address: Any) -> None:
        if not (isinstance(address, tuple) and len(address) >= 2):
            return
        host, port = address[0], address[1]
        if self.own_host and not host.startswith("::") and host != SHARED_HOST:
            return  # the node's own IPv4 address says whose it is
        directory = os.path.join(self.socket_dir, PORTS_DIR)
        link = os.path.join(directory, f"{host}_{port}")
        staging = f"{link}.{os.getpid()}"
        try:
            os.makedirs(directory, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staging)
            os.symlink(str(self.node_index), staging)
            os.replace(staging, link)  # a port another node had before is this node's now
        except OSError:
            pass  # the run is ending (its directory is gone): nothing to announce to

    def _announced(self, host: str, port: Any) -> int | None:
        try:
            target = os.readlink(os.path.join(self.socket_dir, PORTS_DIR, f"{host}_{port}"))
        except OSError:
            return None
        return int(target) if target.isdigit() else None

    def client_name(self, number: int) -> str:
        """The abstract AF_UNIX name netsim binds an unbound client socket to: it says whose it is."""
        return f"\0{node_path_dir(self.socket_dir, self.node_index)}/.{os.getpid()}.{number}"

    # ---- conditions and faults ------------------------------------------------------------------------

    def _shaper(self, peer: str | None, ordered: bool) -> tuple[LinkShaper | None, str | None]:
        """This program's shaper for sends to ``peer`` (None: the link has no conditions), and the
        fault that blocks the link now, if one does."""
        if peer is None or peer == self.node_name or peer not in self.neighbours:
            return None, None
        base = self._node_shapers.get(peer)
        if base is None:
            return None, None
        shaper = self._shapers.get((peer, ordered))
        if shaper is None:
            kind = "stream" if ordered else "datagram"
            shaper = LinkShaper(
                base.conditions, seed=f"{self.seed}:{self.node_name}->{peer}:{kind}", ordered=ordered
            )
            self._shapers[(peer, ordered)] = shaper
        elif shaper.conditions is not base.conditions:
            shaper.conditions = base.conditions  # a "slow" fault changed the link
        return shaper, base.blocked

    def before_connect(self, sock: TracedSocket, address: Any) -> None:
        """Refuse a connect across a partition; make one over a slow link take its round trip."""
        peer = self.peer_of(address_json(address))
        shaper, blocked = self._shaper(peer, True)
        if shaper is None:
            return
        if blocked is not None:
            raise OSError(
                errno.ENETUNREACH,
                f"{os.strerror(errno.ENETUNREACH)} ({blocked} between {self.node_name} and {peer})",
            )
        round_trip_ns = 2 * shaper.conditions.latency_ns
        if round_trip_ns:
            time.sleep(round_trip_ns / 1e9)

    def shaped_send(self, sock: TracedSocket, payload: memoryview, address: Any, now: int) -> bool:
        """True when the link took the send (held for later, or dropped); False: send it now."""
        held = self.line.holds(sock)
        if address is None:
            sock._names_now()  # noqa: SLF001 - the socket learns its peer on its first call
            peer = sock._peer  # noqa: SLF001
        else:
            peer = self.peer_of(address_json(address))
        ordered = sock.transport in CONNECTED_TRANSPORTS
        shaper, blocked = self._shaper(peer, ordered)
        if shaper is None:
            if not held:
                return False
            self.line.hold(sock, now, bytes(payload), address, peer)
            return True
        size = payload.nbytes
        fields = {"sock": sock.number, "transport": sock.transport, "peer": peer, "nbytes": size}
        if not ordered:
            # A datagram waits in the link's queue until the delay line sends it (``released`` then),
            # so the queue limit counts what really waits; the program's threads share the shaper.
            with self.shaping_lock:
                if blocked is None:
                    drop, releases, _, _ = shaper.decide(now, size)
                else:
                    drop, releases = blocked, ()
                if drop is None and releases[0] <= now and not held and len(releases) == 1:
                    shaper.released(size)
                    return False
            if drop is not None:
                self.event("drop", reason=drop, digest=digest(payload), **fields)
                return True
            if len(releases) > 1:
                # The addresses and digest let `trace verify` expect the second copy.
                sockname = sock._names_now()[0]  # noqa: SLF001
                peername = address_json(address) if address is not None else sock._names_now()[1]  # noqa: SLF001
                self.event(
                    "duplicate",
                    delay_ns=releases[1] - now,
                    digest=digest(payload),
                    sockname=sockname,
                    peername=peername,
                    **fields,
                )
            self.event("delay", delay_ns=releases[0] - now, **fields)
            for release in releases:
                self.line.hold(sock, release, bytes(payload), address, peer, shaper)
            return True
        if shaper.instant and shaper.admits_all and blocked is None and not held:
            shaper.draw(160)  # the draw a decide would take: the same bits whatever the settings
            return False
        drop, releases, _, _ = shaper.decide(now, size)
        for _ in releases:
            shaper.released(size)
        # Bytes leave in order: none before what the link still holds of this socket (head-of-line).
        release = max(releases[0] if releases else now, self.line.last_release(sock))
        reason = None
        if blocked is not None:
            reason = blocked
        elif drop is not None:
            # A stream loses nothing: a lost segment is sent again, a retransmission timeout later.
            reason, release = drop, now + RETRANSMIT_NS
        if release <= now and not held and reason is None:
            return False
        self.event("delay", delay_ns=max(0, release - now), reason=reason, **fields)
        self.line.hold(sock, release, bytes(payload), address, peer)
        return True

    def blocked(self, peer: str | None) -> str | None:
        if peer is None:
            return None
        base = self._node_shapers.get(peer)
        return base.blocked if base is not None else None

    def shutdown_after_held(self, sock: TracedSocket, how: int) -> bool:
        return self.line.shutdown_after(sock, how)

    def close_after_held(self, sock: TracedSocket) -> None:
        self.line.close_after(sock)

    def adopt(self, family: int, kind: int, proto: int, fd: int) -> TracedSocket:
        """A TracedSocket for a descriptor the kernel gave (accept)."""
        from netsim.runtime.traced_socket import TracedSocket

        sock = TracedSocket(family, kind, proto, fileno=fd)
        sock._adopt(self)  # noqa: SLF001
        return sock


def _key(address: Any) -> Any:
    if isinstance(address, list):
        return tuple(address[:2])
    return address


_HeldItem = tuple[int, bytes, Any, LinkShaper | None]


@dataclass
class _Held:
    """What one socket's link holds: its bytes in order, on a duplicate of its descriptor."""

    out: socket.socket
    peer: str | None
    # (release_ns, payload, address, the shaper whose queue holds it: datagrams only)
    items: collections.deque[_HeldItem] = field(default_factory=collections.deque)
    held_bytes: int = 0
    shutdown_how: int | None = None
    closing: bool = False


class DelayLine:
    """Hands held bytes to the kernel when due, from its own thread (started by the first hold)."""

    def __init__(self, sockets: ProgramSockets) -> None:
        self.sockets = sockets
        self._held: dict[int, _Held] = {}
        self._due: list[tuple[int, int, int]] = []  # (release_ns, seq, socket number) of each head
        self._seq = 0
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._hurry = False
        # The delay line's thread failed (a bug in netsim): its traceback, for the node's loop to raise.
        self.failure: str | None = None

    def __bool__(self) -> bool:
        return bool(self._held)

    @property
    def thread_id(self) -> int | None:
        """The delay line's own thread (None before the first hold): not the program's."""
        return self._thread.ident if self._thread is not None else None

    def holds(self, sock: TracedSocket) -> bool:
        return sock.number in self._held

    def last_release(self, sock: TracedSocket) -> int:
        """When the last of what the link holds of ``sock`` is due (0: it holds nothing)."""
        held = self._held.get(sock.number)
        return held.items[-1][0] if held is not None and held.items else 0

    def hold(
        self,
        sock: TracedSocket,
        release_ns: int,
        payload: bytes,
        address: Any,
        peer: str | None,
        queued_in: LinkShaper | None = None,
    ) -> None:
        """Send ``payload`` at ``release_ns``, after what the link holds of ``sock``; ``queued_in``: the
        shaper whose queue counts it until then."""
        with self._cv:
            held = self._held.get(sock.number)
            if held is None:
                # SOCK_NONBLOCK: the new object leaves the descriptor's flags alone, which the program's
                # socket shares (with socket.setdefaulttimeout set, a plain one would make the
                # program's blocking socket non-blocking); _deliver waits out EAGAIN itself.
                fd = os.dup(socket.socket.fileno(sock))
                out = socket.socket(sock.family, sock.type | socket.SOCK_NONBLOCK, sock.proto, fd)
                held = self._held[sock.number] = _Held(out, peer)
                self._push(release_ns, sock.number)
            held.items.append((release_ns, payload, address, queued_in))
            held.held_bytes += len(payload)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="netsim-delay-line", daemon=True)
                self._thread.start()
            self._cv.notify()
            # A send buffer's limit: the program's sends wait while the link holds this much.
            while held.held_bytes > HELD_BYTES_LIMIT and sock.number in self._held:
                self._cv.wait(0.05)

    def wait_released(self, sock: TracedSocket) -> None:
        """Wait until the link holds nothing of ``sock``: a send that cannot be held goes after it."""
        with self._cv:
            while sock.number in self._held:
                self._cv.wait(0.05)

    def _push(self, release_ns: int, number: int) -> None:
        self._seq += 1
        heapq.heappush(self._due, (release_ns, self._seq, number))

    def shutdown_after(self, sock: TracedSocket, how: int) -> bool:
        with self._cv:
            held = self._held.get(sock.number)
            if held is None:
                return False
            held.shutdown_how = how if held.shutdown_how is None else socket.SHUT_RDWR
            return True

    def close_after(self, sock: TracedSocket) -> None:
        with self._cv:
            held = self._held.get(sock.number)
            if held is not None:
                held.closing = True

    def release_all(self) -> None:
        """The run is ending: what the links hold was sent before the stop, so it goes now."""
        with self._cv:
            self._hurry = True
            self._cv.notify()

    def _serve(self) -> None:
        try:
            self._deliver_due()
        except BaseException:  # noqa: BLE001 - netsim's own failure: the node reports it and fails
            self.failure = traceback.format_exc()

    def _deliver_due(self) -> None:
        while True:
            with self._cv:
                while True:
                    if self._due:
                        release_ns, _, number = self._due[0]
                        wait_ns = 0 if self._hurry else release_ns - now_ns()
                        if wait_ns <= 0:
                            heapq.heappop(self._due)
                            break
                        self._cv.wait(wait_ns / 1e9)
                    else:
                        self._cv.wait()
                held = self._held[number]
                blocked = None if self._hurry else self.sockets.blocked(held.peer)
                if blocked is not None and held.out.type != socket.SOCK_DGRAM:
                    # A stream's bytes wait out the fault, in order, as TCP's retransmissions would.
                    self._push(now_ns() + BLOCKED_RECHECK_NS, number)
                    continue
                _, payload, address, queued_in = held.items.popleft()
                held.held_bytes -= len(payload)
            failed = self._deliver(held, payload, address)
            if queued_in is not None:
                self._left_queue(queued_in, len(payload))
            with self._cv:
                if failed or not held.items:
                    self._finish(number, held, failed)
                else:
                    self._push(held.items[0][0], number)
                self._cv.notify_all()

    def _deliver(self, held: _Held, payload: bytes, address: Any) -> BaseException | None:
        view = memoryview(payload)
        try:
            while view.nbytes:
                try:
                    sent = held.out.sendto(view, address) if address is not None else held.out.send(view)
                except BlockingIOError:
                    # The descriptor is non-blocking (the program's timeout or asyncio): wait for room.
                    select.select([], [held.out], [], 1.0)
                    continue
                if address is not None or held.out.type != socket.SOCK_STREAM:
                    return None
                view = view[sent:]
        except OSError as error:
            self.sockets.event(
                "drop", reason="link-down", peer=held.peer, nbytes=len(payload), error=error_text(error)
            )
            return error
        return None

    def _finish(self, number: int, held: _Held, failed: BaseException | None) -> None:
        """The socket's link holds nothing more: do what the program asked meanwhile, then let go."""
        lost = sum(len(item[1]) for item in held.items)
        if lost:
            self.sockets.event("drop", reason="link-down", peer=held.peer, nbytes=lost)
        for _, payload, _, queued_in in held.items:
            if queued_in is not None:
                self._left_queue(queued_in, len(payload))
        held.items.clear()
        if held.shutdown_how is not None and failed is None:
            with contextlib.suppress(OSError):
                held.out.shutdown(held.shutdown_how)
        held.out.close()
        del self._held[number]

    def _left_queue(self, shaper: LinkShaper, nbytes: int) -> None:
        with self.sockets.shaping_lock:
            shaper.released(nbytes)

"""The sockets a node's event loop serves, one class per way of moving bytes.

This is the only place in netsim that calls send, recv, accept and friends on a link. Each channel
turns socket readiness into calls on its ``owner`` (the node, and its ``links`` for what ends a
link): a decoded message, bad bytes, a closed socket. A link channel writes the send records of what
the kernel took itself, since each is stamped at its own syscall, and counts them in the node's
counters. Which class serves a socket depends only on the transport's ``connected`` and ``framing``
flags.

Why one module of over 500 lines: it is the one place that calls the socket, and its classes keep
one set of rules together (which errors close a link, when a send is traced and counted, how much
one readiness event may read), which a reader checks side by side; the stream and packet classes
are each one state machine over their socket, not separable further without splitting those rules.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import socket
from collections import deque
from typing import TYPE_CHECKING, Any

from netsim.clock import now_ns
from netsim.errors import CodecError
from netsim.runtime.lifeline import handoff
from netsim.trace.writer import BATCH_ROWS, MessageRecords
from netsim.transport.base import Address, Transport, would_block
from netsim.transport.inet import (
    BATCH_ANCILLARY_BYTES,
    BATCH_READ_BYTES,
    segment_size_of,
    segment_size_option,
)
from netsim.wire.auth import DATAGRAM_TAG_BYTES
from netsim.wire.codec import decode_message, decode_messages
from netsim.wire.datagram_batches import MAX_SEGMENTS, batch_length, split_segments
from netsim.wire.framing import LENGTH_PREFIX, PREFIX_SIZE, FrameDecoder
from netsim.wire.message import Message

if TYPE_CHECKING:
    from netsim.runtime.node import Node

# (msg_id, msg_type, lamport, in_reply_to) of a message waiting to be sent.
Outgoing = tuple[str, str, int, "str | None"]

RECEIVE_BUFFER_BYTES = 256 * 1024
# accept() errors that say the process (or the system) has no room for another socket right now.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Read at most this many packets per readiness event, so one busy socket cannot starve the rest.
PACKET_BATCH = 64
# ... and at most this many datagrams, where one read may bring a run of them.
DATAGRAM_BATCH = 256
# Where datagrams go in runs, a callback that has queued this many sends them before it goes on: a
# receiver woken for several runs at once reads them all (on loopback, 4 runs a wake-up beat 1).
RUNS_AT_ONCE = 4 * MAX_SEGMENTS
# What a send of a run of datagrams fails with where the kernel will not cut it up (see _runs_refused).
RUNS_REFUSED = frozenset({errno.EMSGSIZE, errno.EINVAL, errno.EIO, errno.EOPNOTSUPP, errno.ENOPROTOOPT})
# ... of which these say that its datagrams were larger than the route takes in a run (its MTU):
# EMSGSIZE on newer kernels (seen on 6.18), EINVAL on older ones.
RUN_SEGMENT_TOO_LARGE = frozenset({errno.EMSGSIZE, errno.EINVAL})
_pack_length = LENGTH_PREFIX.pack
# Stop writing to the kernel once this much is queued for one stream; the rest waits for EVENT_WRITE.
SEND_CHUNK_BYTES = 256 * 1024


class Channel:
    """One socket in the node's selector."""

    def __init__(
        self,
        owner: Node,
        sock: socket.socket,
        transport: Transport,
        peername: Address | None,
        *,
        owns_path: bool = False,
    ) -> None:
        self.owner = owner
        self.sock = sock
        self.transport = transport
        self.sockname: Address = sock.getsockname()
        self.peername: Address | None = peername
        self.fileno = sock.fileno()
        self.closed = False
        self.wants_write = False
        # An AF_UNIX path this socket bound itself (accepted sockets share the listener's) is
        # removed when the socket closes, so a run leaves no socket files behind.
        self.owned_path: str | None = self.sockname if owns_path and isinstance(self.sockname, str) else None

    def trace_fields(self) -> dict[str, Any]:
        """The fields every trace record about this socket carries (a fresh dict: callers may add to it)."""
        fields: dict[str, Any] = {"transport": self.transport.name, "sockname": self.sockname}
        if self.peername is not None:
            fields["peername"] = self.peername
        return fields

    def on_readable(self) -> None:
        raise NotImplementedError

    def on_writable(self) -> None:
        pass

    @property
    def pending_output(self) -> bool:
        return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.sock.close()
        if self.owned_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.owned_path)


class Listener(Channel):
    """A listening socket of a connected transport: accepts links (their hello says whose)."""

    def __init__(self, owner: Node, sock: socket.socket, transport: Transport) -> None:
        super().__init__(owner, sock, transport, None, owns_path=True)
        # Seconds the last pause in accepting lasted (0: not paused lately); see Node.pause_accepting.
        self.backoff_s = 0.0

    def on_readable(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError as error:
                if would_block(error):
                    return
                if error.errno in OUT_OF_RESOURCES:
                    # The connection stays in the kernel's queue, so the listener stays readable:
                    # accepting again at once would spin. Pause, and accept it later.
                    self.owner.links.pause_accepting(self, error)
                    return
                self.owner.links.on_socket_error(self, error)
                return
            self.backoff_s = 0.0
            conn.setblocking(False)
            self.owner.links.on_accepted(self, conn)


class LinkChannel(Channel):
    """A socket that carries messages to and from one peer (``peer`` is None until the hello names it)."""

    send_event = "send"
    receive_event = "recv"
    # Bytes the framing adds to each message's payload on the wire.
    frame_overhead = 0

    def __init__(
        self,
        owner: Node,
        sock: socket.socket,
        transport: Transport,
        peername: Address,
        peer: str | None,
        *,
        owns_path: bool = False,
    ) -> None:
        super().__init__(owner, sock, transport, peername, owns_path=owns_path)
        self.peer = peer
        # The largest payload an app's message may encode to: a sealed datagram's tag takes its share.
        self.max_message_bytes = transport.max_message_bytes - (DATAGRAM_TAG_BYTES if transport.sealed else 0)
        # The node's counters. A channel counts the messages the kernel takes from it; the node notices
        # the count move and takes that as activity.
        self._counters = owner.counters
        self._make_records()
        self.write_shut = False
        self.eof_received = False
        # False while a connection has not proved that its other end belongs to the run (the hello;
        # see netsim.runtime.handshake): its messages go to the handshake, not to the app.
        self.proven = True

    def set_peer(self, peer: str) -> None:
        self.peer = peer
        self._make_records()

    def _make_records(self) -> None:
        """The writers of this link's send and receive records (they depend on the peer's name)."""
        base = self.trace_fields()
        self.send_records = self.owner.trace.message_records(self.send_event, base)
        self.receive_records = self.owner.trace.message_records(self.receive_event, base)

    def queue(self, payload: bytes, outgoing: Outgoing) -> bool:
        """Take one encoded message (``outgoing`` is what its send record needs); True if the loop must
        call flush() once the current callback returns."""
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    @property
    def backlog(self) -> int:
        """Messages waiting because the kernel would not take them yet (see NodeContext.backlog)."""
        raise NotImplementedError

    def shut_write(self) -> None:
        """Tell the peer we send no more: it reads EOF after every byte we sent (connections only)."""
        if self.transport.connected and not self.write_shut and not self.closed:
            self.write_shut = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)

    def trace_fields(self) -> dict[str, Any]:
        fields = super().trace_fields()
        if self.peer is not None:
            fields["peer"] = self.peer
        return fields


class StreamChannel(LinkChannel):
    """A byte stream (TCP, AF_UNIX stream): length-prefixed frames, decoded by the sans-I/O FrameDecoder."""

    frame_overhead = PREFIX_SIZE

    def __init__(
        self,
        owner: Node,
        sock: socket.socket,
        transport: Transport,
        peername: Address,
        peer: str | None,
        *,
        owns_path: bool = False,
    ) -> None:
        super().__init__(owner, sock, transport, peername, peer, owns_path=owns_path)
        self.decoder = FrameDecoder(max_frame_bytes=transport.max_message_bytes)
        self._output = bytearray()
        # Bytes of the stream already dropped from the front of _output, so that the offsets below stay
        # valid when _output is compacted.
        self._output_start = 0
        # (stream offset where the frame ends, its size, what its send record needs), oldest first
        self._unsent: deque[tuple[int, int, Outgoing]] = deque()
        # How much of _output the kernel has taken.
        self._sent_offset = 0

    @property
    def pending_output(self) -> bool:
        return bool(self._unsent)

    @property
    def backlog(self) -> int:
        # What a callback queued goes to the kernel when it returns: it is backlog only behind a refusal.
        return len(self._unsent) if self.wants_write else 0

    def queue(self, payload: bytes, outgoing: Outgoing) -> bool:
        """Append the frame; the loop writes every frame a callback queued with as few sends as it can."""
        output = self._output
        output += _pack_length(len(payload))
        output += payload
        self._unsent.append((self._output_start + len(output), len(payload) + PREFIX_SIZE, outgoing))
        return True

    @handoff
    def flush(self) -> None:
        output = self._output
        while self._sent_offset < len(output):
            end = min(len(output), self._sent_offset + SEND_CHUNK_BYTES)
            # Stamped before the syscall, so no receive can be traced earlier than its send.
            sent_at = now_ns()
            try:
                with memoryview(output) as view:
                    sent = self.sock.send(view[self._sent_offset : end])
            except OSError as error:
                if would_block(error):
                    break
                self.owner.links.on_socket_error(self, error)
                return
            self._sent_offset += sent
            self._report_sent(sent_at)
        sent_offset = self._sent_offset
        # Drop what the kernel took once it is at least half the buffer, so that moving the rest costs
        # no more than the bytes sent since; a backlog is never moved once per flush.
        if sent_offset >= len(output) or (sent_offset > SEND_CHUNK_BYTES and 2 * sent_offset >= len(output)):
            del output[:sent_offset]
            self._output_start += sent_offset
            self._sent_offset = 0
        self.owner.want_write(self, bool(self._unsent))

    @handoff
    def _report_sent(self, sent_at: int) -> None:
        """Trace every frame the kernel now has whole, stamped with the time of the send that finished it."""
        unsent = self._unsent
        sent_end = self._output_start + self._sent_offset
        if unsent and unsent[-1][0] <= sent_end:
            # The usual case: the kernel took every frame queued.
            sent = list(unsent)
            unsent.clear()
        else:
            popleft = unsent.popleft
            sent = []
            while unsent and unsent[0][0] <= sent_end:
                sent.append(popleft())
        if not sent:
            return
        self.send_records.extend(
            [
                (sent_at, nbytes, msg_id, msg_type, lamport, in_reply_to)
                for _, nbytes, (msg_id, msg_type, lamport, in_reply_to) in sent
            ]
        )
        first_end, first_size, _ = sent[0]
        counters = self._counters
        counters["sent"] += len(sent)
        counters["bytes_sent"] += sent[-1][0] - first_end + first_size

    def on_writable(self) -> None:
        self.flush()

    def on_readable(self) -> None:
        try:
            count = self.sock.recv_into(self.owner.receive_buffer)
        except OSError as error:
            if not would_block(error):
                self.owner.links.on_socket_error(self, error)
            return
        if count == 0:
            self._on_eof()
            return
        owner = self.owner
        decoder = self.decoder
        decoder.feed(owner.receive_view[:count])
        while not self.closed:
            try:
                if self.proven:
                    frames = decoder.next_frames()
                else:
                    # The hello alone, under the hello's size limit; what follows it may be larger.
                    frame = decoder.next_frame()
                    frames = [frame] if frame is not None else []
            except CodecError as error:
                owner.links.on_bad_bytes(self, error, decoder.buffered)
                return
            if not frames:
                return
            owner.on_messages(self, frames)

    def _on_eof(self) -> None:
        self.eof_received = True
        try:
            self.decoder.close()
        except CodecError as error:
            self.owner.links.on_bad_bytes(self, error, self.decoder.buffered)
            return
        self.owner.links.on_peer_closed(self)


class PacketChannel(LinkChannel):
    """One message per packet: AF_UNIX seqpacket links, and the sending socket of a datagram link."""

    def __init__(
        self,
        owner: Node,
        sock: socket.socket,
        transport: Transport,
        peername: Address,
        peer: str | None,
        *,
        owns_path: bool = False,
    ) -> None:
        if not transport.connected:
            self.send_event = "sendto"
            self.receive_event = "recvfrom"
        super().__init__(owner, sock, transport, peername, peer, owns_path=owns_path)
        self._unsent: deque[tuple[bytes, Outgoing]] = deque()
        # An error a send made inside a callback, reported by the next flush (from the loop, where
        # closing the link and telling the app cannot interleave with the app's own code).
        self._send_failure: OSError | None = None
        # The link socket is connected (a datagram one to the peer's receiver), so send() needs no
        # address: on Linux it is the sendto(2) syscall with none, and no path or route is looked up.
        self._send = sock.send
        # Where the transport is sealed, what makes a payload its datagram and reads it back (None: the
        # packet is the payload). Called where the packet is sent or read, with no wrapper between.
        self._seal: Any = None
        self._open: Any = None
        if transport.sealed:
            self._seal = owner.run_key.seal
            self._open = owner.run_key.open
        # Where the kernel takes a run of datagrams in one call (UDP_SEGMENT), what a callback sends
        # waits for its end, as on a stream, and goes in runs (netsim.wire.datagram_batches).
        # _segment_limit: the largest datagram a run may hold, lowered where the kernel refused one
        # (a route whose MTU is smaller); 0 once it refused runs altogether.
        self._batching = transport.batches_datagrams
        self._segment_limit = transport.max_message_bytes if self._batching else 0
        self._tag_bytes = DATAGRAM_TAG_BYTES if transport.sealed else 0

    @property
    def pending_output(self) -> bool:
        return bool(self._unsent)

    @property
    def backlog(self) -> int:
        if self._batching and not self.wants_write:
            # What a callback queued goes to the kernel when it returns: backlog only behind a refusal.
            return 0
        return len(self._unsent)

    @handoff
    def queue(self, payload: bytes, outgoing: Outgoing) -> bool:
        """Send at once, as a socket program would, unless earlier messages still wait for the kernel.

        Where the kernel takes runs of datagrams, messages wait to go as runs: once a full run's worth
        waits, or at the end of the callback (flush). Otherwise there is nothing to gather (one message
        per packet), and the app learns of a full queue at the send that found it full (``backlog``),
        not after its callback.
        """
        unsent = self._unsent
        if unsent or self.closed or self._batching:
            unsent.append((payload, outgoing))
            if len(unsent) == RUNS_AT_ONCE and self._batching and not self.wants_write and not self.closed:
                # A callback that sends very many keeps the receiver busy meanwhile, and its memory flat.
                self._send_now()
            return not self.wants_write
        seal = self._seal
        sent_at = now_ns()
        try:
            nbytes = self._send(payload if seal is None else seal(payload))
        except OSError as error:
            unsent.append((payload, outgoing))
            if would_block(error):
                self.owner.want_write(self, True)
                return False
            self._send_failure = error
            return True
        msg_id, msg_type, lamport, in_reply_to = outgoing
        # The send record, appended as MessageRecords.write would: one Python call fewer per packet.
        records = self.send_records
        if records.writer.pending is not records:
            records.begin()
        rows = records.rows
        rows.append((sent_at, nbytes, msg_id, msg_type, lamport, in_reply_to))
        if len(rows) >= BATCH_ROWS:
            records.write_rows()
        counters = self._counters
        counters["sent"] += 1
        counters["bytes_sent"] += nbytes
        return False

    @handoff
    def flush(self) -> None:
        if self._send_failure is not None:
            failure, self._send_failure = self._send_failure, None
            self.owner.links.on_socket_error(self, failure)
            if self.closed:
                return
        failure = self._send_waiting()
        if failure is not None:
            self.owner.links.on_socket_error(self, failure)
            if self.closed:
                return
            # Still open (UDP after an ICMP error): the message that failed is tried again when the
            # socket is writable, which a UDP socket is at once.
        self.owner.want_write(self, bool(self._unsent))

    def _send_now(self) -> None:
        """Send what waits from inside a callback: a failure waits for the loop's flush to be reported
        (the app's callback is not interrupted by its own link going down)."""
        if self._send_failure is None:
            self._send_failure = self._send_waiting()
        if self._unsent and self._send_failure is None:
            self.owner.want_write(self, True)

    def _send_waiting(self) -> OSError | None:
        """Send waiting messages, in order, until none is left or the kernel refuses one; count and
        trace what it took. Returns the error that stopped it, if not a full socket buffer."""
        unsent = self._unsent
        send = self._send
        seal = self._seal
        write = self.send_records.write
        count = total = 0
        failure = None
        while unsent:
            run = self._run_length() if self._segment_limit and len(unsent) > 1 else 1
            if run > 1:
                try:
                    total += self._send_run(run)
                except OSError as error:
                    if would_block(error):
                        break
                    if error.errno in RUNS_REFUSED:
                        self._runs_refused(error)
                        continue
                    failure = error
                    break
                count += run
                continue
            payload, (msg_id, msg_type, lamport, in_reply_to) = unsent[0]
            sent_at = now_ns()
            try:
                nbytes = send(payload if seal is None else seal(payload))
            except OSError as error:
                if not would_block(error):
                    failure = error
                break
            unsent.popleft()
            write(sent_at, nbytes, msg_id, msg_type, lamport, in_reply_to)
            count += 1
            total += nbytes
        if count:
            counters = self._counters
            counters["sent"] += count
            counters["bytes_sent"] += total
        return failure

    def _run_length(self) -> int:
        """How many of the waiting datagrams the next send can carry as one run."""
        tag_bytes = self._tag_bytes
        return batch_length(
            (len(payload) + tag_bytes for payload, _ in self._unsent),
            max_bytes=self.transport.max_message_bytes,
            max_segment=self._segment_limit,
        )

    def _send_run(self, run: int) -> int:
        """Send the first ``run`` waiting datagrams in one call, as the kernel's segments of one buffer;
        trace each as the datagram it is, and return the bytes sent."""
        unsent = self._unsent
        seal = self._seal
        batch = list(itertools.islice(unsent, run))
        datagrams = [payload if seal is None else seal(payload) for payload, _ in batch]
        # Stamped before the syscall, so no receive can be traced earlier than its send.
        sent_at = now_ns()
        nbytes = self.sock.sendmsg([b"".join(datagrams)], segment_size_option(len(datagrams[0])))
        for _ in range(run):
            unsent.popleft()
        self.send_records.extend(
            [
                (sent_at, len(datagram), msg_id, msg_type, lamport, in_reply_to)
                for datagram, (_, (msg_id, msg_type, lamport, in_reply_to)) in zip(
                    datagrams, batch, strict=True
                )
            ]
        )
        return nbytes

    def _runs_refused(self, error: OSError) -> None:
        """The kernel would not send a run: its datagrams, and any as large, go one per call from now on.

        A segment larger than the route's MTU allows (RUN_SEGMENT_TOO_LARGE): runs of smaller ones
        still go. The other errors: no runs on this route.
        """
        if error.errno in RUN_SEGMENT_TOO_LARGE:
            self._segment_limit = len(self._unsent[0][0]) + self._tag_bytes - 1
        else:
            self._segment_limit = 0

    def on_writable(self) -> None:
        self.flush()

    def on_readable(self) -> None:
        """Read up to PACKET_BATCH packets; their messages reach the node before any problem does.

        The packets of one read are decoded together (``decode_messages``); a bad one stops the read
        there as before: the packets after it are not the node's to receive, and the link closes.
        """
        owner = self.owner
        limit = self.transport.max_message_bytes
        recv = self.sock.recv
        open_packet = self._open
        payloads: list[bytes] = []
        sizes: list[int] = []
        failure: OSError | CodecError | None = None
        eof = False
        size = 0
        for _ in range(PACKET_BATCH):
            try:
                packet = recv(limit + 1)
            except OSError as error:
                if not would_block(error):
                    failure = error
                break
            size = len(packet)
            if not size:
                eof = True
                break
            if size > limit:
                failure = CodecError(f"packet larger than {limit} bytes")
                break
            if open_packet is not None:
                try:
                    packet = open_packet(packet)
                except CodecError as error:
                    failure = error
                    break
            # A packet is one bare payload: decode_datagram is decode_message.
            payloads.append(packet)
            sizes.append(size)
        if payloads:
            messages: list[tuple[Message, int]]
            try:
                messages = list(zip(decode_messages(payloads), sizes, strict=True))
            except CodecError:
                # The first bad packet is the read's first problem: what came after it is dropped.
                messages = []
                for payload, payload_size in zip(payloads, sizes, strict=True):
                    try:
                        messages.append((decode_message(payload), payload_size))
                    except CodecError as error:
                        failure, size, eof = error, payload_size, False
                        break
            if messages:
                owner.on_messages(self, messages)
        if self.closed:
            return
        if eof:
            self._on_eof()
        elif isinstance(failure, CodecError):
            owner.links.on_bad_bytes(self, failure, size)
        elif failure is not None:
            owner.links.on_socket_error(self, failure)

    def _on_eof(self) -> None:
        self.eof_received = True
        self.owner.links.on_peer_closed(self)


class DatagramListener(Channel):
    """The socket a node receives a datagram transport's messages on, from every neighbour.

    Senders are recognised by the address of their link socket, learnt at start-up; a datagram
    from any other address is traced as an error and dropped (there is no connection to close).
    """

    receive_event = "recvfrom"

    def __init__(self, owner: Node, sock: socket.socket, transport: Transport) -> None:
        super().__init__(owner, sock, transport, None, owns_path=True)
        self.peers_by_address: dict[Any, str] = {}
        # peer -> the receive records of that peer's datagrams (see LinkChannel.receive_records)
        self.receive_records_by_peer: dict[str, MessageRecords] = {}

    def add_peer(self, peer: str, address: Address) -> None:
        self.peers_by_address[address] = peer
        base = {**self.trace_fields(), "peername": address, "peer": peer}
        self.receive_records_by_peer[peer] = self.owner.trace.message_records(self.receive_event, base)

    def move_peer(self, peer: str, address: Address) -> None:
        """``peer`` sends from ``address`` now (it was restarted and bound elsewhere)."""
        for old_address, name in list(self.peers_by_address.items()):
            if name == peer:
                del self.peers_by_address[old_address]
        self.add_peer(peer, address)

    def on_readable(self) -> None:
        datagrams: list[tuple[bytes, Any]] = []
        failure = None
        if self.transport.batches_datagrams:
            failure = self._read_runs(datagrams)
        else:
            limit = self.transport.max_message_bytes
            recvfrom = self.sock.recvfrom
            for _ in range(PACKET_BATCH):
                try:
                    datagrams.append(recvfrom(limit + 1))
                except OSError as error:
                    if not would_block(error):
                        failure = error
                    break
        if datagrams:
            self.owner.on_datagrams(self, datagrams)
        if failure is not None:
            self.owner.links.on_socket_error(self, failure)

    def _read_runs(self, datagrams: list[tuple[bytes, Any]]) -> OSError | None:
        """Read into ``datagrams`` where a read may bring a run of one sender's datagrams (UDP_GRO);
        returns the error that stopped the reads, if not that there is nothing more to read."""
        recvmsg = self.sock.recvmsg
        for _ in range(PACKET_BATCH):
            try:
                data, ancillary, flags, address = recvmsg(BATCH_READ_BYTES, BATCH_ANCILLARY_BYTES)
            except OSError as error:
                return None if would_block(error) else error
            segment_size = segment_size_of(ancillary) if ancillary else 0
            if segment_size and not flags & socket.MSG_TRUNC:
                datagrams.extend((datagram, address) for datagram in split_segments(data, segment_size))
            else:
                # One datagram. Cut short (MSG_TRUNC), it is longer than any UDP payload, and the
                # node's check of its size says so.
                datagrams.append((data, address))
            if len(datagrams) >= DATAGRAM_BATCH:
                break
        return None

"""A node's event loop, and the paths every message takes through it: in, out, and the app's calls.

One ``selectors`` loop serves every socket and the launcher's pipes (``launcher_pipes``), then runs
due timers (``timers``), releases what shaped links held (``shaped_links``), flushes what callbacks
sent, and tells the launcher whether the node is busy or idle. Around it, each in its own module: the
process's life and exit (``process``), binding and connecting at start-up (``startup``), the hellos
(``handshake``), links coming and going (``links``), dialling lost ones again (``reconnect``), and the
run's end (``shutdown``).

Why a little over 500 lines: what is left is what every message and every loop turn passes through,
the send path (``send_message``), the receive paths (``on_messages``, ``on_datagrams``, ``_receive``)
and the loop's own deadlines (``_select_timeout``, ``_report_status``). They share the node's clock,
counters and dirty set, and are kept in one class on purpose, so that no message takes a detour
through another object.
"""

from __future__ import annotations

import contextlib
import mmap
import selectors
from collections.abc import Callable
from typing import Any

from netsim.clock import now_ns
from netsim.errors import CodecError, MessageTooLarge
from netsim.runtime import control
from netsim.runtime.app import App
from netsim.runtime.bounds import CappedLog, ErrorBudget
from netsim.runtime.channels import (
    RECEIVE_BUFFER_BYTES,
    Channel,
    DatagramListener,
    LinkChannel,
    Outgoing,
)
from netsim.runtime.context import NodeContext
from netsim.runtime.control import ControlSocket
from netsim.runtime.handshake import HELLO, Handshakes
from netsim.runtime.lifeline import raise_deferred_signal
from netsim.runtime.links import Links
from netsim.runtime.plan import LinkPlan, NodePlan
from netsim.runtime.reconnect import Reconnects
from netsim.runtime.shaped_links import ShapedLinks
from netsim.runtime.shutdown import Shutdown
from netsim.runtime.startup import LinkSetup
from netsim.runtime.states import DRAINING, RUNNING, SETUP
from netsim.runtime.timers import TimerQueue
from netsim.shaping.shaper import DROP_LINK_DOWN
from netsim.trace.writer import MessageRecords, TraceWriter
from netsim.wire.auth import RunKey
from netsim.wire.codec import decode_message, encode_from_node
from netsim.wire.message import Message

TRACE_FLUSH_INTERVAL_NS = 200_000_000
# The longest the loop waits in one select() when it has something to do later (it then looks again).
MAX_WAIT_S = 3600.0
# An app's timer is at most a run's longest duration away (netsim.shaping.conditions.MAX_RUN_S).
MAX_TIMER_DELAY_S = 1e9


class Node:
    def __init__(self, plan: NodePlan, conn: ControlSocket) -> None:
        self.plan = plan
        # The launcher died (its end of the control channel closed, or the kernel said so): the node
        # cleans up after the run by itself.
        self.orphaned = False
        self._stop_traced = False
        # One buffer for every stream recv_into(): the loop reads one socket at a time. An anonymous
        # mapping, not a bytearray: its pages cost memory only once a read has filled them, and most
        # reads are small (a bytearray is zeroed, and so resident, in full from the start).
        self.receive_buffer = mmap.mmap(-1, RECEIVE_BUFFER_BYTES)
        self.receive_view = memoryview(self.receive_buffer)
        self.name = plan.name
        self.conn = conn
        self.links_by_peer: dict[str, LinkPlan] = {link.peer: link for link in plan.links}
        self.neighbour_names: tuple[str, ...] = tuple(link.peer for link in plan.links)
        self.trace = TraceWriter(plan.trace_path, plan.name)
        self.selector = selectors.DefaultSelector()
        self.state = SETUP
        self.lamport = 0
        self._message_seq = 0
        # Ids are unique in the run: a restarted node's new process numbers under "<name>:r<n>:".
        generation = plan.generation
        self._message_id_prefix = f"{plan.name}:" if generation == 0 else f"{plan.name}:r{generation}:"
        self.started_ns = 0
        self.finished = False

        self.listeners: dict[str, Channel] = {}  # transport name -> listener or datagram receiver
        self.channels: dict[str, LinkChannel] = {}  # peer -> the channel that sends to it
        self._dirty: set[LinkChannel] = set()
        self._early_messages: list[Message] = []

        # The hellos that open every connection, and the connections still waiting for one.
        self.run_key = RunKey(plan.run_key)
        self.handshakes = Handshakes(self, self.run_key)
        # Links with conditions (latency, loss, faults...) and the messages they hold back.
        self.shaping = ShapedLinks(self)
        self._shapers = self.shaping.shapers  # peer -> LinkShaper, looked up for every message sent

        # Binding and connecting the links at start-up, and dialling lost ones again.
        self.link_setup = LinkSetup(self)
        self.reconnects = Reconnects(self)
        # The app's timers and netsim's own callbacks (reconnects, hello deadlines).
        self.timers = TimerQueue()
        self._timer_heap = self.timers.heap  # read every loop turn: its top is the next deadline
        # Links coming and going, and the run's end: drain, shut, close.
        self.links = Links(self)
        self.shutdown = Shutdown(self)

        self.app: App | None = None
        # A socket program's node (netsim.runtime.socket_program): whether its program has work in hand.
        self.busy_program: Callable[[], bool] | None = None
        # ... and how its program's calls part ends, before the node's stop (nothing comes after it).
        self.end_program_calls: Callable[[], None] | None = None
        self.context: NodeContext | None = None
        self._done_reported = False

        self.counters = {"sent": 0, "received": 0, "bytes_sent": 0, "bytes_received": 0, "errors": 0}
        self._last_activity_ns = now_ns()
        self._sent_noticed = 0  # counters["sent"] when _report_status last looked
        self._reported_idle = False
        # When _report_status last decided whether the node is idle (it runs once per loop turn).
        self._idle_checked_ns = 0
        self._last_status_ns = 0
        self._status_dirty = False
        self._last_flush_ns = now_ns()
        # How often the loop reports its status, and how long without traffic makes it idle.
        self._status_interval_ns = int(plan.settings.status_interval_s * 1e9)
        self._idle_after_ns = int(plan.settings.idle_after_s * 1e9)

        self.log_file = CappedLog(plan.log_path, plan.settings.log_limit_bytes)
        # Error events a stranger can cause are bounded (netsim.runtime.bounds).
        self._error_budget = ErrorBudget()

    # ---- life cycle -------------------------------------------------------------------------------

    def on_launcher_gone(self) -> None:
        """The launcher died without stopping the run: end the loop; ``process.run_node`` then cleans up."""
        self.orphaned = True
        self.finished = True

    def trace_stop(self, reason: str) -> None:
        """The node's last event, written once whichever way it ends (a signal may come mid-way)."""
        if not self._stop_traced:
            self._stop_traced = True
            if self.end_program_calls is not None:
                self.end_program_calls()
            # Error events left out since the last one written (ErrorBudget) are counted here.
            self.trace.event("stop", reason=reason, suppressed=self._error_budget.settle() or None)

    def tell(self, kind: str, **fields: Any) -> None:
        """Send the launcher one control message; a launcher that is gone ends the loop, not the node."""
        if self.orphaned:
            return
        try:
            self.conn.send(kind, **fields)
        except OSError:
            self.on_launcher_gone()

    def flush_traces(self) -> None:
        """Write out everything the node traced so far: its own part, and its program's calls."""
        self.trace.flush()
        if self.busy_program is not None:
            self.app.flush_calls()  # type: ignore[union-attr]

    def log(self, text: str) -> None:
        self.log_file.write(text.rstrip("\n") + "\n")

    # ---- the event loop -----------------------------------------------------------------------------

    def serve(self) -> None:
        turn = self.turn
        while not self.finished:
            turn()

    def turn(self, *, wait: bool = True) -> None:
        """One turn of the loop: wait for I/O until there is something else to do (not at all unless
        ``wait``), serve what is ready, then due timers, held messages, flushes and status."""
        raise_deferred_signal()
        status_interval_ns, idle_after_ns = self._status_interval_ns, self._idle_after_ns
        timeout = self._select_timeout(idle_after_ns, status_interval_ns) if wait else 0
        for key, mask in self.selector.select(timeout):
            handler = key.data
            if mask & selectors.EVENT_READ:
                handler.on_readable()
            if mask & selectors.EVENT_WRITE and not getattr(handler, "closed", False):
                handler.on_writable()
        if self._timer_heap:
            self._run_due_timers()
        if self.shaping:
            self.shaping.release_due(now_ns())
        if self._dirty:
            self.flush_dirty()
        if self.state == DRAINING and self.shutdown.shutting_links:
            self.shutdown.check_drained()
        self._report_status(status_interval_ns, idle_after_ns)
        now = now_ns()
        if now - self._last_flush_ns >= TRACE_FLUSH_INTERVAL_NS:
            # A node can die without warning (SIGKILL): at most this much of its trace is lost.
            self._last_flush_ns = now
            self.trace.flush()

    def _select_timeout(self, idle_after_ns: int, status_interval_ns: int) -> float | None:
        """Seconds until the loop has something to do without I/O, or None to wait for I/O alone.

        Runs once per loop turn, and a busy datagram link turns the loop about once per message:
        hence one running minimum and no list.
        """
        timer_heap = self._timer_heap
        deadline = timer_heap[0][0] if timer_heap else None
        if self.shaping:
            release = self.shaping.next_release_ns
            if release is not None and (deadline is None or release < deadline):
                deadline = release
        if self.state == RUNNING and not self._reported_idle:
            idle_at = self._last_activity_ns + idle_after_ns
            # Only a moment still to come: once the node was found not idle after idle_at (a timer,
            # held or unwritten messages), what keeps it busy wakes the loop itself (the timer, the
            # release, writability), and waking for idle_at again would spin until then.
            if idle_at > self._idle_checked_ns and (deadline is None or idle_at < deadline):
                deadline = idle_at
        if self._status_dirty and self.state == RUNNING:
            # Status is reported only while running: before the start, a pending report would be due
            # at every turn, and a node waiting at the barrier would spin until it opens.
            status_at = self._last_status_ns + status_interval_ns
            if deadline is None or status_at < deadline:
                deadline = status_at
        if self.trace.unflushed:
            flush_at = self._last_flush_ns + TRACE_FLUSH_INTERVAL_NS
            if deadline is None or flush_at < deadline:
                deadline = flush_at
        if deadline is None:
            return None
        # Capped: a wait of weeks (a timer or a slow link far ahead) is past what poll() can take.
        return min(MAX_WAIT_S, max(0.0, (deadline - now_ns()) / 1e9))

    def _report_status(self, status_interval_ns: int, idle_after_ns: int) -> None:
        if self.state != RUNNING:
            return
        now = now_ns()
        sent = self.counters["sent"]
        if sent != self._sent_noticed:
            # A send is activity. Channels count what the kernel takes, and the node notices it here,
            # once per loop turn rather than once per message: never earlier than the send.
            self._sent_noticed = sent
            self.mark_activity(now)
        self._idle_checked_ns = now
        busy_and_reported = now - self._last_activity_ns < idle_after_ns and not self._reported_idle
        if busy_and_reported and (not self._status_dirty or now - self._last_status_ns < status_interval_ns):
            # Busy, the launcher knows it, and the periodic counters are not due yet.
            return
        idle = (
            not self.timers.app_timers
            and not self.shaping
            and not self._dirty
            and not any(channel.pending_output for channel in self.channels.values())
            and now - self._last_activity_ns >= idle_after_ns
            and (self.busy_program is None or not self.busy_program())
        )
        idle_changed = idle != self._reported_idle
        if idle_changed or (self._status_dirty and now - self._last_status_ns >= status_interval_ns):
            self._reported_idle = idle
            self._status_dirty = False
            self._last_status_ns = now
            self._tell_status(idle)

    def mark_activity(self, at_ns: int | None = None) -> None:
        self._last_activity_ns = now_ns() if at_ns is None else at_ns
        self._status_dirty = True
        if self._reported_idle:
            self._reported_idle = False
            self._tell_status(False)
            self._last_status_ns = self._last_activity_ns

    def _tell_status(self, idle: bool) -> None:
        self.tell(control.STATUS, idle=idle, last_activity_ns=self._last_activity_ns, counters=self.counters)

    # ---- the app's start ------------------------------------------------------------------------------

    def start_app(self) -> None:
        self.state = RUNNING
        self.started_ns = now_ns()
        self.trace.event("start")
        assert self.app is not None and self.context is not None
        self.app.on_start(self.context)
        early, self._early_messages = self._early_messages, []
        for message in early:
            self.app.on_message(self.context, message)
        self.mark_activity()

    # ---- messages in --------------------------------------------------------------------------------

    def on_messages(self, channel: LinkChannel, messages: list[tuple[Message, int]]) -> None:
        """What one read of a link decoded, oldest first, with each message's wire bytes."""
        if not channel.proven:
            message, nbytes = messages[0]
            if not self.handshakes.opened(channel, message, nbytes):
                return
            self.links.link_up(channel)
            messages = messages[1:]
            if not messages or channel.closed:
                return
        self._receive(channel.peer, channel.receive_records, messages, channel)

    def on_datagrams(self, listener: DatagramListener, datagrams: list[tuple[bytes, Any]]) -> None:
        """What one read of a datagram receiver returned, as (packet, sender address), oldest first.

        A datagram must come from a neighbour's link socket and carry a message from that neighbour
        to this node; any other is traced as an error and dropped (there is no connection to close).
        """
        limit = listener.transport.max_message_bytes
        open_packet = self.run_key.open if listener.transport.sealed else None
        peers_by_address = listener.peers_by_address
        name = self.name
        run: list[tuple[Message, int]] = []  # consecutive messages from run_peer, received together
        run_peer = None
        for packet, address in datagrams:
            peer = peers_by_address.get(address)
            size = len(packet)
            if peer is None:
                problem = "datagram from an address that is not a neighbour's link"
            elif size > limit:
                problem = f"datagram larger than {limit} bytes"
            else:
                try:
                    # One datagram, one bare payload (behind the run's proof, if sealed).
                    message = decode_message(packet if open_packet is None else open_packet(packet))
                except CodecError as error:
                    problem = f"bad datagram: {error}"
                else:
                    src, dst, _, msg_type, _, _, _ = message
                    if src == peer and dst == name and msg_type != HELLO:
                        # Plain traffic from the neighbour whose link sent it: the common case.
                        if peer != run_peer and run:
                            self._receive(run_peer, listener.receive_records_by_peer[run_peer], run, None)
                            run = []
                        run_peer = peer
                        run.append((message, size))
                        continue
                    if msg_type == HELLO and src == peer and dst == name:
                        problem = "a hello on a datagram link"
                    else:
                        problem = f"message {src!r} -> {dst!r} from {peer!r}'s link"
            if run:
                self._receive(run_peer, listener.receive_records_by_peer[run_peer], run, None)
                run = []
            self.trace_error(listener, problem, nbytes=size, peername=address, peer=peer)
        if run:
            self._receive(run_peer, listener.receive_records_by_peer[run_peer], run, None)

    def _receive(
        self,
        peer: str | None,
        records: MessageRecords,
        messages: list[tuple[Message, int]],
        channel: LinkChannel | None,
    ) -> None:
        """Receive what one read brought from ``peer``: clock, trace records, then delivery (the hot path).

        The kernel handed these messages over together, so their records share one time, taken once the
        read is decoded, and are all written before the app sees the first: whatever the app sends in
        answer comes after them in the trace and on the Lamport clock. On a link (``channel``), a message
        that is not from the peer to this node is the link's hello, traced and not delivered, or a reason
        to close the link and drop the rest; the messages before it are delivered first.
        """
        name = self.name
        lamport = self.lamport
        received_at = now_ns()
        rows = []
        received_bytes = 0
        stopped_at = None
        for message, nbytes in messages:
            # One unpacking instead of seven attribute lookups: this runs for every message received.
            src, dst, msg_id, msg_type, _, in_reply_to, sent_lamport = message
            if src != peer or dst != name or msg_type == HELLO:
                stopped_at = len(rows)
                break
            if sent_lamport > lamport:
                lamport = sent_lamport
            lamport += 1
            rows.append((received_at, nbytes, msg_id, msg_type, lamport, in_reply_to))
            received_bytes += nbytes
        self.lamport = lamport
        if rows:
            records.extend(rows)
            counters = self.counters
            counters["received"] += len(rows)
            counters["bytes_received"] += received_bytes
            self.mark_activity(received_at)
            traffic = messages if stopped_at is None else messages[:stopped_at]
            if self.state == RUNNING and self.app is not None:
                deliver = self.app.on_message
                context = self.context
                for message, _ in traffic:
                    deliver(context, message)
            elif self.state == SETUP:
                self._early_messages.extend(message for message, _ in traffic)
            # While draining the app has stopped: the messages are traced as received, not delivered.
        if stopped_at is None or channel is None:
            return
        message, nbytes = messages[stopped_at]
        if message.src != channel.peer or message.dst != name:
            problem = f"message {message.src[:80]!r} -> {message.dst[:80]!r} on the link to {channel.peer!r}"
        else:
            problem = f"a second hello from {channel.peer!r}"
        self.links.reject(channel, problem, nbytes)

    def trace_error(self, channel: Channel, problem: str, **fields: Any) -> None:
        record = channel.trace_fields()
        record.update({key: value for key, value in fields.items() if value is not None})
        self.write_error(problem, **record)

    def write_error(self, problem: str, **fields: Any) -> None:
        """Count an error, and trace it unless this node has written too many lately (ErrorBudget):
        then the next error event it writes, or its ``stop``, says how many were left out."""
        self.counters["errors"] += 1
        self._status_dirty = True
        at_ns = now_ns()
        if not self._error_budget.take(at_ns):
            return
        suppressed = self._error_budget.settle()
        if suppressed:
            fields["suppressed"] = suppressed
        self.trace.event("error", ts_ns=at_ns, error=problem, **fields)

    # ---- messages out -------------------------------------------------------------------------------

    def send_message(
        self, dst: str, message_type: str, body: Any = None, *, in_reply_to: str | None = None
    ) -> str | None:
        """``NodeContext.send``, which is this very method (see there).

        The hot path of every app, hence one method from the app to the channel: the message's id and
        clock, its encoding, and its queue or link shaper.
        """
        channel = self.channels.get(dst)
        if channel is None or channel.closed or self.state != RUNNING:
            return self._not_sent(dst, message_type)
        lamport = self.lamport = self.lamport + 1
        seq = self._message_seq = self._message_seq + 1
        message_id = f"{self._message_id_prefix}{seq}"
        payload = encode_from_node(
            self.name, channel.peer, message_id, message_type, body, in_reply_to, lamport
        )
        if len(payload) > channel.max_message_bytes:
            raise MessageTooLarge(channel.transport, len(payload), channel.max_message_bytes)
        outgoing = (message_id, message_type, lamport, in_reply_to)
        shapers = self._shapers
        if shapers and dst in shapers:
            self.shaping.send(channel, shapers[dst], payload, outgoing)
        elif channel.queue(payload, outgoing):
            self._dirty.add(channel)
        return message_id

    def _not_sent(self, dst: str, message_type: str) -> None:
        self._check_neighbour(dst)
        if self.state != RUNNING:
            # on_stop may still call send: the run is draining and takes no new messages.
            return
        self.trace.event("drop", reason=DROP_LINK_DOWN, peer=dst, msg_type=message_type)
        self.count_drop()

    def stamp_message(self) -> tuple[str, int]:
        """A new message's id and Lamport clock (``send_message`` takes the same steps inline)."""
        lamport = self.lamport = self.lamport + 1
        seq = self._message_seq = self._message_seq + 1
        return f"{self._message_id_prefix}{seq}", lamport

    def to_kernel(self, channel: LinkChannel, payload: bytes, outgoing: Outgoing) -> None:
        """Hand a message to its channel, which sends it now or once the callback returns."""
        if channel.queue(payload, outgoing):
            self._dirty.add(channel)

    def count_drop(self) -> None:
        self.counters["dropped"] = self.counters.get("dropped", 0) + 1

    def flush_dirty(self) -> None:
        # A flush that empties a backlog calls on_drained, whose sends may dirty channels again.
        while self._dirty:
            dirty, self._dirty = self._dirty, set()
            for channel in dirty:
                if not channel.closed:
                    channel.flush()

    def want_write(self, channel: Channel, wanted: bool) -> None:
        """Ask the selector for writability while the kernel refuses a channel's output.

        The app hears ``on_drained`` when a link it sends on takes the last of what had to wait.
        """
        if channel.closed or channel.wants_write == wanted:
            return
        channel.wants_write = wanted
        if not wanted and self.state == RUNNING and isinstance(channel, LinkChannel):
            peer = channel.peer
            if peer is not None and self.channels.get(peer) is channel and self.app is not None:
                # Before the selector hears of it: an app that fills the link again at once leaves
                # the interest as it was, and costs no epoll_ctl either way.
                self.app.on_drained(self.context, peer)  # type: ignore[arg-type]
                if channel.closed:
                    return
        self.update_interest(channel)

    def backlog(self, dst: str) -> int:
        """``NodeContext.backlog``, which is this very method (see there)."""
        channel = self.channels.get(dst)
        if channel is None or channel.closed:
            self._check_neighbour(dst)
            return 0
        return channel.backlog

    def _check_neighbour(self, dst: str) -> None:
        if dst not in self.links_by_peer:
            raise ValueError(
                f"{dst!r} is not a neighbour of {self.name!r} (neighbours: {self.neighbour_names})"
            )

    def update_interest(self, channel: Channel) -> None:
        events = selectors.EVENT_WRITE if channel.wants_write else 0
        if not getattr(channel, "eof_received", False):
            events |= selectors.EVENT_READ
        if events:
            self.selector.modify(channel.fileno, events, channel)
        else:
            self.unregister(channel)

    # ---- timers and app hooks -------------------------------------------------------------------------

    def set_timer(self, delay_s: float, name: str, data: Any) -> int:
        # `not 0 <= x` refuses nan too; the bound keeps the deadline an integer of nanoseconds.
        if not 0 <= delay_s <= MAX_TIMER_DELAY_S:
            raise ValueError(f"timer delay must be >= 0 and at most {MAX_TIMER_DELAY_S:g} s, got {delay_s}")
        return self.timers.set_timer(now_ns() + int(delay_s * 1e9), (name, data))

    def cancel_timer(self, timer_id: int) -> None:
        self.timers.cancel(timer_id)

    def call_later(self, delay_s: float, callback: Callable[[], object]) -> None:
        """netsim's own callback (a reconnect, a hello's deadline), ``delay_s`` seconds from now."""
        self.timers.call_at(now_ns() + int(delay_s * 1e9), callback)

    def _run_due_timers(self) -> None:
        """Fire what is due, by deadline: the app's timers while it runs, and netsim's own callbacks."""
        timers = self.timers
        now = now_ns()
        while (due := timers.pop_due(now)) is not None:
            timer_id, target = due
            if timer_id < 0:
                target()
            elif self.state == RUNNING:
                assert self.app is not None
                self.mark_activity()
                self.app.on_timer(self.context, target[0], target[1])  # type: ignore[arg-type]

    def app_done(self) -> None:
        if not self._done_reported:
            self._done_reported = True
            self.trace.event("done")
            self.tell(control.DONE)

    # ---- sockets ----------------------------------------------------------------------------------------

    def register(self, channel: Channel) -> None:
        self.selector.register(channel.fileno, selectors.EVENT_READ, channel)

    def unregister(self, channel: Channel) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(channel.fileno)

    def registered(self, channel: Channel) -> bool:
        return channel.fileno in self.selector.get_map()

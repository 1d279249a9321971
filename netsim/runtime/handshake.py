"""Who may use a node's links: the hello that opens every connection, both ways, and its bounds.

A connection's messages reach the app only once the other end has proved that it belongs to the run
(the hello and its answer, ``netsim.wire.auth``). Until then it is *pending*, and a pending connection
is what a stranger can open, so it is bounded: a small frame limit (a hello is small; nothing large is ever
buffered for a stranger), a deadline, and a cap on how many wait at once (the oldest is closed to
make room). Every refusal is an ``error`` event, and the connection is closed.

The connecting end sends its hello as soon as it connects and takes the link as up when the answer
proves the listener is its neighbour: a process that listens where a dead node listened gets a hello
it cannot use and no traffic. At the run's first start it takes the link as up at once instead, since
the live neighbour holds the address it connects to (``Handshakes.connected``), and checks the answer
when it comes. The accepting end answers a good hello and takes the link as up at once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from netsim.clock import now_ns
from netsim.runtime.channels import LinkChannel, StreamChannel
from netsim.runtime.states import SETUP
from netsim.wire.auth import ACCEPT, CONNECT, HelloScope, RunKey, new_nonce
from netsim.wire.codec import encode_from_node
from netsim.wire.message import Message

if TYPE_CHECKING:
    from netsim.runtime.node import Node

HELLO = "netsim.hello"
# A hello is an envelope of two names and 100-odd bytes of proof. The limit leaves room for any name a
# topology can hold (up to 6 bytes of JSON per character) and refuses the rest before buffering it.
HELLO_BASE_BYTES = 1024
HELLO_BYTES_PER_NAME_CHAR = 6
# Once the run is going, a neighbour's hello follows its connect at once: a connection that has not
# proved itself by then never will. At start-up a busy machine may take longer: the start-up timeout.
HELLO_TIMEOUT_S = 5.0
# Connections that may wait for a hello at once: beyond this, the oldest is closed.
MIN_PENDING_HELLOS = 64


class Handshakes:
    """The hellos of one node: pending connections, their deadlines, and the nonces already used."""

    def __init__(self, node: Node, run_key: RunKey) -> None:
        self.node = node
        self.run_key = run_key
        self.hello_limit = HELLO_BASE_BYTES + 2 * HELLO_BYTES_PER_NAME_CHAR * node.plan.longest_name
        inbound = sum(1 for link in node.plan.links if not link.initiator)
        self.max_pending = max(MIN_PENDING_HELLOS, 2 * inbound)
        self.pending: OrderedDict[LinkChannel, None] = OrderedDict()
        # The nonces of the hellos this node accepted: a hello is good once.
        self._used_nonces: set[str] = set()
        # channel -> (nonce, msg_id) of the hello it sent, for a connection this node made
        self._sent: dict[LinkChannel, tuple[str, str]] = {}
        # peer -> the connection this node made to it and is waiting to hear back on
        self.dialing: dict[str, LinkChannel] = {}

    def _timeout_s(self) -> float:
        if self.node.state == SETUP:
            return self.node.plan.settings.startup_timeout_s
        return HELLO_TIMEOUT_S

    def _limit_frames(self, channel: LinkChannel) -> None:
        if isinstance(channel, StreamChannel):
            channel.decoder.max_frame_bytes = min(self.hello_limit, channel.transport.max_message_bytes)

    def _wait(self, channel: LinkChannel) -> None:
        """``channel`` has not proved itself: bound what it can cost, and give it a deadline."""
        self._limit_frames(channel)
        channel.proven = False
        self.pending[channel] = None
        self.node.call_later(self._timeout_s(), lambda: self._expire(channel))

    # ---- the two ends ---------------------------------------------------------------------------------

    def accepted(self, channel: LinkChannel) -> None:
        """A connection accepted by a listener: it must open with a good hello."""
        while len(self.pending) >= self.max_pending:
            oldest = next(iter(self.pending))
            self.node.links.refuse(
                oldest, f"more than {self.max_pending} connections waiting for a hello: closed the oldest"
            )
        self._wait(channel)

    def connected(self, channel: LinkChannel, *, trusted: bool = False) -> None:
        """A connection this node made to a neighbour's listener: send the hello, wait for its answer.

        ``trusted``: the listener's address came from the launcher at start-up, while the node that
        bound it holds it, so no other process can be listening there: the link is up at once (its
        traffic may follow the hello before the answer comes), and the answer is still checked when it
        does. Otherwise (reconnecting, restarted) the link is up only once the answer proves it.
        """
        assert channel.peer is not None
        nonce = new_nonce()
        body = self.run_key.hello_body(CONNECT, self._connecting(channel), nonce)
        self._wait(channel)
        msg_id = self._send(channel, body, None)
        self._sent[channel] = (nonce, msg_id)
        if not trusted:
            self.dialing[channel.peer] = channel

    def forget(self, channel: LinkChannel) -> None:
        """``channel`` is closed."""
        self.pending.pop(channel, None)
        self._sent.pop(channel, None)
        if channel.peer is not None and self.dialing.get(channel.peer) is channel:
            del self.dialing[channel.peer]

    def _expire(self, channel: LinkChannel) -> None:
        if channel in self.pending and not channel.closed:
            self.node.links.refuse(channel, f"no hello within {self._timeout_s():g} s of the connection")

    def _send(self, channel: LinkChannel, body: dict[str, str], in_reply_to: str | None) -> str:
        """Queue a hello; returns its id.

        netsim's own handshake, not traffic, so no checks and no link conditions. The steps are
        ``Node.send_message``'s, which an app's send takes inline for speed.
        """
        node = self.node
        message_id, lamport = node.stamp_message()
        assert channel.peer is not None
        payload = encode_from_node(node.name, channel.peer, message_id, HELLO, body, in_reply_to, lamport)
        node.to_kernel(channel, payload, (message_id, HELLO, lamport, in_reply_to))
        return message_id

    # ---- the first message --------------------------------------------------------------------------

    def opened(self, channel: LinkChannel, message: Message, nbytes: int) -> bool:
        """A pending connection's first ``message`` (``nbytes`` on the wire): True if it proved the link.

        A hello that proves it is traced as received; any other first message closes the connection.
        """
        problem, answer = self.first_message(channel, message)
        if problem is not None:
            self.node.links.refuse(channel, problem, nbytes)
            return False
        self._trace_received(channel, message, nbytes)
        if answer is not None:
            # After the receive is traced: the answer's Lamport clock is past the hello's.
            self._send(channel, answer, message.id)
        return True

    def _trace_received(self, channel: LinkChannel, message: Message, nbytes: int) -> None:
        """Trace the hello that proved ``channel``: a message on the wire like any other, not the app's."""
        node = self.node
        lamport = node.lamport = max(node.lamport, message.lamport) + 1
        hello_at = now_ns()
        record = channel.receive_records.write
        record(hello_at, nbytes, message.id, message.type, lamport, message.in_reply_to)
        counters = node.counters
        counters["received"] += 1
        counters["bytes_received"] += nbytes
        node.mark_activity(hello_at)

    def first_message(
        self, channel: LinkChannel, message: Message
    ) -> tuple[str | None, dict[str, str] | None]:
        """Check the message a pending connection opened with: (the problem, None) if it does not prove
        the link; else (None, the hello the accepting end answers with, or None at the connecting end).

        On success the channel knows its peer and the connection's frames may be as large as its
        transport carries.
        """
        if channel.peer is None:
            problem = self._accepting_problem(channel, message)
        else:
            problem = self._answer_problem(channel, message)
        if problem is not None:
            return problem, None
        self.pending.pop(channel, None)
        channel.proven = True
        if isinstance(channel, StreamChannel):
            channel.decoder.max_frame_bytes = channel.transport.max_message_bytes
        if channel.peer is None:
            nonce = message.body["nonce"]
            self._used_nonces.add(nonce)
            channel.set_peer(message.src)
            return None, self.run_key.hello_body(ACCEPT, self._accepting(channel, message), nonce)
        del self._sent[channel]
        self.dialing.pop(channel.peer, None)
        return None, None

    def _accepting(self, channel: LinkChannel, message: Message) -> HelloScope:
        """The connection an accepted ``channel`` is, as its hello ``message`` says who connected."""
        transport, accepting = channel.transport.name, self.node.name
        return HelloScope(transport, message.src, accepting, channel.peername, channel.sockname)

    def _connecting(self, channel: LinkChannel) -> HelloScope:
        """The connection ``channel`` is, which this node made to its peer."""
        assert channel.peer is not None
        transport, connecting = channel.transport.name, self.node.name
        return HelloScope(transport, connecting, channel.peer, channel.sockname, channel.peername)

    def _accepting_problem(self, channel: LinkChannel, message: Message) -> str | None:
        node = self.node
        if message.type != HELLO:
            return f"expected a hello first, got a {message.type[:80]!r} message"
        if message.dst != node.name:
            return f"hello addressed to {message.dst[:80]!r}"
        transport = channel.transport.name
        link = node.links_by_peer.get(message.src)
        if link is None or link.initiator or link.transport != transport:
            return f"hello from {message.src[:80]!r}, which has no {transport} link to this node"
        problem = self.run_key.hello_problem(CONNECT, self._accepting(channel, message), message.body)
        if problem is not None:
            return f"{problem} (claims to be {message.src[:80]!r})"
        if message.body["nonce"] in self._used_nonces:
            return f"a hello that was already used (claims to be {message.src[:80]!r})"
        return None

    def _answer_problem(self, channel: LinkChannel, message: Message) -> str | None:
        node = self.node
        peer = channel.peer
        assert peer is not None
        nonce, hello_id = self._sent[channel]
        if message.type != HELLO or message.src != peer or message.dst != node.name:
            return (
                f"expected {peer!r}'s answer to the hello first, "
                f"got {message.type[:80]!r} from {message.src[:80]!r}"
            )
        if message.in_reply_to != hello_id:
            return f"{peer!r}'s hello does not answer this connection's ({hello_id!r})"
        body = message.body
        if not isinstance(body, dict) or body.get("nonce") != nonce:
            return f"{peer!r}'s hello does not answer this connection's nonce"
        problem = self.run_key.hello_problem(ACCEPT, self._connecting(channel), body)
        if problem is not None:
            return f"{problem} (the listener at this address is not {peer!r})"
        return None

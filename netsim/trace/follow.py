"""Following one message: its send, its receives, the replies that cite it, what its receiver sent on,
and its fate, gathered in one streaming pass (``follow_message``) and told one line a step
(``message_timeline``). Times are seconds into the run, as ``format_event`` shows them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from netsim.errors import InputError
from netsim.trace.events import format_time
from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.records import format_address
from netsim.trace.schema import RECEIVE_EVENTS, SEND_EVENTS, header_start_ts_ns
from netsim.vocabulary import TRANSPORT_TRAITS

# Messages the receiving node sent with the same type within this long after a receive are listed as
# "possibly forwarded": apps that relay (flood, gossip) do it within microseconds.
FORWARD_WINDOW_NS = 1_000_000
# What netsim's link conditions and faults record about a message, besides its send and receive.
SHAPING_EVENTS = frozenset({"drop", "duplicate", "delay"})
INCIDENT_EVENTS = SHAPING_EVENTS | {"error"}


@dataclass(slots=True)
class ReplyLife:
    """A reply that cites the followed message (``in_reply_to``): its send(s) and receive(s)."""

    msg_id: str
    msg_type: str | None
    sends: list[dict[str, Any]] = field(default_factory=list)
    receives: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "msg_type": self.msg_type,
            "sends": list(self.sends),
            "receives": list(self.receives),
        }


@dataclass(slots=True)
class MessageLife:
    """Everything the trace says about one message; ``to_dict()`` is ``netsim trace follow --json``.

    ``incidents`` are the ``drop``, ``duplicate`` and ``delay`` events of netsim's link conditions that
    name the message, and the ``error`` events that name it (in their ``msg_id`` or their error text).
    ``possibly_forwarded`` are the sends of a receiving node, of the same ``msg_type``, within
    ``FORWARD_WINDOW_NS`` after it received the message: a guess, not a link the trace records.
    ``destination_stopped`` says whether the destination's ``stop`` is in the trace.
    """

    msg_id: str
    start_ts_ns: int | None
    sends: list[dict[str, Any]] = field(default_factory=list)
    receives: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    replies: list[ReplyLife] = field(default_factory=list)
    possibly_forwarded: list[dict[str, Any]] = field(default_factory=list)
    destination_stopped: bool = False

    def _first(self, key: str) -> Any:
        for record in self.sends + self.receives + self._shaping():
            if key in record:
                return record[key]
        return None

    def _shaping(self) -> list[dict[str, Any]]:
        # Recorded by the sender, naming the destination: what is known of a message dropped unsent.
        return [incident for incident in self.incidents if incident["event"] in SHAPING_EVENTS]

    @property
    def msg_type(self) -> str | None:
        return self._first("msg_type")

    @property
    def transport(self) -> str | None:
        return self._first("transport")

    @property
    def sender(self) -> str | None:
        if self.sends:
            return self.sends[0]["node"]
        if self.receives:
            return self.receives[0].get("peer")
        shaping = self._shaping()
        return shaping[0]["node"] if shaping else None

    @property
    def destination(self) -> str | None:
        if self.sends:
            return self.sends[0].get("peer")
        if self.receives:
            return self.receives[0]["node"]
        shaping = self._shaping()
        return shaping[0].get("peer") if shaping else None

    @property
    def latency_ns(self) -> int | None:
        """From the first send to the first receive."""
        if not self.sends or not self.receives:
            return None
        return self.receives[0]["ts_ns"] - self.sends[0]["ts_ns"]

    @property
    def fate(self) -> str:
        """``delivered``, ``dropped`` (by netsim, on purpose), ``lost`` (its destination stopped without
        receiving it) or ``in flight at end`` (the trace ends before the destination stopped)."""
        if self.receives:
            return "delivered"
        if any(incident["event"] == "drop" for incident in self.incidents):
            return "dropped"
        if self.destination_stopped:
            return "lost"
        return "in flight at end"

    def to_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "msg_type": self.msg_type,
            "sender": self.sender,
            "destination": self.destination,
            "transport": self.transport,
            "fate": self.fate,
            "latency_ns": self.latency_ns,
            "sends": list(self.sends),
            "receives": list(self.receives),
            "incidents": list(self.incidents),
            "replies": [reply.to_dict() for reply in self.replies],
            "possibly_forwarded": list(self.possibly_forwarded),
            "destination_stopped": self.destination_stopped,
        }


@names_wrong_field_types
def follow_message(run_or_trace: str | os.PathLike[str], msg_id: str, *, strict: bool = True) -> MessageLife:
    """The life of message ``msg_id`` in a run directory's or trace file's trace, from one pass.

    Raises ``InputError`` (exit 2) if no event of the trace names ``msg_id``.
    """
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader:
        life = MessageLife(msg_id=msg_id, start_ts_ns=header_start_ts_ns(reader.header))
        replies: dict[str, ReplyLife] = {}
        # The id as a whole token in an error text: "n0:1" must not match inside "n0:12".
        mention = re.compile(rf"(?<![\w:]){re.escape(msg_id)}(?!\w)")
        # (receiving node, receive ts_ns + window) for each receive: sends inside may forward it.
        windows: list[tuple[str, int]] = []
        stopped: set[str] = set()
        msg_type: Any = None
        for record in reader:
            kind = record["event"]
            record_msg_id = record.get("msg_id")
            if record_msg_id == msg_id:
                if kind in SEND_EVENTS:
                    life.sends.append(record)
                elif kind in RECEIVE_EVENTS:
                    life.receives.append(record)
                    msg_type = record.get("msg_type")
                    windows.append((record["node"], record["ts_ns"] + FORWARD_WINDOW_NS))
                elif kind in INCIDENT_EVENTS:
                    life.incidents.append(record)
                continue
            if kind == "stop":
                stopped.add(record["node"])
            elif kind == "error":
                text = record.get("error")
                if isinstance(text, str) and mention.search(text):
                    life.incidents.append(record)
            if record.get("in_reply_to") == msg_id and isinstance(record_msg_id, str):
                reply = replies.get(record_msg_id)
                if reply is None:
                    reply = replies[record_msg_id] = ReplyLife(record_msg_id, record.get("msg_type"))
                if kind in SEND_EVENTS:
                    reply.sends.append(record)
                elif kind in RECEIVE_EVENTS:
                    reply.receives.append(record)
            elif windows and kind in SEND_EVENTS:
                ts_ns = record["ts_ns"]
                # The trace is sorted: a window that has closed stays closed.
                windows = [(node, end) for node, end in windows if end >= ts_ns]
                if (
                    any(node == record["node"] for node, _end in windows)
                    and record.get("msg_type") == msg_type
                ):
                    life.possibly_forwarded.append(record)
        life.replies = list(replies.values())
        if not (life.sends or life.receives or life.incidents or life.replies):
            raise InputError(
                f"{reader.path}: no event names message {msg_id!r}",
                hint="message ids look like n0:1 (sender:counter); list them with "
                "netsim trace events RUN --event send",
            )
        destination = life.destination
        life.destination_stopped = destination is not None and destination in stopped
        return life


def format_duration(ns: int) -> str:
    """A duration for people: ``850 ns``, ``67 µs``, ``1.234 ms``, ``2.500 s``."""
    if abs(ns) < 1_000:
        return f"{ns} ns"
    if abs(ns) < 1_000_000:
        return f"{ns / 1e3:.0f} µs"
    if abs(ns) < 1_000_000_000:
        return f"{ns / 1e6:.3f} ms"
    return f"{ns / 1e9:.3f} s"


def _over(record: dict[str, Any]) -> str:
    text = f"over {record.get('transport', '?')}"
    if "sockname" in record and "peername" in record:
        text += f" {format_address(record['sockname'])} -> {format_address(record['peername'])}"
    if "nbytes" in record:
        text += f" ({record['nbytes']} B)"
    return text


def message_timeline(life: MessageLife) -> list[str]:
    """The message's life as one line per step, in time order, then its fate."""
    steps: list[tuple[int, int, str]] = []
    first_send = life.sends[0]["ts_ns"] if life.sends else None
    # Each receiving node's first receive of the message, which its replies and forwards follow.
    last_receive: dict[str, int] = {}

    def add(record: dict[str, Any], text: str) -> None:
        ts_ns = record["ts_ns"]
        steps.append((ts_ns, len(steps), f"{format_time(ts_ns, life.start_ts_ns).strip()}  {text}"))

    def after(ts_ns: int, since: int | None, what: str = "later") -> str:
        return "" if since is None else f" ({format_duration(ts_ns - since)} {what})"

    def after_receiving(send: dict[str, Any]) -> str:
        """How long after its node received the followed message a reply or forward was sent."""
        return after(send["ts_ns"], last_receive.get(send["node"]), "after receiving it")

    for index, send in enumerate(life.sends):
        again = " again" if index else ""
        add(
            send,
            f"{send['node']} sent{again} {send.get('msg_type', 'message')} {life.msg_id} "
            f"to {send.get('peer', '?')} {_over(send)}",
        )
    for index, receive in enumerate(life.receives):
        again = " again" if index else ""
        add(receive, f"{receive['node']} received it{again}{after(receive['ts_ns'], first_send)}")
        last_receive.setdefault(receive["node"], receive["ts_ns"])
    for incident in life.incidents:
        kind = incident["event"]
        if kind == "drop":
            text = f"netsim dropped it at {incident['node']} ({incident.get('reason', 'no reason given')})"
        elif kind == "duplicate":
            text = f"netsim duplicated it at {incident['node']}"
        elif kind == "delay":
            delay_ns = incident.get("delay_ns")
            held = f" {format_duration(delay_ns)}" if type(delay_ns) is int else ""
            text = f"netsim held it back{held} at {incident['node']}"
        else:
            text = f"{incident['node']} error: {incident.get('error', '?')}"
        add(incident, text)
    for reply in life.replies:
        reply_sent = reply.sends[0]["ts_ns"] if reply.sends else None
        for send in reply.sends:
            add(
                send,
                f"{send['node']} replied {reply.msg_type or 'message'} {reply.msg_id} to "
                f"{send.get('peer', '?')}{after_receiving(send)}",
            )
        for receive in reply.receives:
            add(
                receive,
                f"{receive['node']} received the reply {reply.msg_id}{after(receive['ts_ns'], reply_sent)}",
            )
    for send in life.possibly_forwarded:
        add(
            send,
            f"{send['node']} possibly forwarded it as {send.get('msg_id', '?')} to {send.get('peer', '?')}"
            f"{after_receiving(send)}",
        )
    lines = [text for _ts, _order, text in sorted(steps)]
    fate = f"fate: {life.fate}"
    if life.latency_ns is not None:
        fate += f", latency {format_duration(life.latency_ns)}"
    elif life.fate == "lost" and _known_unreliable(life.transport):
        fate += f" ({life.transport} does not retransmit)"
    lines.append(fate)
    return lines


def _known_unreliable(transport: str | None) -> bool:
    traits = TRANSPORT_TRAITS.get(transport) if transport else None
    return traits is not None and not traits.reliable

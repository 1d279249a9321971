"""Following the bytes of a socket program: one send call, what netsim's link conditions did to it, the
receive calls that took its bytes and when, gathered in one streaming pass (``follow_bytes``) and told one
line a step (``bytes_timeline``).

What to follow is written ``NODE/SOCK@OFFSET``, the byte at stream offset ``OFFSET`` that node ``NODE``
sent on its socket ``SOCK`` (the ``sock`` of its ``call`` events: sockets are numbered per node, never
reused, so the offset names one byte of one connection), or ``NODE/SOCK#DIGEST``, the first datagram with
that ``digest`` the socket sent. The send call that wrote it is followed whole: every receive that took
some of its bytes, with the range each took, and which one took the byte asked for.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from netsim.errors import InputError
from netsim.trace.byte_ranges import BytePair, BytePairer, Unreceived, send_start_ns
from netsim.trace.events import format_time
from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.follow import format_duration
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.records import format_address
from netsim.trace.schema import CALL_EVENT, CALL_SENDS, header_start_ts_ns

# NODE/SOCK@OFFSET or NODE/SOCK#DIGEST; the node's name may hold anything, so it is read from the right.
_SPEC = re.compile(r"^(?P<node>.+)/(?P<sock>[0-9]+)(?:@(?P<offset>[0-9]+)|#(?P<digest>[0-9a-fA-F]{1,64}))$")
# netsim's link conditions on a program's sends, looked for on the followed socket during the send call.
_SHAPING = frozenset({"delay", "drop", "duplicate"})
_RECENT_SHAPING = 256
SPEC_HELP = "NODE/SOCK@OFFSET (a stream byte) or NODE/SOCK#DIGEST (a datagram)"


@dataclass(frozen=True, slots=True)
class BytesSpec:
    """What to follow: a byte of a stream (``offset``) or a datagram (``digest``) sent on a node's socket."""

    node: str
    sock: int
    offset: int | None = None
    digest: str | None = None

    def __str__(self) -> str:
        where = f"@{self.offset}" if self.offset is not None else f"#{self.digest}"
        return f"{self.node}/{self.sock}{where}"


def parse_bytes_spec(text: str) -> BytesSpec | None:
    """``text`` as a ``BytesSpec``, or None when it is not one (a message id, then)."""
    match = _SPEC.match(text)
    if match is None:
        return None
    offset = match.group("offset")
    digest = match.group("digest")
    return BytesSpec(
        node=match.group("node"),
        sock=int(match.group("sock")),
        offset=None if offset is None else int(offset),
        digest=None if digest is None else digest.lower(),
    )


@dataclass(slots=True)
class Taken:
    """Bytes ``[start, end)`` of the followed send that ``receive`` took."""

    receive: dict[str, Any]
    start: int
    end: int
    latency_ns: int

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "latency_ns": self.latency_ns, "receive": self.receive}


@dataclass(slots=True)
class BytesLife:
    """Everything the trace says about one send call of a socket program; ``to_dict()`` is
    ``netsim trace follow --json`` for bytes."""

    spec: BytesSpec
    start_ts_ns: int | None
    send: dict[str, Any]
    taken: list[Taken] = field(default_factory=list)
    unreceived: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, fate)
    incidents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def datagram(self) -> bool:
        return self.spec.digest is not None

    @property
    def holder(self) -> Taken | None:
        """The receive that took the byte asked for (of a datagram: its receive)."""
        offset = self.spec.offset
        for taken in self.taken:
            if offset is None or taken.start <= offset < taken.end:
                return taken
        return None

    @property
    def fate(self) -> str:
        """``received``, ``dropped`` (by netsim), ``lost`` (a datagram nobody received) or ``not received``
        (stream bytes no receive in the trace took)."""
        if self.holder is not None:
            return "received"
        offset = self.spec.offset
        for start, end, fate in self.unreceived:
            if offset is None or start <= offset < end:
                return fate
        return "not received"

    def to_dict(self) -> dict[str, Any]:
        holder = self.holder
        return {
            "follow": str(self.spec),
            "node": self.spec.node,
            "sock": self.spec.sock,
            "offset": self.spec.offset,
            "digest": self.spec.digest,
            "fate": self.fate,
            "latency_ns": None if holder is None else holder.latency_ns,
            "send": self.send,
            "received": [taken.to_dict() for taken in self.taken],
            "unreceived": [{"start": s, "end": e, "fate": fate} for s, e, fate in self.unreceived],
            "incidents": list(self.incidents),
        }


def _is_target(event: dict[str, Any], spec: BytesSpec) -> bool:
    if spec.digest is not None:
        return event.get("digest") == spec.digest
    offset, nbytes = event.get("offset"), event.get("nbytes")
    if type(offset) is not int or type(nbytes) is not int:
        return False
    return offset <= spec.offset < offset + nbytes  # type: ignore[operator]


@names_wrong_field_types
def follow_bytes(run_or_trace: str | os.PathLike[str], spec: BytesSpec, *, strict: bool = True) -> BytesLife:
    """The life of the send call that wrote ``spec``'s bytes, from one pass that stops once every byte of
    that send is accounted for. Raises ``InputError`` (exit 2) when no send call of the trace wrote them."""
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader:
        pairer = BytePairer()
        life: BytesLife | None = None
        recent: deque[dict[str, Any]] = deque(maxlen=_RECENT_SHAPING)
        settled = 0
        for record in reader:
            kind = record["event"]
            mine = record["node"] == spec.node and record.get("sock") == spec.sock
            if life is None and mine:
                if kind in _SHAPING:
                    recent.append(record)
                elif kind == CALL_EVENT and record.get("call") in CALL_SENDS and _is_target(record, spec):
                    life = BytesLife(spec, header_start_ts_ns(reader.header), record)
                    began = send_start_ns(record)
                    life.incidents = [r for r in recent if began <= r["ts_ns"] <= record["ts_ns"]]
            elif life is not None and mine and kind in _SHAPING and record["ts_ns"] <= life.send["ts_ns"]:
                life.incidents.append(record)
            outcomes = pairer.add(record)
            if life is not None and outcomes:
                settled += _note(life, outcomes)
                if settled >= _nbytes(life.send):
                    break
        else:
            if life is not None:
                _note(life, pairer.finish())
        if life is None:
            raise InputError(
                f"{reader.path}: no send call on socket {spec.sock} of node {spec.node!r} wrote "
                + (
                    f"byte {spec.offset}"
                    if spec.offset is not None
                    else f"a datagram of digest {spec.digest}"
                ),
                hint="list a node's calls with netsim trace events RUN --node NODE --event call",
            )
        life.taken.sort(key=lambda taken: taken.start)
        return life


def _nbytes(event: dict[str, Any]) -> int:
    nbytes = event.get("nbytes")
    return max(1, nbytes) if type(nbytes) is int else 1


def _note(life: BytesLife, outcomes: Any) -> int:
    """Keep the outcomes about the followed send; how many of its bytes they settle."""
    settled = 0
    for outcome in outcomes:
        if isinstance(outcome, BytePair) and outcome.send is life.send:
            life.taken.append(Taken(outcome.receive, outcome.start, outcome.end, outcome.latency_ns))
            settled += max(1, outcome.nbytes)
        elif isinstance(outcome, Unreceived) and outcome.send is life.send:
            life.unreceived.append((outcome.start, outcome.end, outcome.fate))
            if outcome.drop is not None and outcome.drop not in life.incidents:
                life.incidents.append(outcome.drop)
            settled += max(1, outcome.nbytes)
    return settled


def _socket(record: dict[str, Any]) -> str:
    text = f"socket {record.get('sock', '?')} ({record.get('transport', '?')}"
    if "sockname" in record and "peername" in record:
        text += f" {format_address(record['sockname'])} -> {format_address(record['peername'])}"
    return text + ")"


def _preview(record: dict[str, Any]) -> str:
    preview = record.get("preview")
    return f" {preview!r}" if isinstance(preview, str) and preview else ""


def bytes_timeline(life: BytesLife) -> list[str]:
    """The send's life as one line per step, in time order, then the fate of the byte followed."""
    steps: list[tuple[int, int, str]] = []

    def add(ts_ns: int, text: str) -> None:
        steps.append((ts_ns, len(steps), f"{format_time(ts_ns, life.start_ts_ns).strip()}  {text}"))

    send = life.send
    began = send_start_ns(send)
    nbytes = send.get("nbytes", "?")
    if life.datagram:
        what = f"a datagram of {nbytes} B, digest {send.get('digest')}"
    else:
        offset = send.get("offset", 0)
        what = f"bytes [{offset}, {offset + nbytes if type(nbytes) is int else '?'}) of the stream"
    took = f", the call took {format_duration(send['ts_ns'] - began)}" if send["ts_ns"] != began else ""
    add(
        began,
        f"{send['node']} {send.get('call', 'send')} on {_socket(send)} to {send.get('peer', '?')}: "
        f"{what}{_preview(send)}{took}",
    )
    holder = life.holder
    for taken in life.taken:
        receive = taken.receive
        mark = f"  <- byte {life.spec.offset}" if taken is holder and life.spec.offset is not None else ""
        span = "it" if life.datagram else f"bytes [{taken.start}, {taken.end})"
        add(
            receive["ts_ns"],
            f"{receive['node']} {receive.get('call', 'recv')} on socket {receive.get('sock', '?')} took "
            f"{span}, {format_duration(taken.latency_ns)} after the send began{mark}",
        )
    for incident in life.incidents:
        kind = incident["event"]
        if kind == "delay":
            delay_ns = incident.get("delay_ns")
            held = f" {format_duration(delay_ns)}" if type(delay_ns) is int else ""
            text = f"netsim held {incident.get('nbytes', '?')} B back{held} at {incident['node']}"
        elif kind == "drop":
            text = f"netsim dropped {incident.get('nbytes', '?')} B at {incident['node']}"
            text += f" ({incident.get('reason', 'no reason given')})"
        else:
            text = f"netsim duplicated {incident.get('nbytes', '?')} B at {incident['node']}"
        add(incident["ts_ns"], text)
    if not life.datagram:  # a datagram's fate is its last line
        for start, end, fate in life.unreceived:
            add(send["ts_ns"], f"bytes [{start}, {end}): {fate}")
    lines = [text for _ts, _order, text in sorted(steps)]
    fate = f"fate: {life.fate}"
    if holder is not None:
        fate += f" by {holder.receive['node']}, latency {format_duration(holder.latency_ns)}"
    lines.append(fate)
    return lines

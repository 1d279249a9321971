"""The arrows of socket programs' calls: one per send call and receive call that share bytes (a stream's
byte range, or a datagram), from the moment the send began to the moment the receive returned, paired by
``netsim.trace.byte_ranges``; a send whose bytes no receive took is a lost arrow.

Call events carry no Lamport clock, so this pass keeps one per node over them, as a node would: a call that
moves bytes ticks its node's clock, and the receiving end of an arrow is placed after its send's tick
(``receive_key``). The key is kept in the record the pass reads (``LAMPORT_KEY``): the pass owns its records,
and a key per event held elsewhere would outlive the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netsim.trace.byte_ranges import BytePair, BytePairer, Unreceived, send_start_ns
from netsim.trace.records import cut
from netsim.trace.schema import CALL_RECEIVES, CALL_SENDS

# The events this pass reads: calls, and the drops of programs' datagrams.
CALL_EVENTS = frozenset({"call", "drop"})
LAMPORT_KEY = "\x00key"
PREVIEW_CHARS = 24


class CallArrows:
    """Fed the call and drop events of the drawn nodes in trace order (``add``), it yields the arrows they
    complete as keyword arguments of ``netsim.trace.diagram.model.Arrow``; ``finish`` yields the lost ones."""

    def __init__(self) -> None:
        self._pairer = BytePairer()
        self._clock: dict[str, float] = {}
        self.without_send = 0  # receives (of bytes or datagrams) no traced send wrote

    def add(self, record: dict[str, Any]) -> Iterator[dict[str, Any]]:
        call = record.get("call")
        if call in CALL_SENDS or call in CALL_RECEIVES:
            node = record["node"]
            key = self._clock[node] = self._clock.get(node, 0.0) + 1.0
            record[LAMPORT_KEY] = key
        yield from self._arrows(self._pairer.add(record))

    def finish(self) -> Iterator[dict[str, Any]]:
        yield from self._arrows(self._pairer.finish())

    def _arrows(self, outcomes: Any) -> Iterator[dict[str, Any]]:
        for outcome in outcomes:
            if isinstance(outcome, BytePair):
                yield self._paired(outcome)
            elif isinstance(outcome, Unreceived):
                lost = self._lost(outcome)
                if lost is not None:
                    yield lost
            else:
                self.without_send += 1

    def _paired(self, pair: BytePair) -> dict[str, Any]:
        send, receive = pair.send, pair.receive
        send_key = send.get(LAMPORT_KEY, 0.0)
        receiver = receive["node"]
        receive_key = max(receive.get(LAMPORT_KEY, 0.0), send_key + 1.0)
        self._clock[receiver] = max(self._clock.get(receiver, 0.0), receive_key)
        arrow = _common(send, pair.start, pair.end, pair.datagram)
        arrow.update(
            destination=receiver,
            receive_ts_ns=receive["ts_ns"],
            receive_key=receive_key,
        )
        arrow["details"] += (
            f"taken by {receiver}'s {receive.get('call', 'recv')} on socket {receive.get('sock')}",
        )
        return arrow

    def _lost(self, lost: Unreceived) -> dict[str, Any] | None:
        send = lost.send
        peer = send.get("peer")
        if not isinstance(peer, str):
            return None
        arrow = _common(send, lost.start, lost.end, lost.fate != "not received")
        arrow.update(destination=peer)
        arrow["details"] += (f"{lost.fate}" + (f" ({lost.drop.get('reason')})" if lost.drop else ""),)
        return arrow


def _nbytes(send: dict[str, Any]) -> int:
    nbytes = send.get("nbytes")
    return nbytes if type(nbytes) is int else 0


def _common(send: dict[str, Any], start: int, end: int, datagram: bool) -> dict[str, Any]:
    """The fields of an arrow that come from its send."""
    transport = send.get("transport")
    transport = transport if isinstance(transport, str) else None
    node, sock = send["node"], send.get("sock")
    preview = send.get("preview")
    preview = preview if isinstance(preview, str) else ""
    if datagram:
        follow = f"{node}/{sock}#{send.get('digest')}"
        label = cut(repr(preview), PREVIEW_CHARS) if preview else f"{end - start} B"
    else:
        follow = f"{node}/{sock}@{start}"
        label = f"[{start}, {end})"
    details: tuple[str, ...] = (
        f"{send.get('call', 'send')} on {node}'s socket {sock}, bytes [{start}, {end})"
        + (f" of [{send.get('offset')}, {send.get('offset', 0) + _nbytes(send)})" if not datagram else ""),
    )
    if preview:
        details += (f"its first bytes: {cut(repr(preview), 60)}",)
    details += (f"follow: netsim trace follow RUN {follow}",)
    return {
        "msg_id": follow,
        "msg_type": f"{transport or '?'} {'datagrams' if datagram else 'bytes'}",
        "transport": transport,
        "source": node,
        "nbytes": end - start,
        "send_ts_ns": send_start_ns(send),
        "send_key": send.get(LAMPORT_KEY, 0.0),
        "label": label,
        "details": details,
    }

"""Which nodes get a lane: the messages each node sent and received, counted in a pass of their own (or in
the report's one pass) before the diagram's pass draws the busiest ones.

``NodeMessages`` also counts, per node, what the diagram's pass would count and not draw for a node
without a lane (its netsim messages, its sends outside the window or without peer, its errors), and the
names it would meet that no event records as its own node. With those in hand the diagram's pass reads
only the events of the nodes it draws (``TraceReader.events(nodes=...)``), and adds these counts for the
others (``NodeMessages.apart``): the same diagram, without parsing the lines of every other node again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from netsim.trace.schema import CALL_RECEIVES, CALL_SENDS, RECEIVE_EVENTS, SEND_EVENTS
from netsim.vocabulary import CONTROL_TYPE_PREFIX


@dataclass(frozen=True, slots=True)
class Apart:
    """What the diagram's pass would have counted, and not drawn, of the events of nodes without a lane."""

    control_messages: int
    outside_window: int
    without_peer: int
    other_nodes: int
    errors_other_nodes: int
    # Names neither drawn nor accounted for, in the order the pass would have met them.
    strangers: list[str]


def _outside(ts_ns: int, since_ns: int | None, until_ns: int | None) -> bool:
    return (since_ns is not None and ts_ns < since_ns) or (until_ns is not None and ts_ns > until_ns)


class NodeMessages:
    """Messages each node sent and received within ``since_ns``..``until_ns`` (netsim's own left out
    unless ``include_control``): what ``read_model`` counts to draw the busiest nodes. Feed it a trace's
    events in order (``add_all``); the report feeds it in the one pass it makes for its sections and hands
    it to ``render_diagram``, which then reads the trace once instead of twice."""

    def __init__(
        self, known: list[str], since_ns: int | None, until_ns: int | None, include_control: bool
    ) -> None:
        self.window = (since_ns, until_ns, include_control)
        self.handled: dict[str, int] = dict.fromkeys(known, 0)
        self._known = frozenset(known)
        # Per node, as the diagram's pass counts them (see _collect): its sends in the window that it
        # would draw between drawn nodes; of those, the ones without peer or msg_id; its netsim sends;
        # its other sends outside the window; its errors in the window.
        self.sent: dict[str, int] = {}
        self.without_peer: Counter[str] = Counter()
        self.control: Counter[str] = Counter()
        self.outside: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        # Names not in the topology the diagram's pass asks about (a send's peer, an error's node), in
        # the order it meets them; and whether the events came in ts_ns order, which a pass over the
        # events of a few nodes relies on (see read_model).
        self.strangers: dict[str, None] = {}
        self.in_order = True
        self._last_ts_ns: int | None = None

    def add_all(self, records: Iterable[dict[str, Any]]) -> None:
        """Count these events, the next ones of the trace."""
        since_ns, until_ns, include_control = self.window
        windowed = since_ns is not None or until_ns is not None
        handled, sent, known, strangers = self.handled, self.sent, self._known, self.strangers
        last_ts_ns, in_order = self._last_ts_ns, self.in_order
        for record in records:
            ts_ns = record["ts_ns"]
            if last_ts_ns is not None and ts_ns < last_ts_ns:
                in_order = False
            last_ts_ns = ts_ns
            kind = record["event"]
            if kind in SEND_EVENTS:
                sending = True
            elif kind in RECEIVE_EVENTS:
                sending = False
            else:
                if kind == "error" and not (windowed and _outside(ts_ns, since_ns, until_ns)):
                    node = record["node"]
                    self.errors[node] += 1
                    if node not in known:
                        strangers.setdefault(node)
                elif kind == "call" and not (windowed and _outside(ts_ns, since_ns, until_ns)):
                    # A socket program's call that moves bytes weighs as a message does.
                    call = record.get("call")
                    if call in CALL_SENDS or call in CALL_RECEIVES:
                        node = record["node"]
                        handled[node] = handled.get(node, 0) + 1
                continue
            # The diagram's order of tests: netsim's own first, then the window, then the peer.
            if not include_control:
                msg_type = record.get("msg_type")  # is_control, inline: this runs for every message
                if type(msg_type) is str and msg_type.startswith(CONTROL_TYPE_PREFIX):
                    if sending:
                        self.control[record["node"]] += 1
                    continue
            if windowed and _outside(ts_ns, since_ns, until_ns):
                if sending:
                    self.outside[record["node"]] += 1
                continue
            node = record["node"]
            handled[node] = handled.get(node, 0) + 1
            if sending:
                sent[node] = sent.get(node, 0) + 1
                peer = record.get("peer")
                if type(peer) is not str or type(record.get("msg_id")) is not str:
                    self.without_peer[node] += 1
                elif peer not in known:
                    strangers.setdefault(peer)
        self._last_ts_ns, self.in_order = last_ts_ns, in_order

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data that ``from_data`` makes the same counts of, dict orders kept (the order of
        the lanes and of the strangers). Raises TypeError where a name is not a string (orjson does too)."""
        counts = {name: dict(getattr(self, name)) for name in _COUNTS}
        if not all(type(node) is str for part in counts.values() for node in part):
            raise TypeError("a node name that is not a string")
        return {
            "window": list(self.window),
            "known": sorted(self._known),
            **counts,
            "strangers": list(self.strangers),
            "in_order": self.in_order,
            "last_ts_ns": self._last_ts_ns,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> NodeMessages:
        """The counts ``to_data`` gave ``data`` for; ValueError for data of another shape."""
        try:
            since_ns, until_ns, include_control = data["window"]
            messages = cls([], since_ns, until_ns, include_control)
            messages._known = frozenset(data["known"])
            for name in _COUNTS:
                part = data[name]
                if not (isinstance(part, dict) and all(type(count) is int for count in part.values())):
                    raise ValueError(f"{name} is not a count per node")
                setattr(messages, name, Counter(part) if name in _COUNTERS else dict(part))
            messages.strangers = dict.fromkeys(data["strangers"])
            messages.in_order, messages._last_ts_ns = bool(data["in_order"]), data["last_ts_ns"]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not the data of a NodeMessages: {error}") from None
        return messages

    def busiest(self, max_nodes: int) -> tuple[list[str], list[str]]:
        """(the ``max_nodes`` nodes that sent and received the most messages, the others)."""
        handled = self.handled
        order = {name: index for index, name in enumerate(handled)}
        ranked = sorted(handled, key=lambda name: (-handled[name], order[name]))
        chosen = set(ranked[:max_nodes])
        # Columns keep the topology's order: neighbours in the file tend to be neighbours in the drawing.
        return [n for n in handled if n in chosen], [n for n in ranked[max_nodes:]]

    def apart(self, drawn: Iterable[str]) -> Apart:
        """The counts of the nodes not in ``drawn``, and the strangers no lane or ranking accounts for."""
        lanes = set(drawn)

        def total(counts: dict[str, int]) -> int:
            return sum(count for node, count in counts.items() if node not in lanes)

        without_peer = total(self.without_peer)
        return Apart(
            control_messages=total(self.control),
            outside_window=total(self.outside),
            without_peer=without_peer,
            other_nodes=total(self.sent) - without_peer,
            errors_other_nodes=total(self.errors),
            strangers=[name for name in self.strangers if name not in self.handled],
        )


# NodeMessages' counts per node: plain dicts, and Counters.
_COUNTERS = ("without_peer", "control", "outside", "errors")
_COUNTS = ("handled", "sent", *_COUNTERS)

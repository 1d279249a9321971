"""What a space-time diagram shows, decided from the trace alone: lanes, arrows, error marks, axis ticks,
and what was left out and why. Plain data, no SVG: ``netsim.trace.diagram.svg`` draws it.

``read_model`` streams the trace through ``TraceReader`` (a second, counting pass only when it has to
pick the busiest nodes) and holds only what will be drawn: at most ``max_nodes`` lanes,
``max_messages`` arrows and as many error marks, so a trace of a million events costs time, not memory.
What does not fit is counted in ``DiagramModel.left_out`` and said in one line in ``DiagramModel.note``.

Why one module of some 600 lines: the model's records and the pass that fills them change together (a
field of ``Arrow`` is read from the trace in ``_collect``, a ``left_out`` reason is counted there too), and
the pass is one long loop that splitting would only scatter.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from netsim.errors import OptionError
from netsim.trace.diagram.calls import CALL_EVENTS, CallArrows
from netsim.trace.diagram.lanes import Apart, NodeMessages
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.records import int_or_none, is_control
from netsim.trace.schema import RECEIVE_EVENTS, SEND_EVENTS, header_node_names, header_start_ts_ns

Axis = Literal["time", "lamport"]
AXES: tuple[str, ...] = ("time", "lamport")
NOTE_NAMES = 10  # node names quoted in left_out and in the note

# left_out entries caused by max_nodes / max_messages, rather than by the caller's choices.
LIMIT_REASONS = frozenset({"nodes", "messages", "errors"})

_NOTE_LABELS = {
    "nodes": "nodes",
    "unselected_nodes": "nodes not selected",
    "messages": "messages",
    "messages_other_nodes": "messages to/from nodes not drawn",
    "messages_outside_window": "messages outside the time window",
    "messages_without_peer": "messages without peer",
    "control_messages": "control messages (netsim.*)",
    "errors": "errors",
    "errors_other_nodes": "errors on nodes not drawn",
}


@dataclass(frozen=True, slots=True)
class Lane:
    """One node's line in the diagram."""

    node: str
    app: str | None


@dataclass(slots=True)
class Arrow:
    """One message: its send, and its receive once (if ever) seen. ``*_key`` place it on the Lamport axis."""

    msg_id: str
    msg_type: str
    transport: str | None
    source: str
    destination: str
    nbytes: int | None
    send_ts_ns: int
    send_key: float
    receive_ts_ns: int | None = None
    receive_key: float | None = None
    # A socket program's bytes (diagram/calls.py): the text on the arrow (else its msg_type), more tooltip.
    label: str | None = None
    details: tuple[str, ...] = ()

    @property
    def lost(self) -> bool:
        return self.receive_ts_ns is None


@dataclass(frozen=True, slots=True)
class ErrorMark:
    """An ``error`` event on a drawn node; ``key`` places it just after the node's previous clock."""

    node: str
    ts_ns: int
    key: float
    text: str
    transport: str | None


@dataclass(frozen=True, slots=True)
class Tick:
    """One axis tick: ``at`` is a ``ts_ns`` on the time axis, a Lamport key on the lamport axis."""

    at: float
    label: str


@dataclass(frozen=True, slots=True)
class DiagramModel:
    """Everything a diagram shows, in the trace's terms (nanoseconds, Lamport keys, node names).

    ``left_out`` maps each reason something was not drawn to ``{"count": n, "reason": text}`` (plus
    ``"names"`` for nodes); ``note`` says it in one line, with the malformed lines skipped.
    """

    run_id: str | None
    topology_name: str | None
    app: str | None
    axis: str
    base_ts_ns: int  # what "seconds into the run" count from
    lanes: tuple[Lane, ...]
    arrows: tuple[Arrow, ...]
    errors: tuple[ErrorMark, ...]
    left_out: dict[str, dict[str, Any]]
    note: str

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(lane.node for lane in self.lanes)

    @property
    def lost(self) -> int:
        return sum(arrow.lost for arrow in self.arrows)

    @property
    def note_is_limit(self) -> bool:
        """True when a limit (max_nodes, max_messages) left something out, not only the caller's choices."""
        return any(name in LIMIT_REASONS for name in self.left_out)

    @property
    def msg_types(self) -> list[str]:
        """The drawn message types, in the order of their first send."""
        return list(dict.fromkeys(arrow.msg_type for arrow in self.arrows))

    def lamport_keys(self) -> list[float]:
        """Every Lamport key an arrow end or an error mark sits at, in order, each once."""
        distinct: set[float] = set()
        for arrow in self.arrows:
            distinct.add(arrow.send_key)
            if arrow.receive_key is not None:
                distinct.add(arrow.receive_key)
        distinct.update(mark.key for mark in self.errors)
        return sorted(distinct)

    def time_extent(self) -> tuple[int, int]:
        """(the first, the last) ``ts_ns`` drawn; ``base_ts_ns`` twice when nothing is."""
        stamps = [a.send_ts_ns for a in self.arrows] + [
            a.receive_ts_ns for a in self.arrows if a.receive_ts_ns
        ]
        stamps += [mark.ts_ns for mark in self.errors]
        return min(stamps, default=self.base_ts_ns), max(stamps, default=self.base_ts_ns)

    def time_ticks(self, target_ticks: int) -> list[Tick]:
        """Ticks at round seconds into the run, about ``target_ticks`` of them over ``time_extent``."""
        t_first, t_last = self.time_extent()
        step = _nice_step((t_last - t_first) / 1e9, target_ticks)
        last_s = (t_last - self.base_ts_ns) / 1e9
        tick = math.ceil((t_first - self.base_ts_ns) / 1e9 / step) * step
        ticks = []
        while tick <= last_s + step * 1e-6:
            ticks.append(Tick(self.base_ts_ns + round(tick * 1e9), _seconds_label(tick, step)))
            tick += step
        return ticks


def lamport_ticks(keys: Sequence[float], room: float) -> list[Tick]:
    """Every key, or every n-th where more than ``room`` would crowd; ``3+`` marks a key between 3 and 4."""
    every = max(1, math.ceil(len(keys) / max(1, room)))
    return [
        Tick(key, f"{key:g}" if key == int(key) else f"{math.floor(key)}+")
        for key in (keys[index] for index in range(0, len(keys), every))
    ]


def _nice_step(span: float, target_ticks: int) -> float:
    """A 1-2-5 step that cuts ``span`` into about ``target_ticks`` pieces."""
    if span <= 0:
        return 1.0
    raw = span / max(1, target_ticks)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _seconds_label(seconds: float, step: float) -> str:
    decimals = max(0, min(9, -math.floor(math.log10(step)))) if step > 0 else 3
    return f"{seconds:.{decimals}f} s"


@dataclass(slots=True)
class _Collected:
    """What one pass found: the drawn nodes, messages and errors, and the counts of what was not drawn."""

    nodes: list[str]
    messages: list[Arrow] = field(default_factory=list)
    errors: list[ErrorMark] = field(default_factory=list)
    control_messages: int = 0
    outside_window: int = 0
    without_peer: int = 0
    other_nodes: int = 0
    over_limit: int = 0
    errors_over_limit: int = 0
    errors_other_nodes: int = 0
    nodes_over_limit: list[str] = field(default_factory=list)
    nodes_over_limit_count: int = 0


def _collect(
    records: Iterable[dict[str, Any]],
    nodes: list[str],
    *,
    may_add_nodes: bool,
    accounted: set[str],
    since_ns: int | None,
    until_ns: int | None,
    include_control: bool,
    max_messages: int,
    max_nodes: int,
    lanes_only: bool = False,
) -> _Collected:
    """One streaming pass: pair each drawn send with its receive, keep error marks, count the rest.

    ``lanes_only``: ``records`` are the events of the drawn nodes only, and the caller counts what the
    others' events would have added (``NodeMessages.apart``), the names met that did not fit included."""
    collected = _Collected(nodes=list(nodes))
    drawn = set(nodes)
    # Nodes found only in the trace that did not fit (names kept up to NOTE_NAMES, then only counted);
    # `accounted` ones (left out by choice or by the busiest-nodes pass) are reported by the caller.
    refused: set[str] = set()
    # Sends still waiting for their receive, by msg_id (a list: ids are unique per run, but be lenient).
    pending: dict[str, list[Arrow]] = {}
    # A receive can precede its send in the file only when both have the same ts_ns (the merge keeps
    # each node's order, not cause and effect), so receives nobody waits for are held for one ts_ns.
    unmatched_receives: list[dict[str, Any]] = []
    unmatched_ts_ns: int | None = None
    last_lamport: dict[str, float] = {}

    def is_drawn(node: str) -> bool:
        if node in drawn:
            return True
        if may_add_nodes and len(collected.nodes) < max_nodes:
            drawn.add(node)
            collected.nodes.append(node)
            return True
        if lanes_only:
            return False
        if node not in refused and node not in accounted:
            collected.nodes_over_limit_count += 1
            refused.add(node)
            if len(collected.nodes_over_limit) < NOTE_NAMES:
                collected.nodes_over_limit.append(node)
        return False

    def key_of(record: dict[str, Any], node: str) -> float:
        lamport = int_or_none(record.get("lamport"))
        if lamport is not None:
            return float(lamport)
        # Without a Lamport stamp, just after the node's previous stamped event.
        return last_lamport.get(node, 0.0) + 0.5

    def in_window(ts_ns: int) -> bool:
        too_early = since_ns is not None and ts_ns < since_ns
        return not too_early and not (until_ns is not None and ts_ns > until_ns)

    def pair(message: Arrow, receive: dict[str, Any]) -> None:
        message.receive_ts_ns = receive["ts_ns"]
        message.receive_key = key_of(receive, receive["node"])

    calls: CallArrows | None = None  # made at the first call event: socket programs' bytes

    def place(fields: dict[str, Any]) -> None:
        """An arrow of a program's bytes, drawn as a message's would be (window, lanes, limit)."""
        if not in_window(fields["send_ts_ns"]):
            collected.outside_window += 1
        elif not (is_drawn(fields["source"]) & is_drawn(fields["destination"])):
            collected.other_nodes += 1
        elif len(collected.messages) >= max_messages:
            collected.over_limit += 1
        else:
            collected.messages.append(Arrow(**fields))

    for record in records:
        ts_ns: int = record["ts_ns"]
        node: str = record["node"]
        kind: str = record["event"]
        if ts_ns != unmatched_ts_ns:
            unmatched_receives.clear()
            unmatched_ts_ns = ts_ns

        if kind in SEND_EVENTS:
            key = key_of(record, node)
            last_lamport[node] = max(last_lamport.get(node, 0.0), key)
            raw_type = record.get("msg_type")
            msg_type = raw_type if isinstance(raw_type, str) else "?"
            if not include_control and is_control(msg_type):
                collected.control_messages += 1
                continue
            if not in_window(ts_ns):
                collected.outside_window += 1
                continue
            peer = record.get("peer")
            msg_id = record.get("msg_id")
            if not isinstance(peer, str) or not isinstance(msg_id, str):
                collected.without_peer += 1
                continue
            # Both ends must be columns; `and` would skip registering the peer, so ask for both.
            source_drawn = is_drawn(node)
            destination_drawn = is_drawn(peer)
            if not (source_drawn and destination_drawn):
                collected.other_nodes += 1
                continue
            if len(collected.messages) >= max_messages:
                collected.over_limit += 1
                continue
            transport = record.get("transport")
            message = Arrow(
                msg_id=msg_id,
                msg_type=msg_type,
                transport=transport if isinstance(transport, str) else None,
                source=node,
                destination=peer,
                nbytes=int_or_none(record.get("nbytes")),
                send_ts_ns=ts_ns,
                send_key=key,
            )
            collected.messages.append(message)
            early = next(
                (
                    r
                    for r in unmatched_receives
                    if r.get("msg_id") == msg_id and r["node"] == peer and r.get("peer", node) == node
                ),
                None,
            )
            if early is not None:
                unmatched_receives.remove(early)
                pair(message, early)
            else:
                pending.setdefault(msg_id, []).append(message)

        elif kind in RECEIVE_EVENTS:
            msg_id = record.get("msg_id")
            last_lamport[node] = max(last_lamport.get(node, 0.0), key_of(record, node))
            if not isinstance(msg_id, str):
                continue
            waiting = pending.get(msg_id)
            peer = record.get("peer")
            match = None
            if waiting:
                match = next(
                    (
                        m
                        for m in waiting
                        if m.destination == node and (not isinstance(peer, str) or m.source == peer)
                    ),
                    None,
                )
            if match is not None:
                assert waiting is not None
                waiting.remove(match)
                if not waiting:
                    del pending[msg_id]
                pair(match, record)
            elif node in drawn and len(unmatched_receives) < max_messages:
                unmatched_receives.append(record)

        elif kind in CALL_EVENTS:
            if calls is None:
                calls = CallArrows()
            for fields in calls.add(record):
                place(fields)

        elif kind == "error":
            if not in_window(ts_ns):
                continue
            if not is_drawn(node):
                collected.errors_other_nodes += 1
                continue
            # Past the message limit the drawing has ended: later errors would stretch its time axis.
            if len(collected.errors) >= max_messages or collected.over_limit:
                collected.errors_over_limit += 1
                continue
            text = record.get("error")
            transport = record.get("transport")
            collected.errors.append(
                ErrorMark(
                    node=node,
                    ts_ns=ts_ns,
                    key=last_lamport.get(node, 0.0) + 0.5,
                    text=text if isinstance(text, str) and text else "(no error text)",
                    transport=transport if isinstance(transport, str) else None,
                )
            )
    if calls is not None:
        for fields in calls.finish():
            place(fields)
    return collected


def _add_apart(collected: _Collected, apart: Apart) -> None:
    """Add to a pass over the lanes' events what the other nodes' events would have added to it."""
    collected.control_messages += apart.control_messages
    collected.outside_window += apart.outside_window
    collected.without_peer += apart.without_peer
    collected.other_nodes += apart.other_nodes
    collected.errors_other_nodes += apart.errors_other_nodes
    collected.nodes_over_limit_count += len(apart.strangers)
    collected.nodes_over_limit.extend(apart.strangers[: NOTE_NAMES - len(collected.nodes_over_limit)])


def _left_out(
    collected: _Collected,
    *,
    unselected: list[str],
    busiest_dropped: list[str],
    max_messages: int,
    max_nodes: int,
    chosen_from_list: bool,
) -> dict[str, dict[str, Any]]:
    left: dict[str, dict[str, Any]] = {}
    over_nodes = busiest_dropped + collected.nodes_over_limit
    over_count = len(busiest_dropped) + collected.nodes_over_limit_count
    if over_count:
        how = "the first ones listed drawn" if chosen_from_list else "the busiest drawn"
        left["nodes"] = {
            "count": over_count,
            "names": over_nodes[:NOTE_NAMES],
            "reason": f"over max_nodes={max_nodes} ({how})",
        }
    if unselected:
        left["unselected_nodes"] = {
            "count": len(unselected),
            "names": unselected[:NOTE_NAMES],
            "reason": "not in the nodes asked for",
        }
    counts = (
        ("messages", collected.over_limit, f"over max_messages={max_messages} (the first ones drawn)"),
        ("messages_other_nodes", collected.other_nodes, "sent to or from a node not drawn"),
        ("messages_outside_window", collected.outside_window, "sent outside since/until"),
        ("messages_without_peer", collected.without_peer, "send without peer or msg_id"),
        ("control_messages", collected.control_messages, "netsim's own messages (include_control=True)"),
        (
            "errors",
            collected.errors_over_limit,
            f"after the last message drawn or over {max_messages} error marks",
        ),
        ("errors_other_nodes", collected.errors_other_nodes, "errors on a node not drawn"),
    )
    for name, count, reason in counts:
        if count:
            left[name] = {"count": count, "reason": reason}
    return left


def left_out_note(left_out: dict[str, dict[str, Any]]) -> str:
    """``left_out`` as one line of text (empty when nothing was left out)."""
    parts = []
    for name, entry in left_out.items():
        text = f"{entry['count']} {_NOTE_LABELS.get(name, name)}"
        if name in LIMIT_REASONS:
            text += f" {entry['reason']}"
        parts.append(text)
    return "not drawn: " + "; ".join(parts) if parts else ""


def read_model(
    run_or_trace: str | os.PathLike[str],
    *,
    nodes: list[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    axis: Axis = "time",
    include_control: bool = False,
    max_messages: int = 400,
    max_nodes: int = 30,
    strict: bool = True,
    node_messages: NodeMessages | None = None,
) -> DiagramModel:
    """What the diagram of a run shows; the options are ``render_diagram``'s (see there)."""
    if axis not in AXES:
        raise OptionError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    if max_messages < 1:
        raise OptionError(f"max_messages must be at least 1, got {max_messages}")
    if max_nodes < 1:
        raise OptionError(f"max_nodes must be at least 1, got {max_nodes}")
    if since is not None and until is not None and since > until:
        raise OptionError(f"since ({since} s) is after until ({until} s)")

    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader:
        header = reader.header
        start_ts_ns = header_start_ts_ns(header)
        if start_ts_ns is None and (since is not None or until is not None):
            raise OptionError(
                f"{reader.path}: the header has no start_ts_ns, so since/until cannot be placed",
                hint="leave out since/until",
            )
        base = start_ts_ns or 0
        since_ns = None if since is None else base + round(since * 1e9)
        until_ns = None if until is None else base + round(until * 1e9)
        known = header_node_names(header)

        unselected: list[str] = []
        busiest_dropped: list[str] = []
        apart: Apart | None = None
        if nodes is not None:
            wanted = list(dict.fromkeys(nodes))
            if not wanted:
                raise OptionError("nodes: the list is empty", hint="name at least one node, or leave it out")
            known_names = set(known)
            unknown = [name for name in wanted if known and name not in known_names]
            if unknown:
                shown = ", ".join(repr(name) for name in known[:NOTE_NAMES])
                more = f" and {len(known) - NOTE_NAMES} more" if len(known) > NOTE_NAMES else ""
                raise OptionError(
                    f"nodes: not in this run: {', '.join(repr(name) for name in unknown)}",
                    hint=f"the run's nodes are {shown}{more}",
                )
            columns = wanted[:max_nodes]
            busiest_dropped = wanted[max_nodes:]
            wanted_names = set(wanted)
            unselected = [name for name in known if name not in wanted_names]
            may_add = False
        elif len(known) > max_nodes:
            if node_messages is None:
                node_messages = NodeMessages(known, since_ns, until_ns, include_control)
                node_messages.add_all(reader)
            elif node_messages.window != (since_ns, until_ns, include_control):
                raise ValueError("node_messages was counted over another window than this diagram's")
            columns, busiest_dropped = node_messages.busiest(max_nodes)
            may_add = False
            # The lanes are fixed, and everything the pass would count of the other nodes' events is
            # counted already: the pass reads the lanes' events only. A strict pass, as the counting one
            # was (so every line was checked there), over events in order (a receive waits for its send
            # until the next ts_ns, which any node's event may bring).
            if strict and node_messages.in_order:
                apart = node_messages.apart(columns)
        else:
            columns, may_add = list(known), True

        collected = _collect(
            reader if apart is None else reader.events(nodes=columns),
            columns,
            may_add_nodes=may_add,
            accounted=set(columns) | set(busiest_dropped) | set(unselected),
            since_ns=since_ns,
            until_ns=until_ns,
            include_control=include_control,
            max_messages=max_messages,
            max_nodes=max_nodes,
            lanes_only=apart is not None,
        )
        skipped = reader.skipped_count
    if apart is not None:
        _add_apart(collected, apart)

    left_out = _left_out(
        collected,
        unselected=unselected,
        busiest_dropped=busiest_dropped,
        max_messages=max_messages,
        max_nodes=max_nodes,
        chosen_from_list=nodes is not None,
    )
    note = left_out_note(left_out)
    if skipped:
        note = "; ".join(filter(None, [note, f"{skipped} malformed line(s) skipped"]))
    topology = header.get("topology") if isinstance(header.get("topology"), dict) else {}
    node_apps = header.get("node_apps") if isinstance(header.get("node_apps"), dict) else {}
    return DiagramModel(
        run_id=_text_or_none(header.get("run_id")),
        topology_name=_text_or_none(topology.get("name")),
        app=_text_or_none(header.get("app")),
        axis=axis,
        base_ts_ns=base,
        lanes=tuple(Lane(node, _text_or_none(node_apps.get(node))) for node in collected.nodes),
        arrows=tuple(collected.messages),
        errors=tuple(collected.errors),
        left_out=left_out,
        note=note,
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def diagram_nodes(values: Iterable[str], known: Iterable[str]) -> list[str]:
    """Node names from ``--nodes`` values: a value naming a node is kept whole, others split on commas."""
    known_set = set(known)
    result: list[str] = []
    for value in values:
        if value in known_set:
            result.append(value)
        else:
            result.extend(part.strip() for part in value.split(",") if part.strip())
    return result

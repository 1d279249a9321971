"""Space-time (Lamport) diagrams of a run as self-contained SVG: one line per node, one arrow per message.

``render_diagram`` streams the trace through ``TraceReader`` (a second, counting pass only when it has
to pick the busiest nodes) and holds only what it draws: at most ``max_nodes`` nodes, ``max_messages``
messages and as many error marks, so a trace of a million events costs time, not memory. What does not
fit is counted and reported twice: in ``Diagram.left_out`` and in a note at the bottom of the SVG.

The SVG is written by hand: presentation attributes only (no ``<style>``, no ids), so that several
diagrams can be inlined into one HTML page without clashing; no scripts, no external fonts. Every piece
of text from the trace goes through ``_xml_text``, because node names and message types are arbitrary
Unicode.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from netsim.errors import OptionError
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.records import is_control
from netsim.trace.schema import RECEIVE_EVENTS, SEND_EVENTS, header_node_names

Axis = Literal["time", "lamport"]
AXES: tuple[str, ...] = ("time", "lamport")

# Layout, in SVG user units (pixels).
FONT_FAMILY = "Helvetica, Arial, sans-serif"
NAME_FONT = 11
LABEL_FONT = 9
AXIS_FONT = 9
NOTE_FONT = 10
CHAR_WIDTH = 0.6  # average glyph width as a fraction of the font size: enough to budget room for text
LEFT_MARGIN = 86
RIGHT_MARGIN = 30
BOTTOM_MARGIN = 16
MIN_WIDTH = 560
ROW_HEIGHT = 16  # lamport axis: one rank per row; time axis: plot height per drawn item
MIN_PLOT_HEIGHT = 220
MAX_PLOT_HEIGHT = 12_000
NAME_CHARS = 32  # longer names are cut in the header (the full name is in the tooltip)
TYPE_LABEL_CHARS = 18
NOTE_NAMES = 10  # node names quoted in left_out and in the note
REPEAT_NAMES_BELOW = 900  # a plot taller than this repeats the node names at its bottom
ARROW_HEAD = 7.0

LINE_COLOUR = "#adb5bd"
GRID_COLOUR = "#f1f3f5"
TEXT_COLOUR = "#212529"
MUTED_COLOUR = "#495057"
LOST_COLOUR = "#e8590c"
ERROR_COLOUR = "#e03131"
NOTE_COLOUR = "#c92a2a"
# Message types get colours in order of first appearance (colour-blind safe "Tableau 10" order).
TYPE_COLOURS: tuple[str, ...] = (
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#ff7f0e",
    "#d62728",
)

# Characters XML 1.0 forbids (C0 controls except tab/newline/CR, surrogates, U+FFFE/U+FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` safe inside an XML element or a double-quoted attribute."""
    text = _XML_INVALID.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _text_width(text: str, font_size: float) -> float:
    return len(text) * font_size * CHAR_WIDTH


def _num(value: float) -> str:
    """A coordinate with at most two decimals, without trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(slots=True)
class _Message:
    """One drawn message: its send, and its receive once (if ever) seen."""

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

    @property
    def lost(self) -> bool:
        return self.receive_ts_ns is None


@dataclass(slots=True)
class _ErrorMark:
    node: str
    ts_ns: int
    key: float
    text: str
    transport: str | None


@dataclass(slots=True)
class _Collected:
    """What one pass found: the drawn nodes, messages and errors, and the counts of what was not drawn."""

    nodes: list[str]
    messages: list[_Message] = field(default_factory=list)
    errors: list[_ErrorMark] = field(default_factory=list)
    control_messages: int = 0
    outside_window: int = 0
    without_peer: int = 0
    other_nodes: int = 0
    over_limit: int = 0
    errors_over_limit: int = 0
    errors_other_nodes: int = 0
    nodes_over_limit: list[str] = field(default_factory=list)
    nodes_over_limit_count: int = 0


@dataclass(frozen=True, slots=True)
class Diagram:
    """A rendered space-time diagram.

    ``svg`` is the document (UTF-8 text, no XML declaration, so it can also be inlined into HTML).
    ``left_out`` maps each reason something was not drawn to ``{"count": n, "reason": text}`` (plus
    ``"names"`` for nodes); it is empty when everything in range was drawn. ``note`` is the same in one
    line, for a terminal.
    """

    svg: str
    run_id: str | None
    axis: str
    nodes: tuple[str, ...]
    messages: int
    lost: int
    errors: int
    left_out: dict[str, dict[str, Any]]
    note: str
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        """Everything but the SVG itself, JSON-ready."""
        return {
            "run_id": self.run_id,
            "axis": self.axis,
            "nodes": list(self.nodes),
            "messages": self.messages,
            "lost": self.lost,
            "errors": self.errors,
            "left_out": self.left_out,
            "note": self.note,
            "width": self.width,
            "height": self.height,
        }


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _busiest_nodes(
    reader: TraceReader,
    known: list[str],
    since_ns: int | None,
    until_ns: int | None,
    include_control: bool,
    max_nodes: int,
) -> tuple[list[str], list[str]]:
    """(the ``max_nodes`` nodes that sent and received the most messages in range, the others)."""
    handled: dict[str, int] = dict.fromkeys(known, 0)
    for record in reader:
        kind = record["event"]
        if kind not in SEND_EVENTS and kind not in RECEIVE_EVENTS:
            continue
        ts_ns = record["ts_ns"]
        if (since_ns is not None and ts_ns < since_ns) or (until_ns is not None and ts_ns > until_ns):
            continue
        msg_type = record.get("msg_type")
        if not include_control and isinstance(msg_type, str) and is_control(msg_type):
            continue
        node = record["node"]
        handled[node] = handled.get(node, 0) + 1
    order = {name: index for index, name in enumerate(handled)}
    ranked = sorted(handled, key=lambda name: (-handled[name], order[name]))
    chosen = set(ranked[:max_nodes])
    # Columns keep the topology's order: neighbours in the file tend to be neighbours in the drawing.
    return [n for n in handled if n in chosen], [n for n in ranked[max_nodes:]]


def _collect(
    reader: TraceReader,
    nodes: list[str],
    *,
    may_add_nodes: bool,
    accounted: set[str],
    since_ns: int | None,
    until_ns: int | None,
    include_control: bool,
    max_messages: int,
    max_nodes: int,
) -> _Collected:
    """One streaming pass: pair each drawn send with its receive, keep error marks, count the rest."""
    collected = _Collected(nodes=list(nodes))
    drawn = set(nodes)
    # Nodes found only in the trace that did not fit (names kept up to NOTE_NAMES, then only counted);
    # `accounted` ones (left out by choice or by the busiest-nodes pass) are reported by the caller.
    refused: set[str] = set()
    # Sends still waiting for their receive, by msg_id (a list: ids are unique per run, but be lenient).
    pending: dict[str, list[_Message]] = {}
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
        if node not in refused and node not in accounted:
            collected.nodes_over_limit_count += 1
            refused.add(node)
            if len(collected.nodes_over_limit) < NOTE_NAMES:
                collected.nodes_over_limit.append(node)
        return False

    def key_of(record: dict[str, Any], node: str) -> float:
        lamport = _int_or_none(record.get("lamport"))
        if lamport is not None:
            return float(lamport)
        # Without a Lamport stamp, just after the node's previous stamped event.
        return last_lamport.get(node, 0.0) + 0.5

    def in_window(ts_ns: int) -> bool:
        too_early = since_ns is not None and ts_ns < since_ns
        return not too_early and not (until_ns is not None and ts_ns > until_ns)

    def pair(message: _Message, receive: dict[str, Any]) -> None:
        message.receive_ts_ns = receive["ts_ns"]
        message.receive_key = key_of(receive, receive["node"])

    for record in reader:
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
            message = _Message(
                msg_id=msg_id,
                msg_type=msg_type,
                transport=transport if isinstance(transport, str) else None,
                source=node,
                destination=peer,
                nbytes=_int_or_none(record.get("nbytes")),
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
                _ErrorMark(
                    node=node,
                    ts_ns=ts_ns,
                    key=last_lamport.get(node, 0.0) + 0.5,
                    text=text if isinstance(text, str) and text else "(no error text)",
                    transport=transport if isinstance(transport, str) else None,
                )
            )
    return collected


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


def left_out_note(left_out: dict[str, dict[str, Any]]) -> str:
    """``left_out`` as one line of text (empty when nothing was left out)."""
    parts = []
    for name, entry in left_out.items():
        text = f"{entry['count']} {_NOTE_LABELS.get(name, name)}"
        if name in LIMIT_REASONS:
            text += f" {entry['reason']}"
        parts.append(text)
    return "not drawn: " + "; ".join(parts) if parts else ""


def render_diagram(
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
) -> Diagram:
    """Draw a run's messages as a space-time diagram (SVG): one column per node, time flowing down.

    ``nodes`` picks the columns (in that order); by default every node, or the ``max_nodes`` busiest
    when there are more. ``since``/``until`` are seconds into the run and select messages by their
    send. ``axis="lamport"`` spaces events evenly by the rank of their Lamport clock instead of by
    real time. Messages of type ``netsim.*`` (the link handshake) are hidden unless
    ``include_control``. At most ``max_messages`` messages (the first ones sent) and as many error
    marks are drawn; what is left out is in ``Diagram.left_out`` and in a note in the SVG.
    """
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
        start_ts_ns = _int_or_none(header.get("start_ts_ns"))
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
        if nodes is not None:
            wanted = list(dict.fromkeys(nodes))
            if not wanted:
                raise OptionError("nodes: the list is empty", hint="name at least one node, or leave it out")
            unknown = [name for name in wanted if known and name not in known]
            if unknown:
                shown = ", ".join(repr(name) for name in known[:NOTE_NAMES])
                more = f" and {len(known) - NOTE_NAMES} more" if len(known) > NOTE_NAMES else ""
                raise OptionError(
                    f"nodes: not in this run: {', '.join(repr(name) for name in unknown)}",
                    hint=f"the run's nodes are {shown}{more}",
                )
            columns = wanted[:max_nodes]
            busiest_dropped = wanted[max_nodes:]
            unselected = [name for name in known if name not in wanted]
            may_add = False
        elif len(known) > max_nodes:
            columns, busiest_dropped = _busiest_nodes(
                reader, known, since_ns, until_ns, include_control, max_nodes
            )
            may_add = False
        else:
            columns, may_add = list(known), True

        collected = _collect(
            reader,
            columns,
            may_add_nodes=may_add,
            accounted=set(columns) | set(busiest_dropped) | set(unselected),
            since_ns=since_ns,
            until_ns=until_ns,
            include_control=include_control,
            max_messages=max_messages,
            max_nodes=max_nodes,
        )
        skipped = reader.skipped_count

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
    svg, width, height = _render_svg(
        header,
        collected,
        axis=axis,
        base_ts_ns=base,
        note=note,
        note_is_limit=any(name in LIMIT_REASONS for name in left_out),
    )
    return Diagram(
        svg=svg,
        run_id=header.get("run_id") if isinstance(header.get("run_id"), str) else None,
        axis=axis,
        nodes=tuple(collected.nodes),
        messages=len(collected.messages),
        lost=sum(message.lost for message in collected.messages),
        errors=len(collected.errors),
        left_out=left_out,
        note=note,
        width=width,
        height=height,
    )


# ---------------------------------------------------------------------------------------------------
# Layout and SVG


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


def _wrap(text: str, width_chars: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width_chars:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


@dataclass(slots=True)
class _Boxes:
    """Axis-aligned boxes of the labels placed so far, bucketed by rows of 64 px for quick lookups."""

    rows: dict[int, list[tuple[float, float, float, float]]] = field(default_factory=dict)

    def free(self, box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        for row in range(int(y0 // 64), int(y1 // 64) + 1):
            for a0, b0, a1, b1 in self.rows.get(row, ()):
                if x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
                    return False
        return True

    def add(self, box: tuple[float, float, float, float]) -> None:
        for row in range(int(box[1] // 64), int(box[3] // 64) + 1):
            self.rows.setdefault(row, []).append(box)


def _format_latency(ns: int) -> str:
    if ns < 1_000_000:
        return f"{ns / 1000:.1f} \u00b5s"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.3f} ms"
    return f"{ns / 1e9:.3f} s"


def _render_svg(
    header: dict[str, Any],
    collected: _Collected,
    *,
    axis: str,
    base_ts_ns: int,
    note: str,
    note_is_limit: bool,
) -> tuple[str, int, int]:
    nodes = collected.nodes
    messages = collected.messages
    errors = collected.errors

    # Columns and their names.
    names = [_cut(name, NAME_CHARS) for name in nodes]
    widest = max((_text_width(name, NAME_FONT) for name in names), default=0.0)
    spacing = 84.0 if len(nodes) <= 16 else 66.0
    rotate = widest > spacing - 10
    if rotate:
        # Names at -45 degrees need height (and room on the right of the last column).
        names_height = widest * 0.71 + NAME_FONT
        right_margin = max(RIGHT_MARGIN, widest * 0.71 + 8 - spacing / 2)
    else:
        names_height = NAME_FONT + 6.0
        right_margin = float(RIGHT_MARGIN)
    columns_width = spacing * max(1, len(nodes))
    width = max(MIN_WIDTH, math.ceil(LEFT_MARGIN + columns_width + right_margin))
    x_of = {name: LEFT_MARGIN + spacing * (index + 0.5) for index, name in enumerate(nodes)}

    title_height = 44.0
    plot_top = title_height + names_height + 14
    items = len(messages) + len(errors)

    # Vertical positions: seconds into the run, or the rank of the Lamport key.
    keys: list[float] = []
    if axis == "lamport":
        distinct: set[float] = set()
        for message in messages:
            distinct.add(message.send_key)
            if message.receive_key is not None:
                distinct.add(message.receive_key)
        distinct.update(mark.key for mark in errors)
        keys = sorted(distinct)
        rank = {key: index for index, key in enumerate(keys)}
        plot_height = float(min(MAX_PLOT_HEIGHT, max(MIN_PLOT_HEIGHT, ROW_HEIGHT * (len(keys) + 1))))
        row = plot_height / (len(keys) + 1)

        def y_of_event(ts_ns: int, key: float) -> float:
            return plot_top + row * (rank[key] + 1)

        lost_drop = row * 0.6
        t_first = t_last = 0
    else:
        stamps = [m.send_ts_ns for m in messages] + [m.receive_ts_ns for m in messages if m.receive_ts_ns]
        stamps += [mark.ts_ns for mark in errors]
        t_first = min(stamps, default=base_ts_ns)
        t_last = max(stamps, default=base_ts_ns)
        span_ns = max(t_last - t_first, 1_000)
        plot_height = float(min(MAX_PLOT_HEIGHT, max(MIN_PLOT_HEIGHT, ROW_HEIGHT * (items + 1))))
        pad = 10.0
        scale = (plot_height - 2 * pad) / span_ns

        def y_of_event(ts_ns: int, key: float) -> float:
            return plot_top + pad + (ts_ns - t_first) * scale

        lost_drop = 10.0
    plot_bottom = plot_top + plot_height

    out: list[str] = []
    add = out.append

    # Types and their colours, in order of first send.
    colours: dict[str, str] = {}
    for message in messages:
        if message.msg_type not in colours:
            colours[message.msg_type] = TYPE_COLOURS[len(colours) % len(TYPE_COLOURS)]

    # Footer: legend, types, what was left out.
    chars_per_line = max(40, int((width - 24) / (NOTE_FONT * CHAR_WIDTH)))
    footer_lines: list[tuple[str, str]] = []  # (text, colour)
    legend = "arrow: a message from its send to its receive (label: type; hover for details)"
    legend += "   \u00d7 lost (never received)   \u25c6 error (hover for the text)"
    footer_lines += [(line, MUTED_COLOUR) for line in _wrap(legend, chars_per_line)]
    legend_lines = len(footer_lines)
    if note:
        # Left out by a limit: say it loudly; left out by a choice (window, control, --nodes): quietly.
        note_colour = NOTE_COLOUR if note_is_limit else MUTED_COLOUR
        footer_lines += [(line, note_colour) for line in _wrap(note, chars_per_line)]
    type_rows = 1 if colours else 0
    names_below = plot_height > REPEAT_NAMES_BELOW and bool(nodes)
    footer_top = plot_bottom + 18 + (NAME_FONT + 8 if names_below else 0)
    height = math.ceil(footer_top + (type_rows + len(footer_lines)) * (NOTE_FONT + 5) + BOTTOM_MARGIN)

    topology = header.get("topology") if isinstance(header.get("topology"), dict) else {}
    run_id = header.get("run_id") if isinstance(header.get("run_id"), str) else "(no run id)"
    topology_name = topology.get("name") if isinstance(topology.get("name"), str) else "?"
    app = header.get("app") if isinstance(header.get("app"), str) else "?"
    axis_text = (
        "time: seconds into the run" if axis == "time" else "Lamport order: events by Lamport clock rank"
    )
    lost_count = sum(message.lost for message in messages)
    subtitle = (
        f"topology {topology_name} \u00b7 app {app} \u00b7 {len(nodes)} nodes \u00b7 "
        f"{len(messages)} messages ({lost_count} lost) \u00b7 {len(errors)} errors \u00b7 {axis_text}"
    )

    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}" font-size="{NAME_FONT}" '
        f'fill="{TEXT_COLOUR}" role="img">'
    )
    add(f"<title>{_xml_text(f'netsim space-time diagram of {run_id}')}</title>")
    add(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>')
    add(f'<text x="12" y="18" font-size="13" font-weight="bold">{_xml_text(run_id)}</text>')
    add(f'<text x="12" y="34" font-size="{NOTE_FONT}" fill="{MUTED_COLOUR}">{_xml_text(subtitle)}</text>')

    # Axis: ticks and grid lines.
    add('<g class="axis">')
    if axis == "time":
        step = _nice_step((t_last - t_first) / 1e9, max(2, int(plot_height // 70)))
        first_s = (t_first - base_ts_ns) / 1e9
        last_s = (t_last - base_ts_ns) / 1e9
        tick = math.ceil(first_s / step) * step
        add(
            f'<text x="8" y="{_num(plot_top - 6)}" font-size="{AXIS_FONT}" fill="{MUTED_COLOUR}">'
            "s into run</text>"
        )
        while tick <= last_s + step * 1e-6:
            y = y_of_event(base_ts_ns + round(tick * 1e9), 0.0)
            add(
                f'<line x1="{LEFT_MARGIN - 4}" y1="{_num(y)}" x2="{_num(width - right_margin)}" '
                f'y2="{_num(y)}" stroke="{GRID_COLOUR}"/>'
            )
            add(
                f'<text x="{LEFT_MARGIN - 8}" y="{_num(y + 3)}" text-anchor="end" font-size="{AXIS_FONT}" '
                f'fill="{MUTED_COLOUR}">{_seconds_label(tick, step)}</text>'
            )
            tick += step
    else:
        add(
            f'<text x="8" y="{_num(plot_top - 6)}" font-size="{AXIS_FONT}" fill="{MUTED_COLOUR}">'
            "Lamport clock</text>"
        )
        every = max(1, math.ceil(len(keys) / max(1, plot_height / 40)))
        for index in range(0, len(keys), every):
            key = keys[index]
            y = y_of_event(0, key)
            label = f"{key:g}" if key == int(key) else f"{math.floor(key)}+"
            add(
                f'<line x1="{LEFT_MARGIN - 4}" y1="{_num(y)}" x2="{_num(width - right_margin)}" '
                f'y2="{_num(y)}" stroke="{GRID_COLOUR}"/>'
            )
            add(
                f'<text x="{LEFT_MARGIN - 8}" y="{_num(y + 3)}" text-anchor="end" font-size="{AXIS_FONT}" '
                f'fill="{MUTED_COLOUR}">{label}</text>'
            )
    add("</g>")

    # One line per node, its name at the top (and at the bottom of a tall plot).
    node_apps = header.get("node_apps") if isinstance(header.get("node_apps"), dict) else {}
    for name, shown in zip(nodes, names, strict=True):
        x = x_of[name]
        node_app = node_apps.get(name)
        tooltip = f"node {name}" + (f" (app {node_app})" if isinstance(node_app, str) else "")
        add(f'<g class="node"><title>{_xml_text(tooltip)}</title>')
        add(
            f'<line x1="{_num(x)}" y1="{_num(plot_top - 4)}" x2="{_num(x)}" y2="{_num(plot_bottom + 4)}" '
            f'stroke="{LINE_COLOUR}" stroke-width="1.2"/>'
        )
        label_y = plot_top - 10
        if rotate:
            add(
                f'<text x="{_num(x)}" y="{_num(label_y)}" transform="rotate(-45 {_num(x)} {_num(label_y)})" '
                f'font-weight="bold">{_xml_text(shown)}</text>'
            )
        else:
            add(
                f'<text x="{_num(x)}" y="{_num(label_y)}" text-anchor="middle" font-weight="bold">'
                f"{_xml_text(shown)}</text>"
            )
        if names_below:
            below = plot_bottom + 4 + NAME_FONT + 4
            add(
                f'<text x="{_num(x)}" y="{_num(below)}" text-anchor="middle" font-size="{AXIS_FONT}" '
                f'fill="{MUTED_COLOUR}">{_xml_text(_cut(name, 12))}</text>'
            )
        add("</g>")

    # Messages: an arrow from send to receive, or a short dashed arrow ending in a cross if lost.
    boxes = _Boxes()
    for message in messages:
        x0 = x_of[message.source]
        y0 = y_of_event(message.send_ts_ns, message.send_key)
        x1 = x_of[message.destination]
        colour = colours[message.msg_type]
        sent_s = (message.send_ts_ns - base_ts_ns) / 1e9
        details = [
            f"{message.msg_type}: {message.source} \u2192 {message.destination}",
            f"msg_id {message.msg_id}",
            f"transport {message.transport or '?'}",
            f"sent {sent_s:.6f} s" + (f", {message.nbytes} bytes" if message.nbytes is not None else ""),
        ]
        if message.receive_ts_ns is not None and message.receive_key is not None:
            y1 = y_of_event(message.receive_ts_ns, message.receive_key)
            details.append(f"latency {_format_latency(message.receive_ts_ns - message.send_ts_ns)}")
            add(f'<g class="msg"><title>{_xml_text(chr(10).join(details))}</title>')
            _arrow(add, x0, y0, x1, y1, colour)
            _label(add, boxes, x0, y0, x1, y1, message.msg_type, colour)
        else:
            details.append("LOST: sent, never received")
            direction = 1.0 if x1 >= x0 else -1.0
            length = min(max(abs(x1 - x0) * 0.4, 24.0), 48.0)
            xe, ye = x0 + direction * length, y0 + lost_drop
            add(f'<g class="msg lost"><title>{_xml_text(chr(10).join(details))}</title>')
            add(
                f'<line x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(xe)}" y2="{_num(ye)}" stroke="{colour}" '
                'stroke-width="1.3" stroke-dasharray="4 2"/>'
            )
            add(
                f'<path d="M{_num(xe - 4)} {_num(ye - 4)}L{_num(xe + 4)} {_num(ye + 4)}'
                f'M{_num(xe - 4)} {_num(ye + 4)}L{_num(xe + 4)} {_num(ye - 4)}" stroke="{LOST_COLOUR}" '
                'stroke-width="2" fill="none"/>'
            )
        add(f'<circle cx="{_num(x0)}" cy="{_num(y0)}" r="2" fill="{colour}"/>')
        add("</g>")

    # Errors: a red diamond on the node's line.
    for mark in errors:
        x = x_of[mark.node]
        y = y_of_event(mark.ts_ns, mark.key)
        at_s = (mark.ts_ns - base_ts_ns) / 1e9
        tooltip = f"error on {mark.node} at {at_s:.6f} s" + (f" ({mark.transport})" if mark.transport else "")
        add(f'<g class="error"><title>{_xml_text(tooltip + chr(10) + mark.text)}</title>')
        add(
            f'<path d="M{_num(x)} {_num(y - 6)}L{_num(x + 6)} {_num(y)}L{_num(x)} {_num(y + 6)}'
            f'L{_num(x - 6)} {_num(y)}Z" fill="{ERROR_COLOUR}" stroke="#ffffff" stroke-width="1"/>'
        )
        add("</g>")

    # Footer.
    y = footer_top
    if colours:
        x = 12.0
        shown_types = list(colours.items())
        for msg_type, colour in shown_types:
            text = _cut(msg_type, TYPE_LABEL_CHARS)
            needed = 26 + _text_width(text, NOTE_FONT) + 14
            if x + needed > width - 12:
                add(f'<text x="{_num(x)}" y="{_num(y)}" font-size="{NOTE_FONT}">\u2026</text>')
                break
            add(
                f'<line x1="{_num(x)}" y1="{_num(y - 3)}" x2="{_num(x + 20)}" y2="{_num(y - 3)}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
            add(f'<text x="{_num(x + 26)}" y="{_num(y)}" font-size="{NOTE_FONT}">{_xml_text(text)}</text>')
            x += needed
        y += NOTE_FONT + 5
    for index, (text, colour) in enumerate(footer_lines):
        tag = ' class="note"' if index >= legend_lines else ""
        add(
            f'<text{tag} x="12" y="{_num(y)}" font-size="{NOTE_FONT}" fill="{colour}">'
            f"{_xml_text(text)}</text>"
        )
        y += NOTE_FONT + 5
    add("</svg>")
    return "\n".join(out) + "\n", width, height


def _arrow(add: Callable[[str], None], x0: float, y0: float, x1: float, y1: float, colour: str) -> None:
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy)
    if length < 1e-6:
        return
    ux, uy = dx / length, dy / length
    # The head's tip touches the receiver's line; the shaft stops where the head begins.
    bx, by = x1 - ux * ARROW_HEAD, y1 - uy * ARROW_HEAD
    half = ARROW_HEAD * 0.45
    add(
        f'<line x1="{_num(x0)}" y1="{_num(y0)}" x2="{_num(bx)}" y2="{_num(by)}" stroke="{colour}" '
        'stroke-width="1.3"/>'
    )
    add(
        f'<path d="M{_num(x1)} {_num(y1)}L{_num(bx - uy * half)} {_num(by + ux * half)}'
        f'L{_num(bx + uy * half)} {_num(by - ux * half)}Z" fill="{colour}"/>'
    )


def _label(
    add: Callable[[str], None],
    boxes: _Boxes,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    msg_type: str,
    colour: str,
) -> None:
    """The type along the arrow, above its middle, if the arrow is long enough and no label is there."""
    text = _cut(msg_type, TYPE_LABEL_CHARS)
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy)
    text_width = _text_width(text, LABEL_FONT)
    if length < text_width + 2 * ARROW_HEAD + 6:
        return
    angle = math.degrees(math.atan2(dy, dx))
    if angle > 90 or angle < -90:  # keep the text upright
        angle -= 180 if angle > 0 else -180
    radians = math.radians(angle)
    # Lift the text off the line, perpendicular to it, towards the top of the page.
    mx, my = (x0 + x1) / 2 + math.sin(radians) * 3, (y0 + y1) / 2 - math.cos(radians) * 3
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    half_w = text_width / 2 * cos + LABEL_FONT / 2 * sin
    half_h = text_width / 2 * sin + LABEL_FONT / 2 * cos
    cx, cy = mx + math.sin(radians) * LABEL_FONT / 2, my - math.cos(radians) * LABEL_FONT / 2
    box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    if not boxes.free(box):
        return
    boxes.add(box)
    add(
        f'<text x="{_num(mx)}" y="{_num(my)}" text-anchor="middle" font-size="{LABEL_FONT}" fill="{colour}" '
        f'transform="rotate({_num(angle)} {_num(mx)} {_num(my)})" stroke="#ffffff" stroke-width="2.5" '
        f'paint-order="stroke" stroke-linejoin="round">{_xml_text(text)}</text>'
    )


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

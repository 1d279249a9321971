"""A ``DiagramModel`` drawn as one self-contained SVG document: layout (pixels, colours, fonts) and text.

The SVG is written by hand: presentation attributes only (no ``<style>``, no ids), so that several
diagrams can be inlined into one HTML page without clashing; no scripts, no external fonts. Every piece
of text from the trace goes through ``_xml_text``, because node names and message types are arbitrary
Unicode.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from netsim.trace.diagram.model import DiagramModel, lamport_ticks
from netsim.trace.records import cut

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


def _text_width(text: str, font_size: float) -> float:
    return len(text) * font_size * CHAR_WIDTH


def _num(value: float) -> str:
    """A coordinate with at most two decimals, without trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


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


def render_svg(model: DiagramModel) -> tuple[str, int, int]:
    """The SVG document of ``model`` (no XML declaration, so it can be inlined into HTML), its width and
    its height in pixels."""
    axis = model.axis
    base_ts_ns = model.base_ts_ns
    nodes = model.nodes
    messages = model.arrows
    errors = model.errors

    # Columns and their names.
    names = [cut(name, NAME_CHARS) for name in nodes]
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
    if axis == "lamport":
        keys = model.lamport_keys()
        rank = {key: index for index, key in enumerate(keys)}
        plot_height = float(min(MAX_PLOT_HEIGHT, max(MIN_PLOT_HEIGHT, ROW_HEIGHT * (len(keys) + 1))))
        row = plot_height / (len(keys) + 1)

        def y_of_event(ts_ns: float, key: float) -> float:
            return plot_top + row * (rank[key] + 1)

        lost_drop = row * 0.6
    else:
        t_first, t_last = model.time_extent()
        span_ns = max(t_last - t_first, 1_000)
        plot_height = float(min(MAX_PLOT_HEIGHT, max(MIN_PLOT_HEIGHT, ROW_HEIGHT * (items + 1))))
        pad = 10.0
        scale = (plot_height - 2 * pad) / span_ns

        def y_of_event(ts_ns: float, key: float) -> float:
            return plot_top + pad + (ts_ns - t_first) * scale

        lost_drop = 10.0
    plot_bottom = plot_top + plot_height

    out: list[str] = []
    add = out.append

    # Types and their colours, in order of first send.
    colours = {
        msg_type: TYPE_COLOURS[index % len(TYPE_COLOURS)] for index, msg_type in enumerate(model.msg_types)
    }

    # Footer: legend, types, what was left out.
    chars_per_line = max(40, int((width - 24) / (NOTE_FONT * CHAR_WIDTH)))
    footer_lines: list[tuple[str, str]] = []  # (text, colour)
    legend = "arrow: a message from its send to its receive (label: type; hover for details)"
    if any(message.details for message in messages):
        legend += "; a socket program's bytes from the send call to the receive call that took them (label: "
        legend += "their range in the stream, or the datagram)"
    legend += "   \u00d7 lost (never received)   \u25c6 error (hover for the text)"
    footer_lines += [(line, MUTED_COLOUR) for line in _wrap(legend, chars_per_line)]
    legend_lines = len(footer_lines)
    if model.note:
        # Left out by a limit: say it loudly; left out by a choice (window, control, --nodes): quietly.
        note_colour = NOTE_COLOUR if model.note_is_limit else MUTED_COLOUR
        footer_lines += [(line, note_colour) for line in _wrap(model.note, chars_per_line)]
    type_rows = 1 if colours else 0
    names_below = plot_height > REPEAT_NAMES_BELOW and bool(nodes)
    footer_top = plot_bottom + 18 + (NAME_FONT + 8 if names_below else 0)
    height = math.ceil(footer_top + (type_rows + len(footer_lines)) * (NOTE_FONT + 5) + BOTTOM_MARGIN)

    run_id = "(no run id)" if model.run_id is None else model.run_id
    topology_name = "?" if model.topology_name is None else model.topology_name
    app = "?" if model.app is None else model.app
    axis_text = (
        "time: seconds into the run" if axis == "time" else "Lamport order: events by Lamport clock rank"
    )
    subtitle = (
        f"topology {topology_name} \u00b7 app {app} \u00b7 {len(nodes)} nodes \u00b7 "
        f"{len(messages)} messages ({model.lost} lost) \u00b7 {len(errors)} errors \u00b7 {axis_text}"
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
        axis_name = "s into run"
        ticks = [(y_of_event(t.at, 0.0), t.label) for t in model.time_ticks(max(2, int(plot_height // 70)))]
    else:
        axis_name = "Lamport clock"
        ticks = [(y_of_event(0, t.at), t.label) for t in lamport_ticks(keys, plot_height / 40)]
    add(
        f'<text x="8" y="{_num(plot_top - 6)}" font-size="{AXIS_FONT}" fill="{MUTED_COLOUR}">'
        f"{axis_name}</text>"
    )
    for y, label in ticks:
        add(
            f'<line x1="{LEFT_MARGIN - 4}" y1="{_num(y)}" x2="{_num(width - right_margin)}" '
            f'y2="{_num(y)}" stroke="{GRID_COLOUR}"/>'
        )
        add(
            f'<text x="{LEFT_MARGIN - 8}" y="{_num(y + 3)}" text-anchor="end" font-size="{AXIS_FONT}" '
            f'fill="{MUTED_COLOUR}">{_xml_text(label)}</text>'
        )
    add("</g>")

    # One line per node, its name at the top (and at the bottom of a tall plot).
    for lane, shown in zip(model.lanes, names, strict=True):
        name = lane.node
        x = x_of[name]
        tooltip = f"node {name}" + (f" (app {lane.app})" if lane.app is not None else "")
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
                f'fill="{MUTED_COLOUR}">{_xml_text(cut(name, 12))}</text>'
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
            *([] if message.details else [f"msg_id {message.msg_id}"]),
            f"transport {message.transport or '?'}",
            f"sent {sent_s:.6f} s" + (f", {message.nbytes} bytes" if message.nbytes is not None else ""),
            *message.details,
        ]
        if message.receive_ts_ns is not None and message.receive_key is not None:
            y1 = y_of_event(message.receive_ts_ns, message.receive_key)
            details.append(f"latency {_format_latency(message.receive_ts_ns - message.send_ts_ns)}")
            add(f'<g class="msg"><title>{_xml_text(chr(10).join(details))}</title>')
            _arrow(add, x0, y0, x1, y1, colour)
            _label(add, boxes, x0, y0, x1, y1, message.label or message.msg_type, colour)
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
            text = cut(msg_type, TYPE_LABEL_CHARS)
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
    text = cut(msg_type, TYPE_LABEL_CHARS)
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

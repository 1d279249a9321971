"""The report's HTML pieces that every section uses: escaping, numbers for people, tables, cards.

Every text that comes from the trace goes through ``escape`` before it reaches the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from netsim.trace.records import is_int

T = TypeVar("T")

# A table of nodes or of link directions shows at most this many rows, the busiest: 5,000 nodes have
# some 50,000 link directions, and a table of them all made a page of 28 MB that a browser can hardly
# open. The trace tools' --json output has every one.
MAX_TABLE_ROWS = 1_000


def escape(value: Any) -> str:
    """Escape any value as HTML text (quotes too, so the result is safe in attributes)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def as_dict(value: Any) -> dict[str, Any]:
    """A field of an analysis' dict that should be a dict, or an empty one."""
    return value if isinstance(value, dict) else {}


def number(value: Any) -> str:
    """A count or measure as HTML: ``1,234``, ``0.5``, ``-`` for none."""
    if is_int(value):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.6f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:.3e}"
    return "-" if value is None else escape(value)


def seconds(value: float | None) -> str:
    """A run's duration for people (plain text: callers escape it): ``12.5 ms``, ``3.042 s``."""
    if value is None:
        return "-"
    if abs(value) < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f} s"


def nanoseconds(value: Any) -> str:
    """A latency as HTML, in the unit that suits it: ``850 ns``, ``67.5 µs``, ``1.234 ms``, ``2.500 s``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return escape(value)
    if abs(value) >= 1e9:
        return f"{value / 1e9:.3f} s"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3f} ms"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f} µs"
    return f"{value:.0f} ns"


def byte_size(value: Any) -> str:
    """A byte count for people (plain text: callers escape it)."""
    if not is_int(value):
        return "-" if value is None else str(value)
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def table(
    columns: list[tuple[str, bool]], rows: Iterable[list[str]], *, scroll: bool = True, table_id: str = ""
) -> str:
    """An HTML table; ``columns`` are (escaped header, numeric?) and each row's cells are already HTML."""
    numeric = [is_num for _, is_num in columns]
    head = "".join(
        f'<th class="num">{name}</th>' if is_num else f"<th>{name}</th>" for name, is_num in columns
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if is_num else f'<td class="name">{cell}</td>'
            for cell, is_num in zip(row, numeric, strict=False)
        )
        body.append(f"<tr>{cells}</tr>")
    attributes = f' id="{table_id}"' if table_id else ""
    markup = f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{markup}</div>' if scroll else markup


def card(label: str, value: str, css: str = "") -> str:
    """One figure of a row of cards: ``value`` is HTML already, ``label`` plain text."""
    return (
        f'<div class="card {css}"><div class="value">{value}</div>'
        f'<div class="label">{escape(label)}</div></div>'
    )


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>\n{body}\n</section>'


def busiest(items: list[T], traffic: Callable[[T], int | float], limit: int | None = None) -> list[T]:
    """``items``, or the ``limit`` (default ``MAX_TABLE_ROWS``) of them with the most ``traffic`` (the
    earlier one of a tie), in their own order."""
    limit = MAX_TABLE_ROWS if limit is None else limit
    if len(items) <= limit:
        return items
    ranked = sorted(range(len(items)), key=lambda index: -traffic(items[index]))  # stable: ties keep order
    return [items[index] for index in sorted(ranked[:limit])]


def busiest_note(shown: int, total: int, what: str, command: str) -> str:
    """The note under a table cut by ``busiest`` (nothing when it was not cut)."""
    if shown >= total:
        return ""
    return (
        f'<p class="note">The {shown:,} busiest of {total:,} {escape(what)}; '
        f"<code>{escape(command)}</code> lists them all.</p>"
    )

"""The tables the ``netsim trace`` commands share (rich, on stderr): field lists and per-link rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from rich.table import Table

from netsim.cli.terminal import visible_text

if TYPE_CHECKING:
    from netsim.trace.traffic import LinkTraffic

LinkT = TypeVar("LinkT", bound="LinkTraffic")


def field_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    """A table of (field, value) rows without a header row, titled on the left."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in rows:
        # Node names and paths may hold "[", which rich would read as markup, or control characters.
        table.add_row(name, visible_text(value))
    return table


def link_sections(table: Table, links: Iterable[LinkT]) -> Iterator[tuple[LinkT, str]]:
    """Each link with its transport as its rows show it; every link after the first opens a new section
    of ``table``, so that a link's direction rows stand together."""
    for index, link in enumerate(links):
        if index:
            table.add_section()
        transport = link.transport or "-"
        if not link.in_topology:
            transport += " (not in topology)"
        yield link, transport

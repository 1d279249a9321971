"""The report's summary section: ``summarize_trace``'s cards, and tables of nodes, links, events, errors."""

from __future__ import annotations

from netsim.trace.report.markup import (
    busiest,
    busiest_note,
    byte_size,
    card,
    escape,
    number,
    seconds,
    section,
    table,
)
from netsim.trace.summary import TraceSummary
from netsim.trace.traffic import MessageCounts

SUMMARY_COMMAND = "netsim trace summary RUN --json"


def _handled(counts: MessageCounts) -> int:
    """Messages sent and received: what makes a node or a link direction busy."""
    return counts.messages_sent + counts.messages_received


def summary_section(summary: TraceSummary) -> str:
    totals = summary.totals()

    cards = [
        card("events", number(summary.events)),
        card("duration", escape(seconds(summary.duration_s))),
        card("nodes", number(totals["nodes"])),
        card("links", number(totals["links"])),
        card("messages sent", number(totals["messages_sent"])),
        card("messages received", number(totals["messages_received"])),
        card("bytes sent", escape(byte_size(totals["bytes_sent"]))),
        card("bytes received", escape(byte_size(totals["bytes_received"]))),
        card("lost", number(totals["lost"]), "warn" if totals["lost"] else ""),
        card("errors", number(totals["errors"]), "bad" if totals["errors"] else ""),
    ]
    if totals["messages_without_peer"]:
        cards.append(card("messages without peer", number(totals["messages_without_peer"]), "warn"))
    if summary.skipped_lines:
        cards.append(card("skipped lines", number(summary.skipped_lines), "warn"))
    parts = [f'<div class="cards">{"".join(cards)}</div>']
    nodes = busiest(list(summary.nodes.values()), _handled)
    node_rows = [
        [
            escape(stats.node),
            number(stats.events),
            number(stats.messages_sent),
            number(stats.messages_received),
            escape(byte_size(stats.bytes_sent)),
            escape(byte_size(stats.bytes_received)),
            number(stats.errors),
        ]
        for stats in nodes
    ]
    node_columns = [("node", False), ("events", True), ("msgs sent", True), ("msgs recv", True)]
    node_columns += [("bytes sent", True), ("bytes recv", True), ("errors", True)]
    note = busiest_note(len(nodes), len(summary.nodes), "nodes", SUMMARY_COMMAND)
    parts.append("<h3>Nodes</h3>" + note + table(node_columns, node_rows))
    directions = [(link, d) for link in summary.links.values() for d in (link.a_to_b, link.b_to_a)]
    shown = busiest(directions, lambda pair: _handled(pair[1]))
    link_rows = []
    for link, direction in shown:
        transport = escape(link.transport or "-")
        if not link.in_topology:
            transport += ' <span class="badge warn">not in topology</span>'
        lost = number(direction.lost)
        link_rows.append(
            [
                f"{escape(direction.source)} → {escape(direction.destination)}",
                transport,
                number(direction.messages_sent),
                number(direction.messages_received),
                f'<span class="badge warn">{lost}</span>' if direction.lost else lost,
                escape(byte_size(direction.bytes_sent)),
                escape(byte_size(direction.bytes_received)),
            ]
        )
    link_columns = [("direction", False), ("transport", False), ("sent", True), ("received", True)]
    link_columns += [("lost", True), ("bytes out", True), ("bytes in", True)]
    note = busiest_note(len(shown), len(directions), "link directions", SUMMARY_COMMAND)
    parts.append("<h3>Links, per direction</h3>" + note + table(link_columns, link_rows))
    kinds = table(
        [("event", False), ("count", True)],
        ([escape(kind), number(count)] for kind, count in summary.event_counts.items()),
        scroll=False,
    )
    parts.append(f'<h3>Events by kind</h3><div class="narrow">{kinds}</div>')
    if summary.error_counts:
        errors = table(
            [("count", True), ("error (first characters)", False)],
            ([number(count), escape(text)] for text, count in summary.error_counts.items()),
        )
        parts.append(f"<h3>Errors</h3>{errors}")
    return section("summary", "Summary", "\n".join(parts))

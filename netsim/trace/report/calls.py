"""The report's part on socket programs' calls, within the stats section: from ``trace stats``'s ``calls``
figures, what their send and receive calls paired (by stream byte range, datagrams by digest), how long the
bytes took per direction, and what did not arrive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netsim.trace.report.markup import as_dict, busiest, busiest_note, byte_size, card, escape, number

LatencyTable = Callable[[list[tuple[str, str, dict[str, Any]]], str], str]


def calls_html(
    calls: dict[str, Any], latency_table: LatencyTable, latency: Callable[[Any], str], command: str
) -> str:
    """The part, from ``calls`` (``TraceStats.to_dict()["calls"]``); the stats section lends its latency
    table and formatter, so that both parts read alike."""
    overall = as_dict(as_dict(calls.get("latency")).get("overall"))
    cards = [
        card("calls", number(calls.get("calls"))),
        card("send/receive pairs", number(calls.get("pairs"))),
        card("bytes paired", escape(byte_size(calls.get("bytes_paired")))),
    ]
    cards += [card(f"{name} one-way", latency(overall.get(f"{name}_ns"))) for name in ("p50", "p99", "max")]
    for key, label, size in (
        ("bytes_unreceived", "bytes never received", True),
        ("bytes_unsent", "bytes with no traced send", True),
        ("datagrams_lost", "datagrams lost", False),
        ("datagrams_dropped", "datagrams dropped by netsim", False),
    ):
        value = calls.get(key)
        if value:
            cards.append(card(label, escape(byte_size(value)) if size else number(value), "warn"))
    directions = [
        ("direction", str(name), as_dict(as_dict(item).get("latency")))
        for name, item in as_dict(as_dict(calls.get("latency")).get("by_direction")).items()
    ]
    shown = busiest(directions, lambda group: group[2].get("count") or 0)
    return (
        "<h3>Socket programs' calls</h3>"
        f'<div class="cards">{"".join(cards)}</div>'
        '<p class="note">A stream has no message boundaries: each receive call is paired with every send '
        "call whose bytes it took (by their offsets in the stream), a datagram with the send of the same "
        "digest. Latency runs from the moment the send call began to the moment the receive returned, one "
        "per pair; <code>netsim trace follow RUN NODE/SOCK@OFFSET</code> follows one byte.</p>"
        + busiest_note(len(shown), len(directions), "directions", command)
        + latency_table([("all", "all pairs", overall), *shown], "group")
    )

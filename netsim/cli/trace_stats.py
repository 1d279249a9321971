"""``netsim trace stats``: rates, one-way latency percentiles and a timeline, over ``netsim.trace.stats``."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from netsim.cli.common import handles_errors, stderr
from netsim.cli.tables import field_table, link_sections
from netsim.cli.terminal import visible_text
from netsim.cli.trace_input import (
    LenientOption,
    RunOrTraceArgument,
    explains_malformed_fields,
    print_analysis,
)

if TYPE_CHECKING:
    from netsim.trace.stats import LatencyStats, Timeline, TraceStats

# One character per bucket; a bucket with any message gets at least the lowest block, so that a little
# activity never looks like none.
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
# More buckets than this are drawn with neighbouring buckets summed, so that a row fits a terminal.
SPARK_COLUMNS = 60

app = typer.Typer()


def _three_digits(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def format_ns(value: float | None) -> str:
    """A duration in ns for people, three digits: ``850 ns``, ``57.3 µs``, ``1.24 ms``, ``2.50 s``."""
    if value is None:
        return "-"
    for scale, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if abs(value) >= scale:
            return f"{_three_digits(value / scale)} {unit}"
    return f"{value:.0f} ns"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def sparkline(counts: list[int], peak: int) -> str:
    """One block character per count, scaled to ``peak``; a space for zero."""
    if peak <= 0:
        return " " * len(counts)
    levels = len(SPARK_BLOCKS)
    return "".join(
        " " if count <= 0 else SPARK_BLOCKS[min(levels, -(-count * levels // peak)) - 1] for count in counts
    )


def _columns(counts: list[int], group: int) -> list[int]:
    return [sum(counts[start : start + group]) for start in range(0, len(counts), group)]


def _overview_table(stats: "TraceStats") -> Table:
    rows: list[tuple[str, object]] = [
        ("trace", stats.path),
        ("run id", stats.run_id or "-"),
        ("events", f"{stats.events:,}"),
        ("span (first to last event)", _seconds(stats.span_s)),
        ("messages matched (latency)", f"{stats.matched:,}"),
        ("sends never received", f"{stats.unmatched_sends:,}"),
        ("receives without a send", f"{stats.unmatched_receives:,}"),
        ("messages without msg_id", f"{stats.messages_without_msg_id:,}"),
        ("messages without peer", f"{stats.messages_without_peer:,}"),
        ("skipped lines", stats.skipped_lines),
    ]
    return field_table("Trace stats", rows)


# The widths figure columns keep however narrow the terminal: a latency ("12.3 ms"), a count ("1,234";
# a larger one wraps less gracefully, but stays whole).
_FIGURE_WIDTH = 7
_COUNT_WIDTH = 5


def _nodes_table(stats: "TraceStats") -> Table:
    # Rates per second over each node's own active span; --json also has them over the whole trace.
    table = Table(title="Nodes (rates over each node's active span)", title_justify="left")
    table.add_column("node")
    for column in ("active", "sent", "recv", "bytes out", "bytes in", "sent/s", "recv/s"):
        table.add_column(column, justify="right")
    for node in stats.nodes.values():
        active_s = node.active_s
        table.add_row(
            visible_text(node.node),
            _seconds(active_s),
            f"{node.messages_sent:,}",
            f"{node.messages_received:,}",
            f"{node.bytes_sent:,}",
            f"{node.bytes_received:,}",
            _rate(node.messages_sent / active_s if active_s else None),
            _rate(node.messages_received / active_s if active_s else None),
        )
    return table


def _links_table(stats: "TraceStats") -> Table:
    table = Table(
        title="Links (per direction; one-way latency; p90 in the latency table and --json)",
        title_justify="left",
    )
    # Long node names (the Topology Zoo's) wrap in their column; the figures keep their width.
    table.add_column("direction", overflow="fold", min_width=10)
    table.add_column("transport", overflow="fold")
    for column in ("sent", "recv", "lost"):
        table.add_column(column, justify="right", no_wrap=True, min_width=_COUNT_WIDTH)
    for column in ("p50", "p99", "max"):
        table.add_column(column, justify="right", no_wrap=True, min_width=_FIGURE_WIDTH)
    for link, transport in link_sections(table, stats.links.values()):
        for direction in link.directions:
            latency = stats.latency_by_direction[direction.key]
            table.add_row(
                visible_text(direction.key),
                visible_text(transport),
                f"{direction.messages_sent:,}",
                f"{direction.messages_received:,}",
                Text(f"{direction.lost:,}", style="yellow" if direction.lost else ""),
                format_ns(latency.p50_ns),
                format_ns(latency.p99_ns),
                format_ns(latency.max_ns),
            )
    return table


def _latency_table(stats: "TraceStats") -> Table:
    table = Table(
        title="Latency (one-way: from the app's send to the receive; nearest-rank percentiles)",
        title_justify="left",
    )
    table.add_column("group")
    for column in ("count", "mean", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="right")
    sections: list[list[tuple[str, LatencyStats]]] = [
        [("all messages", stats.latency)],
        [(f"type {name}", latency) for name, latency in stats.latency_by_type.items()],
    ]
    if stats.app_rtt is not None:
        sections.append(
            [("app round trips (rtt)", stats.app_rtt)]
            + [(f"app rtt at {node}", latency) for node, latency in stats.app_rtt_by_node.items()]
        )
    for index, section in enumerate(section for section in sections if section):
        if index:
            table.add_section()
        for name, latency in section:
            table.add_row(
                visible_text(name),
                f"{latency.count:,}",
                format_ns(latency.mean_ns),
                format_ns(latency.p50_ns),
                format_ns(latency.p90_ns),
                format_ns(latency.p99_ns),
                format_ns(latency.max_ns),
            )
    return table


def _calls_table(calls: dict) -> Table:
    """The pairs of socket programs' calls: what crossed each direction, and how long it took."""
    latency = calls["latency"]
    table = Table(
        title=(
            f"Socket programs' calls: {calls['calls']:,} calls, {calls['pairs']:,} send/receive pairs "
            f"({calls['bytes_paired']:,} bytes); one-way latency from each send's start to the receive "
            "that took its bytes"
        ),
        title_justify="left",
    )
    table.add_column("direction", overflow="fold", min_width=10)
    for column in ("pairs", "bytes"):
        table.add_column(column, justify="right", no_wrap=True, min_width=_COUNT_WIDTH)
    for column in ("p50", "p90", "p99", "max"):
        table.add_column(column, justify="right", no_wrap=True, min_width=_FIGURE_WIDTH)
    rows = [("all", calls["pairs"], calls["bytes_paired"], latency["overall"])]
    rows += [
        (key, entry["pairs"], entry["bytes"], entry["latency"])
        for key, entry in latency["by_direction"].items()
    ]
    for index, (name, pairs, nbytes, figures) in enumerate(rows):
        if index == 1:
            table.add_section()
        table.add_row(
            visible_text(name),
            f"{pairs:,}",
            f"{nbytes:,}",
            format_ns(figures["p50_ns"]),
            format_ns(figures["p90_ns"]),
            format_ns(figures["p99_ns"]),
            format_ns(figures["max_ns"]),
        )
    missing = [
        (calls["bytes_unreceived"], "bytes sent, never received"),
        (calls["bytes_unsent"], "bytes received with no send in the trace"),
        (calls["datagrams_lost"], "datagrams lost"),
        (calls["datagrams_dropped"], "datagrams dropped by netsim"),
    ]
    caption = "; ".join(f"{count:,} {what}" for count, what in missing if count)
    if caption:
        table.caption = caption
        table.caption_justify = "left"
    return table


def _timeline_table(stats: "TraceStats", timeline: "Timeline") -> Table:
    group = -(-timeline.buckets // SPARK_COLUMNS)
    width_s = timeline.bucket_s * group
    origin_s = (timeline.origin_ts_ns - stats.start_ts_ns) / 1e9 if stats.start_ts_ns is not None else 0.0
    end_s = origin_s + timeline.buckets * timeline.bucket_s
    rows = {node: _columns(timeline.messages(node), group) for node in timeline.sent}
    peak = max((max(row, default=0) for row in rows.values()), default=0)
    table = Table(
        title=(
            f"Timeline: messages sent + received per node, {width_s * 1e3:.4g} ms per column, "
            f"{origin_s:.3f} s to {end_s:.3f} s into the run; full block = {peak:,}"
        ),
        title_justify="left",
    )
    table.add_column("node")
    table.add_column("messages over time", no_wrap=True)
    table.add_column("peak/s", justify="right")
    for node, row in rows.items():
        node_peak = max(row, default=0)
        table.add_row(
            visible_text(node),
            Text(sparkline(row, peak), style="cyan"),
            _rate(node_peak / width_s if width_s else None),
        )
    return table


@app.command("stats")
@handles_errors
@explains_malformed_fields
def stats_command(
    run_dir_or_trace: RunOrTraceArgument,
    bucket: Annotated[
        float | None,
        typer.Option(
            "--bucket",
            metavar="S",
            help="Timeline bucket width in seconds (default: 50-100 buckets over the trace).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stats as JSON on stdout.")] = False,
    lenient: LenientOption = False,
) -> None:
    """Rates, one-way latency percentiles per link and message type, and a per-node timeline.

    Socket programs' calls: bytes paired send to receive, one-way latency per direction, lost datagrams."""
    # Here, not at the top: only this command loads it.
    from netsim.trace.stats import trace_stats

    print_analysis(trace_stats(run_dir_or_trace, bucket_s=bucket, strict=not lenient), as_json, _print_tables)


def _print_tables(stats: "TraceStats") -> None:
    stderr.print(_overview_table(stats))
    stderr.print(_nodes_table(stats))
    stderr.print(_links_table(stats))
    stderr.print(_latency_table(stats))
    if stats.calls is not None:
        stderr.print(_calls_table(stats.calls))
    if stats.timeline is not None:
        stderr.print(_timeline_table(stats, stats.timeline))

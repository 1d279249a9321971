"""``netsim trace events`` and ``netsim trace follow``: list a trace's events, follow one message
(a skin over ``netsim.trace.events``).

Their event lines are the output, as ``grep``'s are: they go to stdout, as text or (``--json``) as JSON
Lines. Errors and warnings go to stderr.
"""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Annotated

import orjson
import typer

from netsim.cli.common import echo_json, handles_errors, seconds_into_the_run, stderr
from netsim.cli.terminal import visible, visible_markup
from netsim.cli.trace_input import LenientOption, RunOrTraceArgument, explains_malformed_fields

# The node column is padded to the longest node name, up to this.
MAX_NODE_WIDTH = 24

app = typer.Typer()


def _split(values: Iterable[str] | None) -> set[str] | None:
    """Repeated options and comma lists alike: ``--node a --node b,c`` is {a, b, c}."""
    if not values:
        return None
    return {item.strip() for value in values for item in value.split(",") if item.strip()}


def _write_lines(lines: Iterator[str]) -> None:
    """Write to stdout, and stop quietly when the reader goes away (``| head``)."""
    out = sys.stdout
    try:
        for line in lines:
            out.write(line)
            out.write("\n")
        out.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that does not fail too.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        raise typer.Exit(0) from None


@app.command("events")
@handles_errors
@explains_malformed_fields
def events_command(
    run_dir_or_trace: RunOrTraceArgument,
    node: Annotated[
        list[str] | None,
        typer.Option("--node", help="Only events recorded by this node (repeat it, or a comma list)."),
    ] = None,
    link: Annotated[
        str | None,
        typer.Option("--link", help="Only events on the link A-B, either way (node names may contain -)."),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="Only these event kinds, e.g. send,recv (repeat it, or a comma list)."),
    ] = None,
    msg_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only messages of this msg_type (repeat it, or a comma list)."),
    ] = None,
    since: Annotated[
        float | None,
        typer.Option(
            "--since",
            help="Only events at least this many seconds into the run.",
            callback=seconds_into_the_run,
        ),
    ] = None,
    until: Annotated[
        float | None,
        typer.Option(
            "--until",
            help="Only events at most this many seconds into the run.",
            callback=seconds_into_the_run,
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Print at most this many events.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each event as one JSON line (JSONL).")
    ] = False,
    lenient: LenientOption = False,
) -> None:
    """Print the trace's events that match every filter given, one line each, on stdout."""
    # Here, not at the top: the help does without the trace tools.
    from netsim.trace.events import check_nodes, filter_events, format_event, parse_link
    from netsim.trace.reader import read_header
    from netsim.trace.schema import EVENTS, header_node_names, header_start_ts_ns

    header = read_header(run_dir_or_trace)
    known = header_node_names(header)
    nodes = _split(node)
    if nodes:
        check_nodes(nodes, known)
    kinds = _split(event)
    for kind in sorted(kinds or ()):
        if kind not in EVENTS:
            stderr.print(
                f"[yellow]warning:[/] {visible_markup(repr(kind))} is not an event kind netsim writes "
                f"({', '.join(EVENTS)})",
                highlight=False,
            )
    selected = filter_events(
        run_dir_or_trace,
        nodes=nodes,
        link=parse_link(link, known) if link is not None else None,
        events=kinds,
        types=_split(msg_type),
        since=since,
        until=until,
        limit=limit,
        strict=not lenient,
    )
    if as_json:
        _write_lines(orjson.dumps(record).decode() for record in selected)
    else:
        start_ts_ns = header_start_ts_ns(header)
        width = min(MAX_NODE_WIDTH, max((len(name) for name in known), default=0))
        # Names, types and errors in an event are the trace's: shown, never obeyed, by the terminal.
        _write_lines(visible(format_event(record, start_ts_ns, node_width=width)) for record in selected)


@app.command("follow")
@handles_errors
@explains_malformed_fields
def follow_command(
    run_dir_or_trace: RunOrTraceArgument,
    what: Annotated[
        str,
        typer.Argument(
            metavar="MSG_ID|NODE/SOCK@OFFSET|NODE/SOCK#DIGEST",
            help="A message's id, such as n0:4; or a socket program's bytes: n0/3@120 is the byte at "
            "stream offset 120 that node n0 sent on its socket 3, n0/3#9f86d081884c7d65 the datagram of "
            "that digest it sent on socket 3 (the sock, offset and digest of its call events).",
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the message's (or the bytes') life as JSON on stdout.")
    ] = False,
    lenient: LenientOption = False,
) -> None:
    """Follow one message: its send, its receive, the replies that cite it, where it went next, its fate.

    Or a socket program's bytes (NODE/SOCK@OFFSET): the send call, netsim's delays and drops, the receives."""
    from netsim.trace.follow_bytes import parse_bytes_spec

    spec = parse_bytes_spec(what)
    if spec is not None:
        from netsim.trace.follow_bytes import bytes_timeline, follow_bytes

        bytes_life = follow_bytes(run_dir_or_trace, spec, strict=not lenient)
        if as_json:
            echo_json(bytes_life.to_dict())
        else:
            _write_lines(visible(line) for line in bytes_timeline(bytes_life))
        return
    from netsim.trace.follow import follow_message, message_timeline

    life = follow_message(run_dir_or_trace, what, strict=not lenient)
    if as_json:
        echo_json(life.to_dict())
    else:
        _write_lines(visible(line) for line in message_timeline(life))

"""``Run``: what ``netsim.run()`` returns, a finished run directory and the ways into it.

A ``Run`` holds the run's directory and its summary; everything else is read from the directory when
asked, through the trace tools every command uses: ``events()`` streams and filters the trace through
``netsim.trace.events.filter_events`` (never loading it whole), ``verify()``, ``stats()`` and
``trace_summary()`` are ``netsim trace verify``, ``stats`` and ``summary``, and ``report()`` writes
what ``netsim trace report`` writes. Events are the trace's records, plain dicts with the fields
documented in docs/trace-format.md.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim.errors import OptionError
from netsim.runs.layout import SUMMARY_FILE_NAME, TOPOLOGY_FILE_NAME, TRACE_FILE_NAME
from netsim.runs.summary import RunSummary
from netsim.trace.events import check_nodes, filter_events, parse_link
from netsim.trace.outputs import DEFAULT_MAX_TABLE_EVENTS, REPORT_FILE_NAME
from netsim.trace.reader import read_header
from netsim.trace.records import is_control
from netsim.trace.schema import EVENTS, RECEIVE_EVENTS, SEND_EVENTS, header_node_names

if TYPE_CHECKING:
    from netsim.trace.stats import TraceStats
    from netsim.trace.summary import TraceSummary
    from netsim.trace.verify import VerifyReport

EXIT_OK, EXIT_FAILED = 0, 1
# A run that ended ok but whose workload's history its checker judged invalid, or could not judge.
EXIT_INVALID, EXIT_UNKNOWN = 3, 4

Event = dict[str, Any]
Names = str | Iterable[str]


@dataclass(frozen=True, repr=False)
class Run:
    """A finished run: its directory (trace, summary, topology, node logs), its summary, and its trace.

    ``run.ok``, ``run.exit_code`` and ``run.summary`` (``summary.json``, typed) say how it ended;
    ``run.events(...)`` and ``run.messages(...)`` stream the trace, filtered; ``run.verify()`` checks
    it; ``run.report()`` writes its HTML report.
    """

    run_dir: Path
    summary: RunSummary

    # -- how it ended ---------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """True when the run ended as planned (done, quiet or duration) and no node failed."""
        return self.summary.ok

    @property
    def exit_code(self) -> int:
        """0 ok, 1 failed, 3 a workload's history judged invalid, 4 its validity unknown, 128 + the
        signal's number when a stop signal ended the run (130 for Ctrl-C)."""
        if self.summary.ended_by == "interrupted":
            name = self.summary.signal or "SIGINT"
            return 128 + getattr(signal, name, signal.SIGINT)
        if not self.summary.ok:
            return EXIT_FAILED
        workload = self.summary.workload
        if isinstance(workload, dict) and workload.get("valid") is not True:
            return EXIT_INVALID if workload.get("valid") is False else EXIT_UNKNOWN
        return EXIT_OK

    # -- its files ------------------------------------------------------------------------------------

    @property
    def trace_path(self) -> Path:
        return self.run_dir / TRACE_FILE_NAME

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY_FILE_NAME

    @property
    def topology_path(self) -> Path:
        return self.run_dir / TOPOLOGY_FILE_NAME

    @property
    def report_path(self) -> Path:
        """``report.html`` in the run directory, where ``netsim trace report`` writes it; written by the
        first use if it is not there yet."""
        path = self.run_dir / REPORT_FILE_NAME
        if not path.exists():
            self.report(path)
        return path

    def report(self, path: str | Path | None = None, *, max_events: int = DEFAULT_MAX_TABLE_EVENTS) -> Path:
        """Write the run's HTML report (``netsim trace report``) to ``path`` (default: ``report_path``'s
        file) and return where it went; ``max_events`` bounds its event table."""
        # Here: the report loads every analysis and matplotlib, which a run that is not reported skips.
        from netsim.trace.report import write_report

        target = self.run_dir / REPORT_FILE_NAME if path is None else Path(path)
        return Path(write_report(self.run_dir, target, max_table_events=max_events).path)

    # -- its trace ------------------------------------------------------------------------------------

    @cached_property
    def header(self) -> dict[str, Any]:
        """The trace's header: run id, topology, apps, transport, seed, start time."""
        return read_header(self.trace_path)

    @property
    def nodes(self) -> list[str]:
        """The names of the run's nodes, in topology order."""
        return header_node_names(self.header)

    def events(
        self,
        event: Names | None = None,
        *,
        node: Names | None = None,
        peer: Names | None = None,
        link: str | tuple[str, str] | None = None,
        msg_type: Names | None = None,
        since: float | None = None,
        until: float | None = None,
        where: Callable[[Event], bool] | None = None,
        limit: int | None = None,
    ) -> Iterator[Event]:
        """The trace's events that pass every filter given, streamed in trace order.

        ``event``: these kinds (``"recv"``, ``["send", "sendto"]``). ``node``: recorded by these nodes.
        ``peer``: naming one of these nodes at the other end of the socket (the sender of a receive, the
        destination of a send). ``link``: about the socket between two nodes, either way (``("a", "b")``
        or ``"a-b"``). ``msg_type``: messages of these types. ``since``/``until``: seconds into the
        run, inclusive. ``where``: a predicate on the event. ``limit``: at most this many.
        A node or event kind the run does not know is an ``OptionError`` here, not an empty result.
        """
        known = self.nodes
        nodes, peers, kinds = _name_set(node), _name_set(peer), _name_set(event)
        for names in (nodes, peers):
            if names:
                check_nodes(names, known)
        unknown = sorted((kinds or set()) - set(EVENTS))
        if unknown:
            raise OptionError(
                f"no event kind {', '.join(map(repr, unknown))} in netsim traces",
                hint=f"use one of: {', '.join(EVENTS)}",
            )
        if isinstance(link, str):
            link = parse_link(link, known)
        elif link is not None:
            link = (link[0], link[1])
            check_nodes(set(link), known)
        narrowed = peers is not None or where is not None
        selected = filter_events(
            self.trace_path,
            nodes=nodes,
            link=link,
            events=kinds,
            types=_name_set(msg_type),
            since=since,
            until=until,
            # With filters of its own, this method counts what passes them.
            limit=None if narrowed else limit,
        )
        if not narrowed:
            return selected
        return _narrowed(selected, peers, where, limit)

    def messages(
        self,
        msg_type: Names | None = None,
        *,
        node: Names | None = None,
        peer: Names | None = None,
        sent: bool = False,
        control: bool = False,
        since: float | None = None,
        until: float | None = None,
        where: Callable[[Event], bool] | None = None,
        limit: int | None = None,
    ) -> Iterator[Event]:
        """The app's messages as their receiver traced them (``recv``/``recvfrom``: ``node`` is the
        receiver, ``peer`` the sender), or with ``sent=True`` as their sender did (``send``/``sendto``:
        ``node`` the sender, ``peer`` the destination). netsim's own messages (``netsim.hello``) are left
        out unless ``control`` or ``msg_type`` names them. Other filters as in ``events()``."""
        if not control and msg_type is None:
            where = _app_messages_only(where)
        return self.events(
            sorted(SEND_EVENTS if sent else RECEIVE_EVENTS),
            node=node,
            peer=peer,
            msg_type=msg_type,
            since=since,
            until=until,
            where=where,
            limit=limit,
        )

    def records(
        self, kind: str | None = None, *, node: Names | None = None, limit: int | None = None
    ) -> Iterator[Event]:
        """The ``app`` events of ``ctx.record(...)``, the app's data in each one's ``"data"``; ``kind``
        keeps those recorded with ``kind=...`` (``ctx.record(kind="token", lap=2)``)."""
        where = None if kind is None else (lambda event: _data_kind(event) == kind)
        return self.events("app", node=node, where=where, limit=limit)

    def verify(self, *, max_examples: int = 5) -> VerifyReport:
        """``netsim trace verify``: the trace's guarantees (mirrored addresses, exactly-once and in-order
        delivery, Lamport clocks, closed sockets), each check with its first ``max_examples`` failures."""
        from netsim.trace.verify import verify_trace

        return verify_trace(self.trace_path, max_examples=max_examples)

    def stats(self, *, bucket_s: float | None = None) -> TraceStats:
        """``netsim trace stats``: rates, one-way latency percentiles, a per-node timeline."""
        from netsim.trace.stats import trace_stats

        return trace_stats(self.trace_path, bucket_s=bucket_s)

    def trace_summary(self) -> TraceSummary:
        """``netsim trace summary``: messages, bytes and loss per node and per link direction."""
        from netsim.trace.summary import summarize_trace

        return summarize_trace(self.trace_path)

    def __repr__(self) -> str:
        summary = self.summary
        outcome = "ok" if summary.ok else "failed"
        ended = summary.ended_by + (f" ({summary.signal})" if summary.signal else "")
        failed = [failure.name for failure in summary.node_failures if failure.name is not None]
        crashed = f", failed: {', '.join(failed)}" if failed else ""
        return (
            f"<Run {summary.run_id} {outcome}, ended by {ended}{crashed}: {summary.nodes} nodes, "
            f"{summary.traffic}; {self.run_dir}>"
        )


# The name ``netsim.run`` returned before ``Run`` could read its trace; kept for code that names it.
RunResult = Run


def _name_set(names: Names | None) -> set[str] | None:
    """One name or many, as a set; None (no filter) for None or nothing."""
    if names is None:
        return None
    found = {names} if isinstance(names, str) else set(names)
    return found or None


def _narrowed(
    selected: Iterator[Event],
    peers: set[str] | None,
    where: Callable[[Event], bool] | None,
    limit: int | None,
) -> Iterator[Event]:
    # Closing ``selected`` closes the trace file when the caller stops early.
    with contextlib.closing(selected):  # type: ignore[type-var]
        if limit == 0:
            return
        count = 0
        for record in selected:
            if peers is not None and record.get("peer") not in peers:
                continue
            if where is not None and not where(record):
                continue
            yield record
            count += 1
            if limit is not None and count >= limit:
                return


def _app_messages_only(where: Callable[[Event], bool] | None) -> Callable[[Event], bool]:
    if where is None:
        return lambda event: not is_control(event.get("msg_type"))
    return lambda event: not is_control(event.get("msg_type")) and where(event)


def _data_kind(event: Event) -> Any:
    data = event.get("data")
    return data.get("kind") if isinstance(data, dict) else None

"""What the sections of one report share: the trace being reported on, the one pass over it, and the
guard around each analysis.

The report reads the trace once for the summary, the event table, verify, stats, the plot's counts and
the messages per node the diagram picks its lanes by, not once per analysis: ``read_once`` hands each of
them the events in batches of ``PASS_BATCH_EVENTS``, and each runs its own loop over a batch. The
traffic per node and per link direction, which the summary, the stats and the plot all show, is counted
once, by a ``TrafficCounter`` fed first that the three share. (The diagram then reads the events of its
lanes once more for its arrows, skipping the other lines unparsed.) An analysis fed in the pass is a
``Fed``: if making it (which imports it) or feeding it raises, it is fed no more and its section shows
the error.

Each analysis section is rendered inside ``analysis_html``: the trace has been read in full by then, so
an error there is the analysis' own and costs its section only. A section whose analysis cannot be
imported says "not available"; one whose analysis raises shows the error; either way the rest of the
report is still written, and the build records both for ``ReportResult``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from netsim.trace.reader import BATCH_EVENTS, TraceReader, batches_between_skips, cyclic_gc_paused
from netsim.trace.report.markup import escape

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

# Events handed to each analysis at a time in the report's pass, as each tool's own pass does.
PASS_BATCH_EVENTS = BATCH_EVENTS

CounterT = TypeVar("CounterT")
Events = list[dict[str, Any]]


@dataclass(slots=True)
class ReportBuild:
    """State shared by the section renderers of one report."""

    run_or_trace: str | os.PathLike[str]
    trace_path: Path
    header: dict[str, Any]
    start_ts_ns: int | None
    unavailable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    events_total: int = 0
    events_in_table: int = 0
    skipped_lines: int = 0  # by the reader of the report's pass


def analysis_html(build: ReportBuild, key: str, render: Callable[[ReportBuild], str]) -> str:
    """``render(build)``, the body of section ``key``; an analysis that is missing or fails becomes a note.

    Each ``render`` imports its analysis when it runs, so that a module that cannot be imported costs
    its own section only.
    """
    try:
        return render(build)
    except ImportError as error:
        return _not_available(build, key, error)
    except Exception as error:  # a bug in one analysis must not cost the user the whole report
        return _failed(build, key, error)


def _not_available(build: ReportBuild, key: str, error: ImportError) -> str:
    reason = f"{error.name or key} could not be imported: {error}"
    build.unavailable[key] = reason
    return f'<p class="callout"><span class="badge na">not available</span> {escape(reason)}</p>'


def _failed(build: ReportBuild, key: str, error: Exception) -> str:
    reason = f"{type(error).__name__}: {error}"
    build.failed[key] = reason
    log.warning("report section %s failed", key, exc_info=True)
    return f'<p class="callout bad"><span class="badge bad">failed</span> {escape(reason)}</p>'


class Fed(Generic[CounterT]):
    """One analysis fed in the report's pass: its counter, made by ``start``, and how to feed it a batch
    of events (with the number of lines the reader skipped before them).

    An error from ``start`` (an ImportError included) or from a batch is kept: the counter is fed no more,
    and ``take()`` raises the error again, inside the section's ``analysis_html``.
    """

    def __init__(self, start: Callable[[], CounterT], feed: Callable[[CounterT, Events, int], None]) -> None:
        self._counter: CounterT | None = None
        self._error: Exception | None = None
        self._feed = feed
        try:
            self._counter = start()
        except Exception as error:  # shown in the section, as analysis_html would show it
            self._error = error

    @classmethod
    def given(cls, counter: CounterT) -> Fed[CounterT]:
        """A counter fed elsewhere (the report's second process counted it)."""
        return cls(lambda: counter, lambda _counter, _events, _skipped_before: None)

    def add_all(self, events: Events, skipped_before: int) -> None:
        if self._counter is None:
            return
        try:
            self._feed(self._counter, events, skipped_before)
        except Exception as error:  # shown in the section; the other analyses go on
            self._counter, self._error = None, error

    def take(self) -> CounterT:
        """The counter, fed the whole trace, handed over once: once the section that takes it is
        rendered, its counts can go. Raises what making or feeding it raised."""
        if self._error is not None:
            raise self._error
        counter, self._counter = self._counter, None
        if counter is None:
            raise RuntimeError("the analysis was taken already")
        return counter


def read_once(reader: TraceReader, feeds: list[Callable[[Events, int], None]]) -> None:
    """Stream the events of ``reader`` once, handing them to each of ``feeds`` in batches, with the number
    of lines the reader skipped before the batch. A batch ends where the reader skips a line, so that
    the number holds for every event in it."""
    with cyclic_gc_paused():
        for batch, skipped in batches_between_skips(reader, PASS_BATCH_EVENTS):
            for feed in feeds:
                feed(batch, skipped)


def events_only(add_all: Callable[[Events], None]) -> Callable[[Events, int], None]:
    """A feed for ``read_once`` from an ``add_all`` that does not need the number of lines skipped."""
    return lambda events, _skipped_before: add_all(events)

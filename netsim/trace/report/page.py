"""The report's page: the template filled with every section, its Content-Security-Policy, and the file.

``write_report`` writes next to the final name and renames into place, so that a browser that reloads
the page never sees half of it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import importlib.resources
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from netsim.errors import InputError, OptionError
from netsim.trace.outputs import DEFAULT_MAX_TABLE_EVENTS, REPORT_FILE_NAME
from netsim.trace.reader import TraceReader, cyclic_gc_paused, resolve_trace_path
from netsim.trace.records import is_int
from netsim.trace.report.analysis import Fed, ReportBuild, analysis_html, events_only, read_once
from netsim.trace.report.diagram import diagram_fed, diagram_section
from netsim.trace.report.events import EventTable
from netsim.trace.report.header import header_html, read_run_summary
from netsim.trace.report.markup import escape
from netsim.trace.report.plot import plot_fed, plot_section, plot_traffic
from netsim.trace.report.split import AsideChild, aside_sections, in_page_order, start_aside
from netsim.trace.report.stats import stats_fed, stats_section
from netsim.trace.report.summary import summary_section
from netsim.trace.report.verify import verify_fed, verify_section
from netsim.trace.report.workload import workload_section
from netsim.trace.schema import header_start_ts_ns
from netsim.trace.summary import SummaryCounter
from netsim.trace.traffic import TrafficCounter

# The page around the sections, shipped next to this module (package data).
TEMPLATE_NAME = "template.html"
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# The order the sections are rendered in by one process, which ReportResult's reasons keep.
SECTION_ORDER = ("verify", "summary", "stats", "plot", "diagram", "events", "header", "workload")


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What ``write_report`` wrote: the file, its size, the table's coverage and any missing section.

    ``unavailable`` maps a section to why its analysis module could not be imported; ``failed`` maps a
    section to the error its analysis raised. Both sections still appear on the page, saying so.
    """

    path: Path
    size_bytes: int
    events_total: int
    events_in_table: int
    unavailable: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def table_truncated(self) -> bool:
        return self.events_in_table < self.events_total


def _template() -> str:
    return importlib.resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


def _content_security_policy(template: str) -> str:
    """Allow only the template's own inline script (by hash), inline styles and data: images."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _SCRIPT.findall(template)
    )
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _build_page(run_or_trace: str | os.PathLike[str], max_table_events: int) -> tuple[str, ReportBuild]:
    if not is_int(max_table_events) or max_table_events < 0:
        raise OptionError(f"--max-events must be a whole number >= 0, got {max_table_events!r}")
    # The cyclic collector is paused for the whole page, not only the pass: after the pass the counts
    # of a 5,000-node run are still held while the sections are rendered, and every collection the
    # plot's drawing set off walked them all (1-1.5 s). The figure's own cycles are collected afterwards.
    with cyclic_gc_paused():
        return _page(run_or_trace, max_table_events)


def _page(run_or_trace: str | os.PathLike[str], max_table_events: int) -> tuple[str, ReportBuild]:
    trace_path = resolve_trace_path(run_or_trace)
    # On a big trace verify and the diagram are made by a second process, beside this one (split.py).
    aside = start_aside(run_or_trace, trace_path)
    with aside if aside is not None else contextlib.nullcontext():
        return _sections_and_page(run_or_trace, trace_path, max_table_events, aside)


def _sections_and_page(
    run_or_trace: str | os.PathLike[str], trace_path: Path, max_table_events: int, aside: AsideChild | None
) -> tuple[str, ReportBuild]:
    with TraceReader(trace_path) as reader:
        header = reader.header
        start_ts_ns = header_start_ts_ns(header)
        build = ReportBuild(run_or_trace, trace_path, header, start_ts_ns)
        # One pass for the summary, the event table, verify, stats, the plot's counts and the diagram's
        # (verify and the diagram's left to ``aside`` where there is one). The traffic per node and per
        # link direction is counted once, first, for the summary, the stats and the plot, which each
        # count only what is theirs on top.
        traffic = TrafficCounter(header)
        summary = SummaryCounter(header, traffic)
        table = EventTable(build, max_table_events)
        verify = verify_fed(build) if aside is None else None
        stats, plot = stats_fed(build, traffic), plot_fed(build, traffic)
        diagram = diagram_fed(build) if aside is None else None
        feeds = [events_only(traffic.add_all), events_only(summary.add_all), events_only(table.add_all)]
        feeds += [fed.add_all for fed in (verify, stats, plot, diagram) if fed is not None]
        read_once(reader, feeds)
        del feeds, traffic
        build.skipped_lines = reader.skipped_count
    # Every analysis' counts are held at the end of the pass; each section lets its own go once it is
    # rendered (Fed.take), so that what comes after (the stats' tables, the plot's figure) is not
    # added on top of all of them. The biggest go first.
    sections = {"verify": verify_section(build, verify)} if verify is not None else {}
    del verify
    plot_counts = plot_traffic(build, plot)
    del plot
    if isinstance(plot_counts, str):  # its counter failed: the section says so
        sections["plot"], plot_counts = plot_counts, None
    # The child draws it, where there is one, while this process renders the rest.
    plot_aside = aside is not None and aside.send_plot(plot_counts)
    sections["summary"] = summary_section(summary.summary(str(trace_path), build.skipped_lines))
    del summary
    sections["stats"] = stats_section(build, stats)
    if plot_counts is not None and not plot_aside:
        sections["plot"] = plot_section(build, plot_counts)
    if diagram is not None:
        sections["diagram"] = diagram_section(build, diagram)
    elif aside is not None and (counts := aside.diagram_counts()) is not None:
        sections["diagram"] = diagram_section(build, Fed.given(counts))
    sections["events"], sections["events_data"] = table.section()
    sections["header"] = header_html(build, read_run_summary(trace_path, header.get("run_id")))
    sections["workload"] = analysis_html(build, "workload", lambda build: workload_section(build.trace_path))
    if aside is not None:
        # Whatever the child could not make, this process makes now, as it would have alone.
        made = aside.sections() or aside_sections(
            run_or_trace, trace_path, plot_counts if plot_aside else None
        )
        sections.update(made.html)
        build.unavailable.update(made.unavailable)
        build.failed.update(made.failed)
    build.unavailable = in_page_order(build.unavailable, SECTION_ORDER)
    build.failed = in_page_order(build.failed, SECTION_ORDER)
    template = _template()
    values = {
        **sections,
        # Ours alone and free of '"': unescaped quotes keep it readable in the page source.
        "csp": html.escape(_content_security_policy(template), quote=False),
        "title": escape(f"netsim report: {header.get('run_id', trace_path)}"),
        "netsim_version": escape(header.get("netsim_version", "")),
        "trace_path": escape(trace_path),
    }
    # One pass, so text inserted for one placeholder is never scanned for another.
    page = _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    return page, build


def render_report(
    run_or_trace: str | os.PathLike[str], *, max_table_events: int = DEFAULT_MAX_TABLE_EVENTS
) -> str:
    """The report of a run directory or trace file, as one self-contained HTML page."""
    page, _ = _build_page(run_or_trace, max_table_events)
    return page


def default_report_path(run_or_trace: str | os.PathLike[str]) -> Path:
    """Where a run's report goes when no file is named: report.html next to its trace."""
    return resolve_trace_path(run_or_trace).parent / REPORT_FILE_NAME


def write_report(
    run_or_trace: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    max_table_events: int = DEFAULT_MAX_TABLE_EVENTS,
) -> ReportResult:
    """Write the report of a run directory or trace file to ``out_path`` (a directory gets report.html).

    The file is written next to its final name and renamed into place, so a browser that reloads it
    never sees half a page.
    """
    page, build = _build_page(run_or_trace, max_table_events)
    target = Path(out_path)
    if target.is_dir():
        target = target / REPORT_FILE_NAME
    data = page.encode("utf-8")
    temporary = target.with_name(target.name + ".writing")
    try:
        if target.is_symlink() or (target.exists() and not target.is_file()):
            # /dev/stdout, a FIFO, a link: written through, never replaced by a file of the same name.
            with open(target, "wb") as stream:
                stream.write(data)
            return _report_result(target, data, build)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise InputError(
            f"{target}: cannot write the report: {error.strerror or error}",
            hint="choose another output file with -o",
        ) from None
    return _report_result(target, data, build)


def _report_result(target: Path, data: bytes, build: ReportBuild) -> ReportResult:
    return ReportResult(
        path=target,
        size_bytes=len(data),
        events_total=build.events_total,
        events_in_table=build.events_in_table,
        unavailable=dict(build.unavailable),
        failed=dict(build.failed),
    )

"""The HTML report of one run: every analysis of its trace on one self-contained page.

``write_report`` reads a run directory (or a trace file) and writes one HTML file that opens with no
network access: CSS and JS are inline, the plot is a ``data:`` PNG, the message diagram an inline SVG,
and a Content-Security-Policy forbids loading anything else. The page shows the run's header and
outcome (``summary.json``), the summary, the verify checks, the stats, the plot, the diagram and a
searchable table of the first ``max_table_events`` events.

Every text that comes from the trace is escaped with ``html.escape`` (``markup.escape``), and the event
table's data is embedded as JSON that the page's script turns into DOM text, so a node named
``<script>`` is shown, not run.

One module per section (``header``, ``summary``, ``verify``, ``stats``, ``plot``, ``diagram``,
``events``), their shared HTML pieces in ``markup``, and the page around them (``template.html``, the
CSP, the file) in ``page``. A section whose analysis cannot be imported says "not available"; one whose
analysis fails shows the error; either way the rest of the report is still written (``analysis``), and
``ReportResult`` lists both.
"""

from __future__ import annotations

from netsim.trace.report.page import (
    DEFAULT_MAX_TABLE_EVENTS,
    REPORT_FILE_NAME,
    ReportResult,
    default_report_path,
    render_report,
    write_report,
)

__all__ = [
    "DEFAULT_MAX_TABLE_EVENTS",
    "REPORT_FILE_NAME",
    "ReportResult",
    "default_report_path",
    "render_report",
    "write_report",
]

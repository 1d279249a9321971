"""What the sections of one report share: the trace being reported on, and the guard around each analysis.

Each analysis (verify, stats, plot, diagram) runs inside ``analysis_html``: the trace has already been
read in full (summary and event table) by then, so an error there is the analysis' own and costs its
section only. A section whose analysis cannot be imported says "not available"; one whose analysis
raises shows the error; either way the rest of the report is still written, and the build records both
for ``ReportResult``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsim.trace.report.markup import escape

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


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

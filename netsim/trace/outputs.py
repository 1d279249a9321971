"""What the trace tools write, as plain data: the plot's image formats, the report's file name and the
size of its event table.

The tools themselves import matplotlib and the analyses; the CLI's help names these without importing
any of that, so ``netsim --help`` stays fast.
"""

from __future__ import annotations

PLOT_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
REPORT_FILE_NAME = "report.html"
DEFAULT_MAX_TABLE_EVENTS = 20_000

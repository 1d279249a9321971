"""The report's plot section: ``render_plot_png``'s picture of the topology and its traffic, inline."""

from __future__ import annotations

import base64

from netsim.trace.report.analysis import ReportBuild, analysis_html
from netsim.trace.report.markup import section


def plot_section(build: ReportBuild) -> str:
    return section("topology", "Topology and messages over time", analysis_html(build, "plot", _plot_html))


def _plot_html(build: ReportBuild) -> str:
    from netsim.trace.plot import render_plot_png  # here, not above: see analysis_html

    png = render_plot_png(build.run_or_trace)
    if not isinstance(png, bytes | bytearray) or not png.startswith(b"\x89PNG"):
        raise ValueError("render_plot_png did not return PNG bytes")
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="topology and messages over time" src="data:image/png;base64,{data}"></figure>'

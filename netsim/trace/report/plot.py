"""The report's plot section: ``render_plot_png``'s picture of the topology and its traffic, inline."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from netsim.trace.report.analysis import Fed, ReportBuild, analysis_html
from netsim.trace.report.markup import section

if TYPE_CHECKING:
    from netsim.trace.plot_counts import PlotCounter, Traffic
    from netsim.trace.traffic import TrafficCounter


def plot_fed(build: ReportBuild, traffic: TrafficCounter) -> Fed[PlotCounter]:
    """The plot's traffic counter, to feed in the report's pass, which feeds ``traffic`` for it."""

    def start() -> PlotCounter:
        from netsim.trace.plot_counts import PlotCounter  # here, not above: see analysis_html

        return PlotCounter(build.header, build.trace_path, traffic=traffic)

    return Fed(start, lambda counter, events, _skipped_before: counter.add_all(events))


def plot_traffic(build: ReportBuild, fed: Fed[PlotCounter]) -> Traffic | str:
    """What the plot draws, as its counter counted it; or, where making or feeding the counter failed,
    the section, saying so."""
    try:
        return fed.take().traffic(build.skipped_lines)
    except Exception as error:  # shown as plot_section would show an error of its own
        return _failed_section(build, error)


def _failed_section(build: ReportBuild, error: Exception) -> str:
    def fail(_build: ReportBuild) -> str:
        raise error

    return section("topology", "Topology and messages over time", analysis_html(build, "plot", fail))


def plot_section(build: ReportBuild, traffic: Traffic) -> str:
    """The section: the picture of ``traffic``, what ``plot_traffic`` took from the counter."""
    body = analysis_html(build, "plot", lambda build: _plot_html(build, traffic))
    return section("topology", "Topology and messages over time", body)


def _plot_html(build: ReportBuild, traffic: Traffic) -> str:
    from netsim.trace.plot import render_plot_png

    png = render_plot_png(build.run_or_trace, traffic=traffic)
    if not isinstance(png, bytes | bytearray) or not png.startswith(b"\x89PNG"):
        raise ValueError("render_plot_png did not return PNG bytes")
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="topology and messages over time" src="data:image/png;base64,{data}"></figure>'

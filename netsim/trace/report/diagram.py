"""The report's diagram section: ``render_diagram``'s message diagram, inline as SVG."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from netsim.trace.records import cut
from netsim.trace.report.analysis import Fed, ReportBuild, analysis_html
from netsim.trace.report.markup import as_dict, escape, section
from netsim.trace.schema import header_node_names

if TYPE_CHECKING:
    from netsim.trace.diagram import NodeMessages

_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)


def diagram_fed(build: ReportBuild) -> Fed[NodeMessages]:
    """The messages per node the diagram picks its busiest lanes by, to count in the report's pass: the
    diagram then reads the trace once more, not twice."""

    def start() -> NodeMessages:
        from netsim.trace.diagram import NodeMessages  # here, not above: see analysis_html

        # The window of the diagram drawn below: the whole run, netsim's own messages left out.
        return NodeMessages(header_node_names(build.header), None, None, False)

    return Fed(start, lambda counter, events, _skipped_before: counter.add_all(events))


def diagram_section(build: ReportBuild, fed: Fed[NodeMessages]) -> str:
    body = analysis_html(build, "diagram", lambda build: _diagram_html(build, fed))
    return section("diagram", "Message diagram", body)


def _diagram_html(build: ReportBuild, fed: Fed[NodeMessages]) -> str:
    from netsim.trace.diagram import render_diagram

    diagram = render_diagram(build.run_or_trace, node_messages=fed.take())
    svg = _XML_PROLOG.sub("", str(diagram.svg), count=1)
    if not svg.lstrip().startswith("<svg"):
        raise ValueError("render_diagram did not return an SVG document")
    note_text = getattr(diagram, "note", "") or ""
    left_out = getattr(diagram, "left_out", None)
    if not note_text and isinstance(left_out, dict) and left_out:
        note_text = "not drawn: " + "; ".join(
            f"{as_dict(entry).get('count', '?')} {name}" for name, entry in left_out.items()
        )
    note = f'<p class="note">{escape(cut(str(note_text), 2000))}</p>' if note_text else ""
    return f'{note}<div class="diagram">{svg}</div>'

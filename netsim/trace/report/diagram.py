"""The report's diagram section: ``render_diagram``'s message diagram, inline as SVG."""

from __future__ import annotations

import re

from netsim.trace.records import cut
from netsim.trace.report.analysis import ReportBuild, analysis_html
from netsim.trace.report.markup import as_dict, escape, section

_XML_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)


def diagram_section(build: ReportBuild) -> str:
    return section("diagram", "Message diagram", analysis_html(build, "diagram", _diagram_html))


def _diagram_html(build: ReportBuild) -> str:
    from netsim.trace.diagram import render_diagram  # here, not above: see analysis_html

    diagram = render_diagram(build.run_or_trace)
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

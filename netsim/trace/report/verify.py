"""The report's verify section: each check of ``verify_trace``, and a failed check's first bad events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from netsim.trace.events import format_event
from netsim.trace.records import compact_json, cut, format_address, is_int
from netsim.trace.report.analysis import Fed, ReportBuild, analysis_html
from netsim.trace.report.markup import escape, number, section

if TYPE_CHECKING:
    from netsim.trace.verify import Verifier

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

# Examples listed under a failed verify check; the verifier may keep more.
MAX_EXAMPLES_SHOWN = 5


def _event_line(event: dict[str, Any], start_ts_ns: int | None) -> str:
    """One plain-text line for an event (the verify examples): format_event's, or a plainer one where the
    run has no start or the event is too odd for format_event."""
    if start_ts_ns is not None:
        try:
            return str(format_event(event, start_ts_ns))
        except Exception:  # an example the formatter does not expect is still shown below
            log.debug("format_event failed on %r", event, exc_info=True)
    ts_ns = event.get("ts_ns")
    when = f"+{(ts_ns - start_ts_ns) / 1e6:.3f} ms" if is_int(ts_ns) and start_ts_ns is not None else "?"
    who = str(event.get("node", "?"))
    kind = str(event.get("event", "?"))
    peer = event.get("peer")
    arrow = ""
    if isinstance(peer, str):
        arrow = f" → {peer}" if kind in ("send", "sendto", "connect") else f" ← {peer}"
    rest = " ".join(
        f"{key}={format_address(value) if key in ('sockname', 'peername') else value}"
        for key, value in event.items()
        if key in ("msg_type", "msg_id", "nbytes", "lamport", "in_reply_to", "error", "reason", "transport")
    )
    return f"{when}  {who}  {kind}{arrow}  {rest}".rstrip()


def _example_html(example: Any, start_ts_ns: int | None, problem: Any = None) -> str:
    if isinstance(example, dict) and "event" in example and "node" in example:
        text = _event_line(example, start_ts_ns)
    elif isinstance(example, dict | list):
        text = compact_json(example)
    else:
        text = str(example)
    why = f'<div class="problem">{escape(cut(str(problem), 1000))}</div>' if problem else ""
    return f"<li>{why}{escape(cut(text, 2000))}</li>"


def _count_text(value: Any) -> str:
    """A figure a verify check reports besides its failures: a number, a {name: n} dict or a list."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_count_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return number(value)


def verify_fed(build: ReportBuild) -> Fed[Verifier]:
    """The verifier, to feed in the report's pass."""

    def start() -> Verifier:
        from netsim.trace.reader import TraceReader
        from netsim.trace.verify import Verifier  # here, not above: see analysis_html

        # The records of sends never received, shown as examples, are read again from the trace.
        return Verifier(
            MAX_EXAMPLES_SHOWN,
            lambda lines: TraceReader(build.trace_path).records_at(lines),
            across_hosts=isinstance(build.header.get("cluster"), dict),
        )

    return Fed(start, lambda verifier, events, skipped_before: verifier.add_all(events, skipped_before))


def verify_section(build: ReportBuild, fed: Fed[Verifier]) -> str:
    return section("verify", "Verify", analysis_html(build, "verify", lambda build: _verify_html(build, fed)))


def _verify_html(build: ReportBuild, fed: Fed[Verifier]) -> str:
    report = fed.take().report(str(build.trace_path), build.header, build.skipped_lines)
    checks = list(report.checks)
    passed = sum(1 for check in checks if check.passed)
    css = "ok" if report.ok else "bad"
    verdict = "all checks passed" if report.ok else f"{len(checks) - passed} of {len(checks)} checks failed"
    head = (
        "<table><thead><tr><th>check</th><th>description</th><th>result</th>"
        '<th class="num">checked</th><th class="num">failures</th></tr></thead><tbody>'
    )
    rows = []
    for check in checks:
        badge = (
            '<span class="badge ok">pass</span>' if check.passed else '<span class="badge bad">FAIL</span>'
        )
        counts = getattr(check, "counts", None)
        extra = ""
        if isinstance(counts, dict) and counts:
            figures = "; ".join(
                f"{str(key).replace('_', ' ')}: {_count_text(value)}"
                for key, value in counts.items()
                if value not in ({}, [], None)
            )
            extra = f'<div class="note">{escape(cut(figures, 1000))}</div>' if figures else ""
        rows.append(
            f'<tr><td class="mono nowrap">{escape(check.name)}</td>'
            f"<td>{escape(check.description)}{extra}</td>"
            f'<td>{badge}</td><td class="num">{number(check.checked)}</td>'
            f'<td class="num">{number(check.failures)}</td></tr>'
        )
        examples = list(check.examples or [])
        if not check.passed and examples:
            problems = list(getattr(check, "problems", None) or [])
            items = "".join(
                _example_html(example, build.start_ts_ns, problems[index] if index < len(problems) else None)
                for index, example in enumerate(examples[:MAX_EXAMPLES_SHOWN])
            )
            more = ""
            if is_int(check.failures) and check.failures > min(len(examples), MAX_EXAMPLES_SHOWN):
                shown = min(len(examples), MAX_EXAMPLES_SHOWN)
                more = f'<p class="note">first {shown} of {check.failures:,}</p>'
            rows.append(
                f'<tr class="detail"><td></td><td colspan="4"><span class="note">first offending events'
                f'</span><ul class="examples">{items}</ul>{more}</td></tr>'
            )
    table = f'<div class="scroll">{head}{"".join(rows)}</tbody></table></div>'
    return (
        f'<p><span class="badge {css}">{"PASS" if report.ok else "FAIL"}</span> {escape(verdict)}</p>{table}'
    )

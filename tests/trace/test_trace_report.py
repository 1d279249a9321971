"""The HTML report: its sections, escaping, self-containment and size, the CLI, and a real headless browser.

The browser tests run Debian's Chromium (``/usr/bin/chromium``) from its command line: ``--dump-dom``
prints the DOM after the page's script ran, and ``--enable-logging=stderr`` prints every console message
as a line with ``CONSOLE`` in it (console.log, console.error and uncaught exceptions alike; this version
logs all of them at INFO). The report never writes to the console, so any such line is a failure;
``test_browser_detects_console_errors`` proves the detection on a page that throws.
"""

from __future__ import annotations

import html
import importlib.resources
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from netsim_testing import Simulations, trace_header, write_run
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_cli_app
from netsim.errors import InputError, OptionError
from netsim.trace import SCHEMA
from netsim.trace.report import default_report_path, render_report, write_report

START = 7_000_000_000
EVIL = "<script>alert(1)</script>"
AMP = "a&b \"q\" 'x'"
UNICODE = "nœud 🙂"
EVIL_TYPE = "<b>bold</b>"
EVIL_ERROR = "<img src=x onerror=alert(2)>"
EVIL_DATA = {"note": "</script><script>alert(3)</script><!--"}
ANALYSES = {
    "verify": "netsim.trace.verify",
    "stats": "netsim.trace.stats",
    "diagram": "netsim.trace.diagram",
    "plot": "netsim.trace.plot",
}


def _analysis_importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def header(
    nodes: list[str], links: list[list[str]], run_id: str = "20261125-120000-evil-report-0001"
) -> dict:
    return trace_header(
        nodes,
        links,
        name="evil",
        source="tests/evil.gml",
        app="echo",
        run_id=run_id,
        seed=7,
        started_at="2026-11-25T12:00:00.000000+00:00",
        start_ts_ns=START,
    )


def hostile_events() -> list[dict[str, Any]]:
    """Three nodes with hostile names; one message received twice (exactly_once fails), one error."""
    tcp = {"transport": "tcp"}
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("n0", "start", {}),
        (EVIL, "start", {}),
        (UNICODE, "start", {}),
        (
            "n0",
            "send",
            {**tcp, "peer": EVIL, "nbytes": 80, "msg_id": "n0:1", "msg_type": EVIL_TYPE, "lamport": 1},
        ),
        (
            EVIL,
            "recv",
            {**tcp, "peer": "n0", "nbytes": 80, "msg_id": "n0:1", "msg_type": EVIL_TYPE, "lamport": 2},
        ),
        (
            EVIL,
            "recv",
            {**tcp, "peer": "n0", "nbytes": 80, "msg_id": "n0:1", "msg_type": EVIL_TYPE, "lamport": 3},
        ),
        (AMP, "sendto", {"transport": "udp", "peer": UNICODE, "nbytes": 70, "msg_id": "amp:1", "lamport": 1}),
        (
            UNICODE,
            "recvfrom",
            {"transport": "udp", "peer": AMP, "nbytes": 70, "msg_id": "amp:1", "lamport": 2},
        ),
        (EVIL, "error", {**tcp, "peer": "n0", "error": EVIL_ERROR, "nbytes": 3}),
        ("n0", "app", {"data": EVIL_DATA}),
        ("n0", "stop", {"reason": "done"}),
        (EVIL, "stop", {"reason": "done"}),
        (UNICODE, "stop", {}),
    ]
    return [
        {"ts_ns": START + 1_000 * (index + 1), "node": node, "event": kind, **fields}
        for index, (node, kind, fields) in enumerate(rows)
    ]


@pytest.fixture
def hostile_run(tmp_path: Path) -> Path:
    nodes = ["n0", EVIL, AMP, UNICODE]
    links = [["n0", EVIL, "tcp"], [AMP, UNICODE, "udp"]]
    return write_run(tmp_path / "runs" / "evil", header(nodes, links), hostile_events())


def big_events(count: int) -> list[dict[str, Any]]:
    """``count`` events of a two-node ping-pong: sends and receives in pairs."""
    events = []
    for index in range(count // 2):
        sender, receiver = ("n0", "n1") if index % 2 == 0 else ("n1", "n0")
        msg = {"transport": "tcp", "nbytes": 90, "msg_id": f"{sender}:{index}", "msg_type": "ping"}
        ts_ns = START + 10_000 * index
        events.append(
            {"ts_ns": ts_ns, "node": sender, "event": "send", "peer": receiver, "lamport": 2 * index, **msg}
        )
        events.append(
            {
                "ts_ns": ts_ns + 5_000,
                "node": receiver,
                "event": "recv",
                "peer": sender,
                "lamport": 2 * index + 1,
                **msg,
            }
        )
    return events


def table_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="events-data">(.*?)</script>', page, re.DOTALL)
    assert match is not None
    return json.loads(match.group(1))


# -- the page, without a browser ----------------------------------------------------------------------


def test_every_section_is_present(hostile_run: Path) -> None:
    page = render_report(hostile_run)
    assert page.startswith("<!DOCTYPE html>")
    for anchor in ("summary", "verify", "stats", "topology", "diagram", "events"):
        assert f'<section id="{anchor}">' in page
    assert "20261125-120000-evil-report-0001" in page
    for placeholder in re.findall(r"\{\{[a-z_]+\}\}", page):
        pytest.fail(f"unfilled placeholder {placeholder}")


def test_sections_use_the_analyses_that_exist(hostile_run: Path, tmp_path: Path) -> None:
    result = write_report(hostile_run, tmp_path / "report.html")
    page = result.path.read_text(encoding="utf-8")
    assert result.failed == {}, result.failed
    for section, module in ANALYSES.items():
        if _analysis_importable(module):
            assert section not in result.unavailable, result.unavailable[section]
        else:
            assert section in result.unavailable
            assert "not available" in page
    if _analysis_importable("netsim.trace.verify"):
        # The duplicate receive fails exactly_once; its offending event is listed under the check.
        assert '<span class="badge bad">FAIL</span>' in page
        assert "exactly_once" in page
        assert "first offending events" in page
    if _analysis_importable("netsim.trace.diagram"):
        assert "<svg" in page
    if _analysis_importable("netsim.trace.plot"):
        assert 'src="data:image/png;base64,' in page


def test_trace_text_is_escaped(hostile_run: Path) -> None:
    page = render_report(hostile_run)
    # Only the page's own two script elements: the event data and the table's code.
    assert page.count("<script") == 2
    assert EVIL not in page
    assert EVIL_ERROR not in page
    assert EVIL_TYPE not in page
    assert html.escape(EVIL) in page  # node names are shown, as text
    assert html.escape(EVIL_ERROR) in page  # in the summary's errors table
    assert html.escape(AMP, quote=True) in page
    assert UNICODE in page
    # The table's data block has no "<" at all, and round-trips every name and the app's data.
    data = table_data(page)
    assert {"n0", EVIL, AMP, UNICODE} <= set(data["nodes"])
    assert any(EVIL_DATA["note"] in row[7] for row in data["rows"])


def test_no_external_resources(hostile_run: Path) -> None:
    page = render_report(hostile_run)
    for attribute, value in re.findall(r"""\b(src|href|xlink:href|action)\s*=\s*["']([^"']*)["']""", page):
        assert value.startswith(("data:", "#")), f"{attribute}={value!r} loads something"
    assert "//cdn" not in page
    assert "@import" not in page and "url(" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert "default-src 'none'" in page  # the CSP refuses anything else anyway


def test_summary_json_gives_the_status(hostile_run: Path) -> None:
    (hostile_run / "summary.json").write_bytes(
        orjson.dumps(
            {"run_id": "20261125-120000-evil-report-0001", "exit_status": "failed", "ended_by": "failure"}
        )
    )
    page = render_report(hostile_run)
    assert '<span class="badge bad">failed</span>' in page and "ended by failure" in page

    # A summary.json of another run is not this run's status.
    (hostile_run / "summary.json").write_bytes(orjson.dumps({"run_id": "other", "exit_status": "ok"}))
    assert "no summary.json" in render_report(hostile_run)


def test_minimal_header_and_no_events(tmp_path: Path) -> None:
    bare = write_run(tmp_path / "bare", {"type": "header", "schema": SCHEMA}, [])
    page = render_report(bare)
    assert '<section id="events">' in page and table_data(page)["rows"] == []
    odd = write_run(
        tmp_path / "odd",
        {"type": "header", "schema": SCHEMA, "topology": {"nodes": "n0", "links": [["n0"]]}, "seed": None},
        [
            {
                "ts_ns": 5,
                "node": "n0",
                "event": "custom",
                "sockname": ["::1", 1, 0, 0],
                "extra": [1, {"a": None}],
            }
        ],
    )
    rows = table_data(render_report(odd))["rows"]
    assert rows == [[0, 0, 0, -1, None, None, None, 'sockname=[::1]:1 extra=[1,{"a":null}]']]


def test_big_trace_table_is_capped(tmp_path: Path) -> None:
    run = write_run(tmp_path / "big", header(["n0", "n1"], [["n0", "n1", "tcp"]]), big_events(30_000))
    result = write_report(run, tmp_path / "big.html")
    assert (result.events_total, result.events_in_table, result.table_truncated) == (30_000, 20_000, True)
    page = result.path.read_text(encoding="utf-8")
    assert len(table_data(page)["rows"]) == 20_000
    assert "first 20,000 of 30,000 events" in page
    # About 60 bytes per event in the table; the rest of the page is small.
    assert result.size_bytes < 3_000_000, result.size_bytes

    small = write_report(run, tmp_path / "small.html", max_table_events=100)
    assert small.events_in_table == 100
    assert small.size_bytes < result.size_bytes - 1_000_000


def test_zero_and_negative_max_events(hostile_run: Path) -> None:
    page = render_report(hostile_run, max_table_events=0)
    assert table_data(page)["rows"] == []
    with pytest.raises(OptionError):
        render_report(hostile_run, max_table_events=-1)


def test_missing_analysis_is_not_available(
    hostile_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "netsim.trace.verify", None)  # import raises ImportError
    result = write_report(hostile_run, tmp_path / "r.html")
    assert "verify" in result.unavailable
    page = result.path.read_text(encoding="utf-8")
    verify_section = page[page.index('<section id="verify">') : page.index('<section id="stats">')]
    assert "not available" in verify_section


def test_failing_analysis_is_reported(
    hostile_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    broken = types.ModuleType("netsim.trace.stats")

    class StatsCounter:
        """Made fine, fails on the first batch of events the report's pass feeds it."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def add_all(self, events: Any) -> None:
            raise RuntimeError("stats <broke>")

    broken.StatsCounter = StatsCounter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "netsim.trace.stats", broken)
    result = write_report(hostile_run, tmp_path / "r.html")
    assert result.failed == {"stats": "RuntimeError: stats <broke>"}
    assert "stats &lt;broke&gt;" in result.path.read_text(encoding="utf-8")


def test_bad_input_is_a_netsim_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        render_report(tmp_path / "nope")
    not_a_trace = tmp_path / "x.jsonl"
    not_a_trace.write_text("hello\n")
    with pytest.raises(InputError, match="not a netsim trace"):
        render_report(not_a_trace)


def test_default_report_path_is_next_to_the_trace(hostile_run: Path) -> None:
    assert default_report_path(hostile_run) == hostile_run / "report.html"
    assert default_report_path(hostile_run / "trace.jsonl") == hostile_run / "report.html"


def test_output_directory_gets_report_html(hostile_run: Path) -> None:
    result = write_report(hostile_run, hostile_run)
    assert result.path == hostile_run / "report.html"
    assert result.path.stat().st_size == result.size_bytes
    assert not list(hostile_run.glob("*.writing"))


def test_template_ships_as_package_data() -> None:
    template = importlib.resources.files("netsim.trace.report").joinpath("template.html")
    assert "{{events_data}}" in template.read_text(encoding="utf-8")


# -- netsim trace report ------------------------------------------------------------------------------

runner = CliRunner()


def trace_app() -> typer.Typer:
    return trace_cli_app


def test_cli_writes_the_report(hostile_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(trace_app(), ["report", str(hostile_run), "-o", str(out), "--max-events", "5"])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert f"wrote {out}" in result.stderr and "kB)" in result.stderr
    assert "first 5 of 13 events" in result.stderr
    assert result.stdout == ""
    assert len(table_data(out.read_text(encoding="utf-8"))["rows"]) == 5


def test_cli_default_output_is_next_to_the_trace(hostile_run: Path) -> None:
    result = runner.invoke(trace_app(), ["report", str(hostile_run)])
    assert result.exit_code == 0, result.output
    assert (hostile_run / "report.html").is_file()


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(trace_app(), ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path / 'nope'}: no such file or directory"
    ]
    assert "Traceback" not in result.output
    result = runner.invoke(trace_app(), ["report", str(tmp_path), "--max-events", "-1"])
    assert result.exit_code == 2


def test_cli_as_a_real_process(hostile_run: Path, tmp_path: Path) -> None:
    code = "from netsim.cli.trace import app; app(prog_name='netsim trace')"
    out = tmp_path / "p.html"
    done = subprocess.run(
        [sys.executable, "-c", code, "report", str(hostile_run), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "wrote" in done.stderr


# -- in a real browser --------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TIMEOUT_S = 60
CONSOLE_LINE = re.compile(r":CONSOLE[(:]")


@pytest.fixture
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install chromium) "
            "to run the report's browser tests"
        )
    return CHROMIUM


def _session_members(session_id: int) -> list[int]:
    """Processes still in the session the browser was started in (it leads its own)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


def run_browser(browser: Path, url: str, workdir: Path, *options: str) -> tuple[str, list[str]]:
    """Run headless Chromium on ``url``: (stdout, console lines). Leaves no process behind."""
    profile = workdir / f"chromium-profile-{time.monotonic_ns()}"
    command = [
        str(browser),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-extensions",
        "--disable-sync",
        "--mute-audio",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *options,
        url,
    ]
    # Its own session, so that every process Chromium forks can be found (and, if need be, ended) by id.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=BROWSER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT_S} s")
    finally:
        deadline = time.monotonic() + 5
        while _session_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = _session_members(process.pid)
        if leftovers:
            os.killpg(process.pid, signal.SIGKILL)
    assert not leftovers, f"Chromium left processes behind: {leftovers}"
    assert process.returncode == 0, stderr[-2000:]
    return stdout, [line for line in stderr.splitlines() if CONSOLE_LINE.search(line)]


def test_browser_detects_console_errors(chromium: Path, tmp_path: Path) -> None:
    page = tmp_path / "throws.html"
    page.write_text(
        '<!DOCTYPE html><p id="p">before</p><script>'
        'document.getElementById("p").textContent = "after"; null.boom();</script>'
    )
    dom, console = run_browser(chromium, page.as_uri(), tmp_path, "--dump-dom")
    assert '<p id="p">after</p>' in dom  # --dump-dom shows the DOM after the script ran
    assert any("Uncaught TypeError" in line for line in console), console


def test_browser_enforces_the_pages_csp(chromium: Path, hostile_run: Path, tmp_path: Path) -> None:
    # A script that is not the page's own (as an escaping bug would let in) is refused by the CSP.
    page = render_report(hostile_run).replace("</main>", '<script>document.title = "pwned";</script></main>')
    path = tmp_path / "injected.html"
    path.write_text(page, encoding="utf-8")
    dom, console = run_browser(chromium, path.as_uri(), tmp_path, "--dump-dom")
    assert "<title>pwned</title>" not in dom
    assert any("Content Security Policy" in line for line in console), console


@pytest.fixture
def real_run(simulate: Simulations) -> Path:
    result = simulate("ring:5", app="echo", seed=1)
    assert result.exit_code == 0
    return result.run_dir


def test_report_of_a_real_run_in_the_browser(chromium: Path, real_run: Path, tmp_path: Path) -> None:
    result = write_report(real_run, tmp_path / "report.html")
    assert result.failed == {}
    dom, console = run_browser(chromium, result.path.as_uri(), tmp_path, "--dump-dom")
    assert console == []
    assert f"<h1>{real_run.name}</h1>" in dom
    # The event rows exist only once the page's script has run.
    body = dom[dom.index('<tbody id="events-body">') :]
    body = body[: body.index("</tbody>")]
    for node in ("n0", "n1", "n2", "n3", "n4"):
        assert f"<td>{node}</td>" in body
    assert body.count("<tr>") == result.events_total
    total = f"{result.events_total:,}"
    assert f"Showing {total} of {total} matching events" in dom
    assert '<option value="0">n0 (' in dom  # the node filter, filled by the script
    assert '<div class="more" id="events-more" hidden="">' in dom  # every row shown: no "show more"

    # A picture for people to look at (not asserted on beyond existing).
    screenshot = tmp_path / "report.png"
    run_browser(
        chromium,
        result.path.as_uri(),
        tmp_path,
        f"--screenshot={screenshot}",
        "--window-size=1400,3000",
        "--hide-scrollbars",
    )
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")


def _with_test_script(page: str, script: str) -> str:
    """The page plus a script that drives its controls (the CSP is relaxed for it, in this copy only)."""
    page = re.sub(r"script-src [^;]*;", "script-src 'unsafe-inline';", page, count=1)
    return page.replace("</body>", f"<script>{script}</script></body>")


def _rows(dom: str) -> list[list[str]]:
    body = dom[dom.index('<tbody id="events-body">') :]
    body = body[: body.index("</tbody>")]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_table_controls_in_the_browser(chromium: Path, tmp_path: Path) -> None:
    run = write_run(tmp_path / "big", header(["n0", "n1"], [["n0", "n1", "tcp"]]), big_events(2_500))
    page = render_report(run)

    def drive(name: str, script: str) -> str:
        path = tmp_path / f"{name}.html"
        path.write_text(_with_test_script(page, script), encoding="utf-8")
        dom, console = run_browser(chromium, path.as_uri(), tmp_path, "--dump-dom")
        assert console == [], console
        return dom

    # Paging: 1,000 rows at first, 1,000 more per click, then all.
    dom = drive("paging", 'document.getElementById("events-more-button").click();')
    assert len(_rows(dom)) == 2_000
    assert "Showing 2,000 of 2,500 matching events" in dom
    dom = drive("all", 'document.getElementById("events-all-button").click();')
    assert len(_rows(dom)) == 2_500 and 'id="events-more" hidden=""' in dom

    # The node and kind selects: n1's receives only.
    script = """
        function pick(id, text) {
          var select = document.getElementById(id);
          for (var i = 0; i < select.options.length; i++) {
            if (select.options[i].text.indexOf(text + " (") === 0) select.value = select.options[i].value;
          }
          select.dispatchEvent(new Event("change"));
        }
        pick("events-node", "n1");
        pick("events-kind", "recv");
    """
    rows = _rows(drive("selects", script))
    assert len(rows) == 625 and {(row[1], row[2]) for row in rows} == {("n1", "recv")}

    # The text box (debounced): one message id, its send and its receive.
    script = """
        var box = document.getElementById("events-search");
        box.value = "N0:1234";
        box.dispatchEvent(new Event("input"));
    """
    rows = _rows(drive("search", script))
    assert [(row[1], row[2], row[5]) for row in rows] == [
        ("n0", "send", "n0:1234"),
        ("n1", "recv", "n0:1234"),
    ]


def test_hostile_names_in_the_browser(chromium: Path, hostile_run: Path, tmp_path: Path) -> None:
    result = write_report(hostile_run, tmp_path / "report.html")
    dom, console = run_browser(chromium, result.path.as_uri(), tmp_path, "--dump-dom")
    assert console == []
    # Serialized text nodes escape "<" and "&": the name is on the page as text, in the rows too.
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in dom
    assert "<td>a&amp;b \"q\" 'x'</td>" in dom
    assert f"<td>{UNICODE}</td>" in dom
    assert "<script>alert" not in dom


# -- the one pass over the trace --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 4, 1_000])
def test_the_reports_one_pass_feeds_each_analysis_what_its_own_pass_reads(
    hostile_run: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    from netsim.trace.diagram import render_diagram
    from netsim.trace.plot import count_traffic
    from netsim.trace.reader import TraceReader
    from netsim.trace.report import analysis
    from netsim.trace.report.analysis import ReportBuild, read_once
    from netsim.trace.report.diagram import diagram_fed
    from netsim.trace.report.plot import plot_fed
    from netsim.trace.report.stats import stats_fed
    from netsim.trace.report.verify import verify_fed
    from netsim.trace.stats import trace_stats
    from netsim.trace.summary import SummaryCounter, summarize_trace
    from netsim.trace.traffic import TrafficCounter
    from netsim.trace.verify import verify_trace

    monkeypatch.setattr(analysis, "PASS_BATCH_EVENTS", batch)
    # A malformed line in the middle, read leniently: verify's line numbers must count it in any batch.
    lines = (hostile_run / "trace.jsonl").read_bytes().splitlines(keepends=True)
    trace = hostile_run.parent / "skipping.jsonl"
    trace.write_bytes(b"".join(lines[:6]) + b"not json\n" + b"".join(lines[6:]))
    with TraceReader(trace, strict=False) as reader:
        build = ReportBuild(trace, trace, reader.header, START)
        # Counted once, first, for the summary, the stats and the plot, as the report does.
        traffic = TrafficCounter(reader.header)
        summary = SummaryCounter(reader.header, traffic)
        verify, stats, plot, diagram = (
            verify_fed(build),
            stats_fed(build, traffic),
            plot_fed(build, traffic),
            diagram_fed(build),
        )
        feeds = [verify.add_all, stats.add_all, plot.add_all, diagram.add_all]
        read_once(
            reader,
            [
                lambda events, _skipped_before: traffic.add_all(events),
                lambda events, _skipped_before: summary.add_all(events),
                *feeds,
            ],
        )
        skipped = reader.skipped_count

    assert skipped == 1
    own_summary = summarize_trace(trace, strict=False)
    assert summary.summary(str(trace), skipped).to_dict() == own_summary.to_dict()
    own_verify = verify_trace(trace, strict=False)
    assert verify.take().report(str(trace), build.header, skipped).to_dict() == own_verify.to_dict()
    assert "line 8: n0:1 is received again" in own_verify.check("exactly_once").problems
    own_stats = trace_stats(trace, strict=False)
    assert stats.take().stats(str(trace), skipped).to_dict() == own_stats.to_dict()
    assert plot.take().traffic(skipped) == count_traffic(trace, strict=False)
    # Two lanes of four: the diagram picks the busiest by the messages the pass counted.
    node_messages = diagram.take()
    fed_diagram = render_diagram(trace, max_nodes=2, strict=False, node_messages=node_messages)
    assert fed_diagram == render_diagram(trace, max_nodes=2, strict=False)
    assert fed_diagram.nodes == ("n0", EVIL)
    with pytest.raises(ValueError, match="another window"):
        render_diagram(trace, max_nodes=2, strict=False, include_control=True, node_messages=node_messages)


def star_events() -> list[dict[str, Any]]:
    """h sends 3 messages to a, 1 to b and 2 to c, each received."""
    events = [{"ts_ns": START + 1_000, "node": node, "event": "start"} for node in ("h", "a", "b", "c")]
    for index, peer in enumerate(["a", "a", "a", "b", "c", "c"], start=1):
        message = {"transport": "tcp", "nbytes": 90, "msg_id": f"h:{index}", "msg_type": "data"}
        ts_ns = START + 10_000 * index
        events.append(
            {"ts_ns": ts_ns, "node": "h", "event": "send", "peer": peer, "lamport": index, **message}
        )
        events.append(
            {"ts_ns": ts_ns + 5_000, "node": peer, "event": "recv", "peer": "h", "lamport": 99, **message}
        )
    return events


def section_text(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


def test_tables_of_a_big_topology_show_the_busiest_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netsim.trace.report import markup

    run = write_run(
        tmp_path / "star", header(["h", "a", "b", "c"], [["h", n, "tcp"] for n in "abc"]), star_events()
    )
    whole = render_report(run)
    monkeypatch.setattr(markup, "MAX_TABLE_ROWS", 2)
    page = render_report(run)

    assert "busiest of" not in whole
    summary, stats = section_text(page, "summary"), section_text(page, "stats")
    assert "The 2 busiest of 4 nodes" in summary and "The 2 busiest of 4 nodes" in stats
    assert "The 2 busiest of 6 link directions" in summary
    assert "The 2 busiest of 3 link directions" in stats  # latencies: the directions with messages
    assert "<code>netsim trace summary RUN --json</code> lists them all" in summary
    nodes_table = summary[summary.index("<h3>Nodes</h3>") : summary.index("<h3>Links, per direction</h3>")]
    assert re.findall(r'<tr><td class="name">(\w)</td>', nodes_table) == ["h", "a"]  # busiest, in order
    links_table = summary[summary.index("<h3>Links, per direction</h3>") :]
    assert re.findall(r'<td class="name">(\w) → (\w)</td>', links_table) == [("h", "a"), ("h", "c")]


def test_a_fifo_or_a_symbolic_link_is_written_through_not_replaced(hostile_run: Path, tmp_path: Path) -> None:
    import stat
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_report(hostile_run, fifo)
    reader.join(10)
    assert got and got[0].startswith(b"<!DOCTYPE html>")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    target = tmp_path / "real.html"
    link = tmp_path / "link.html"
    link.symlink_to(target)
    write_report(hostile_run, link)
    assert link.is_symlink() and target.read_text().startswith("<!DOCTYPE html>")

"""trace_stats on hand-made traces with known latencies and on real runs, and ``netsim trace stats``."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from netsim_testing import Simulations, trace_header, write_run
from typer.testing import CliRunner

from netsim.cli import trace_stats as trace_stats_cli
from netsim.cli.trace import app as trace_app
from netsim.errors import OptionError, TraceFormatError
from netsim.trace import summarize_trace
from netsim.trace.stats import LatencyStats, nice_width_ns, trace_stats
from netsim.trace.timeline import Timeline, TimelineCounter

START = 5_000_000_000
US = 1_000
MS = 1_000_000

HEADER = trace_header(
    ["n0", "n1", "n[2]", "idle"],
    [["n0", "n1", "tcp"], ["n[2]", "n1", "udp"]],
    name="line3",
    source="topologies/line3.gml",
    app="echo",
    run_id="20261125-101500-stats-3f2a",
    started_at="2026-11-25T10:15:00.123456+00:00",
    start_ts_ns=START,
)


def message(
    kind: str, ts_us: int, node: str, peer: str, msg_id: str | None, msg_type: str = "ping", **extra: Any
) -> dict[str, Any]:
    transport = "udp" if kind in ("sendto", "recvfrom") else "tcp"
    record = {"ts_ns": START + ts_us * US, "node": node, "event": kind, "transport": transport, "peer": peer}
    record.update({"nbytes": 100, "msg_type": msg_type, **extra})
    if msg_id is not None:
        record["msg_id"] = msg_id
    return record


def trace_events() -> list[dict[str, Any]]:
    """Latencies: n0:1 100 us, n1:1 200 us, n0:2 300 us (n0 <-> n1, tcp); n[2]:1 lost, n[2]:2 50 us (udp);
    n0:3 0 us, its receive written before its send (same ts_ns); one send without msg_id."""
    return [
        {"ts_ns": START + 1_000 * US, "node": "n0", "event": "start"},
        message("send", 1_000, "n0", "n1", "n0:1"),
        message("recv", 1_100, "n1", "n0", "n0:1"),
        message("send", 1_200, "n1", "n0", "n1:1", "pong", in_reply_to="n0:1"),
        message("send", 1_300, "n0", "n1", "n0:2"),
        message("recv", 1_400, "n0", "n1", "n1:1", "pong", in_reply_to="n0:1"),
        {
            "ts_ns": START + 1_450 * US,
            "node": "n0",
            "event": "app",
            "data": {"kind": "rtt", "rtt_ns": 400 * US},
        },
        message("sendto", 1_500, "n[2]", "n1", "n[2]:1", "gossip"),
        message("recv", 1_600, "n1", "n0", "n0:2"),
        message("sendto", 1_700, "n[2]", "n1", "n[2]:2", "gossip"),
        message("recvfrom", 1_750, "n1", "n[2]", "n[2]:2", "gossip"),
        message("recv", 1_800, "n1", "n0", "n0:3"),
        message("send", 1_800, "n0", "n1", "n0:3"),
        message("send", 1_900, "n0", "n1", None),
        {
            "ts_ns": START + 1_950 * US,
            "node": "n1",
            "event": "app",
            "data": {"kind": "rtt", "rtt_ns": 600 * US},
        },
        {"ts_ns": START + 1_960 * US, "node": "n1", "event": "app", "data": {"kind": "state", "x": 1}},
        {"ts_ns": START + 2_000 * US, "node": "n1", "event": "error", "error": "bad frame"},
        {"ts_ns": START + 3_000 * US, "node": "n0", "event": "stop", "reason": "done"},
    ]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "runs" / "r1", HEADER, trace_events())


# -- percentiles ---------------------------------------------------------------------------------------------


def test_percentiles_are_nearest_rank_and_exact() -> None:
    values = list(range(1, 1001))
    random.Random(4).shuffle(values)
    stats = LatencyStats.of(values)
    assert (stats.count, stats.min_ns, stats.p50_ns, stats.p90_ns, stats.p99_ns, stats.max_ns) == (
        1000,
        1,
        500,
        900,
        990,
        1000,
    )
    assert stats.mean_ns == pytest.approx(500.5)
    # Small groups: the values that happened, never interpolations.
    assert LatencyStats.of([7]).to_dict() == {
        "count": 1,
        "mean_ns": 7.0,
        "min_ns": 7,
        "p50_ns": 7,
        "p90_ns": 7,
        "p99_ns": 7,
        "max_ns": 7,
    }
    two = LatencyStats.of([10, 30])
    assert (two.p50_ns, two.p90_ns, two.max_ns) == (10, 30, 30)
    assert LatencyStats.of([]).to_dict()["count"] == 0
    assert LatencyStats.of([]).p50_ns is None


# -- trace_stats on a hand-made trace ------------------------------------------------------------------------


def test_latency_overall_by_direction_and_type(run_dir: Path) -> None:
    stats = trace_stats(run_dir)
    # Latencies 0, 50, 100, 200, 300 us.
    assert stats.latency.to_dict() == {
        "count": 5,
        "mean_ns": 130 * US,
        "min_ns": 0,
        "p50_ns": 100 * US,
        "p90_ns": 300 * US,
        "p99_ns": 300 * US,
        "max_ns": 300 * US,
    }
    assert (stats.matched, stats.unmatched_sends, stats.unmatched_receives) == (5, 1, 0)
    assert stats.messages_without_msg_id == 1
    by_direction = stats.latency_by_direction
    assert (by_direction["n0 -> n1"].count, by_direction["n0 -> n1"].max_ns) == (3, 300 * US)
    assert by_direction["n0 -> n1"].p50_ns == 100 * US
    assert by_direction["n1 -> n0"].to_dict()["p99_ns"] == 200 * US
    assert by_direction["n[2] -> n1"].max_ns == 50 * US
    assert by_direction["n1 -> n[2]"].count == 0
    assert {name: s.count for name, s in stats.latency_by_type.items()} == {"ping": 3, "pong": 1, "gossip": 1}


def test_nodes_links_and_rates(run_dir: Path) -> None:
    stats = trace_stats(run_dir)
    data = stats.to_dict()
    assert list(data["nodes"]) == ["n0", "n1", "n[2]", "idle"]
    n0 = data["nodes"]["n0"]
    assert (n0["messages_sent"], n0["messages_received"], n0["bytes_sent"]) == (4, 1, 400)
    assert n0["app"] == "echo"
    assert n0["active_s"] == pytest.approx(0.002)  # start at 1 ms, stop at 3 ms
    assert n0["per_s_active"]["messages_sent"] == pytest.approx(4 / 0.002)
    assert data["span_s"] == pytest.approx(0.002)
    assert n0["per_s_run"]["messages_received"] == pytest.approx(1 / 0.002)
    assert data["nodes"]["idle"]["active_s"] is None
    assert data["nodes"]["idle"]["per_s_active"]["messages_sent"] is None
    assert data["nodes"]["n1"]["errors"] == 1

    udp = data["links"]["n1 -- n[2]"]
    assert (udp["transport"], udp["in_topology"], udp["lost"]) == ("udp", True, 1)
    from_n2 = next(d for d in udp["directions"] if d["from"] == "n[2]")
    assert (from_n2["messages_sent"], from_n2["messages_received"], from_n2["lost"]) == (2, 1, 1)
    assert from_n2["latency"]["count"] == 1
    assert udp["active_s"] == pytest.approx(250 * US / 1e9)


def test_counts_agree_with_the_summary(run_dir: Path) -> None:
    stats, summary = trace_stats(run_dir), summarize_trace(run_dir)
    for name, node in summary.nodes.items():
        mine = stats.nodes[name]
        assert (mine.messages_sent, mine.messages_received, mine.bytes_sent, mine.bytes_received) == (
            node.messages_sent,
            node.messages_received,
            node.bytes_sent,
            node.bytes_received,
        )
        assert (mine.events, mine.errors) == (node.events, node.errors)
    assert list(stats.links) == list(summary.links)
    for key, link in summary.links.items():
        for theirs, mine in zip((link.a_to_b, link.b_to_a), stats.links[key].directions, strict=True):
            assert (mine.messages_sent, mine.messages_received, mine.lost) == (
                theirs.messages_sent,
                theirs.messages_received,
                theirs.lost,
            )
    assert stats.messages_without_peer == summary.messages_without_peer
    assert stats.events == summary.events


def test_app_round_trips(run_dir: Path) -> None:
    stats = trace_stats(run_dir)
    assert stats.app_rtt is not None
    assert (stats.app_rtt.count, stats.app_rtt.p50_ns, stats.app_rtt.max_ns) == (2, 400 * US, 600 * US)
    assert {node: s.count for node, s in stats.app_rtt_by_node.items()} == {"n0": 1, "n1": 1}
    no_rtt = [e for e in trace_events() if e["event"] != "app"]
    assert trace_stats(write_run(run_dir.parent / "r2", HEADER, no_rtt)).to_dict()["app_rtt"] is None


def test_message_types(run_dir: Path) -> None:
    types = trace_stats(run_dir).to_dict()["message_types"]
    assert types["ping"] == {
        "messages_sent": 4,
        "messages_received": 3,
        "bytes_sent": 400,
        "bytes_received": 300,
    }
    assert types["gossip"]["messages_sent"] == 2


def test_default_timeline_has_50_to_100_aligned_buckets(run_dir: Path) -> None:
    stats = trace_stats(run_dir)
    timeline = stats.timeline
    assert timeline is not None
    assert 50 <= timeline.buckets <= 100
    # Span 2 ms over at most 99 intervals: 20.2 us -> the next 1-2-2.5-5 width is 25 us.
    assert timeline.bucket_ns == 25 * US
    assert (timeline.origin_ts_ns - START) % timeline.bucket_ns == 0  # edges on round times into the run
    assert timeline.origin_ts_ns <= stats.first_ts_ns < timeline.origin_ts_ns + timeline.bucket_ns
    last_bucket_end = timeline.origin_ts_ns + timeline.buckets * timeline.bucket_ns
    assert last_bucket_end - timeline.bucket_ns <= stats.last_ts_ns < last_bucket_end
    for name, node in stats.nodes.items():
        assert sum(timeline.sent[name]) == node.messages_sent
        assert sum(timeline.received[name]) == node.messages_received
    data = stats.to_dict()["timeline"]
    assert data["origin_s"] == pytest.approx((timeline.origin_ts_ns - START) / 1e9)
    n0 = data["nodes"]["n0"]
    index = (START + 1_000 * US - timeline.origin_ts_ns) // timeline.bucket_ns
    assert n0["sent"][index] == 1
    assert n0["messages_per_s"][index] == pytest.approx(1 / 25e-6)
    nodes = stats.to_dict()["nodes"]
    assert sum(data["total"]) == sum(n["messages_sent"] + n["messages_received"] for n in nodes.values())


def test_explicit_bucket(run_dir: Path) -> None:
    timeline = trace_stats(run_dir, bucket_s=0.001).timeline
    assert timeline is not None
    assert (timeline.bucket_ns, timeline.origin_ts_ns - START, timeline.buckets) == (MS, MS, 3)
    assert timeline.sent["n0"] == [4, 0, 0]
    assert timeline.received["n1"] == [4, 0, 0]
    with pytest.raises(OptionError, match="more than 100,000 buckets"):
        trace_stats(run_dir, bucket_s=1e-9)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(OptionError, match="positive"):
            trace_stats(run_dir, bucket_s=bad)


@pytest.mark.parametrize("width_ns", [1, 7, 99, 101, 2_000, 2_001, 123_456_789])
def test_nice_width_gives_50_to_100_buckets(width_ns: int) -> None:
    span = width_ns * 99
    width = nice_width_ns(span)
    assert str(width).rstrip("0") in ("1", "2", "25", "5")
    assert 50 <= span // width + 1 <= 100


def test_timeline_when_the_end_of_the_file_is_unreadable(tmp_path: Path) -> None:
    # A last line longer than the 64 KiB peek, truncated: the default width must grow as the pass goes.
    events = [message("send", 1_000 + 10 * i, "n0", "n1", f"n0:{i}") for i in range(3_000)]
    run = write_run(tmp_path, HEADER, events, tail=b'{"ts_ns": 1, "junk": "' + b"x" * 100_000)
    stats = trace_stats(run)
    timeline = stats.timeline
    assert timeline is not None and stats.skipped_lines == 1
    assert 50 <= timeline.buckets <= 100
    assert sum(timeline.sent["n0"]) == 3_000


def test_unsorted_trace_keeps_a_bounded_timeline(tmp_path: Path) -> None:
    events = [message("send", ts, "n0", "n1", f"n0:{ts}") for ts in (5_000, 1_000, 9_000_000, 2_000)]
    stats = trace_stats(write_run(tmp_path, HEADER, events))
    assert stats.timeline is not None
    assert stats.timeline.buckets <= 100
    assert sum(stats.timeline.sent["n0"]) == 4
    assert (stats.first_ts_ns, stats.last_ts_ns) == (START + 1_000 * US, START + 9_000_000 * US)


def test_empty_trace(tmp_path: Path) -> None:
    stats = trace_stats(write_run(tmp_path, HEADER, []))
    data = stats.to_dict()
    assert (data["events"], data["timeline"], data["span_s"]) == (0, None, None)
    assert data["latency"]["overall"]["count"] == 0
    assert list(data["nodes"]) == ["n0", "n1", "n[2]", "idle"]


def test_malformed_lines_strict_and_lenient(tmp_path: Path) -> None:
    events = trace_events()
    run = write_run(tmp_path, HEADER, events[:3], tail=b"garbage\n" + orjson.dumps(events[3]) + b"\n")
    with pytest.raises(TraceFormatError) as raised:
        trace_stats(run)
    assert raised.value.line == 5
    stats = trace_stats(run, strict=False)
    assert (stats.events, stats.skipped_lines, stats.matched) == (4, 1, 1)


def test_to_dict_is_json(run_dir: Path) -> None:
    data = trace_stats(run_dir).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["latency"]["by_direction"]["n0 -> n1"]["count"] == 3
    # The report's copy leaves the per-link figures out, and only them.
    assert trace_stats(run_dir).to_dict(links=False) == {key: v for key, v in data.items() if key != "links"}


# -- real runs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_runs(simulate_module: Simulations) -> list[Path]:
    return [
        simulate_module("ring:4", app="echo", seed=1, duration=20).run_dir,
        simulate_module("ring:4", app="gossip", transport="udp", seed=2, duration=20).run_dir,
    ]


@pytest.mark.timeout(90)
def test_real_runs_agree_with_the_trace(real_runs: list[Path]) -> None:
    for run in real_runs:
        stats, summary = trace_stats(run), summarize_trace(run)
        events = [orjson.loads(line) for line in (run / "trace.jsonl").read_bytes().splitlines()[1:]]
        sends = {e["msg_id"]: e["ts_ns"] for e in events if e["event"] in ("send", "sendto")}
        latencies = sorted(
            e["ts_ns"] - sends[e["msg_id"]] for e in events if e["event"] in ("recv", "recvfrom")
        )
        assert stats.matched == len(latencies) == summary.totals()["messages_received"]
        assert stats.latency == LatencyStats.of(latencies)
        assert stats.latency.min_ns is not None and stats.latency.min_ns >= 0
        assert stats.unmatched_sends == summary.totals()["lost"]
        for name, node in summary.nodes.items():
            assert (stats.nodes[name].messages_sent, stats.nodes[name].messages_received) == (
                node.messages_sent,
                node.messages_received,
            )
        rtts = [e["data"]["rtt_ns"] for e in events if e["event"] == "app" and e["data"].get("kind") == "rtt"]
        assert (stats.app_rtt.count if stats.app_rtt else 0) == len(rtts)
        assert stats.timeline is not None and 50 <= stats.timeline.buckets <= 100


@pytest.mark.timeout(90)
def test_a_links_latency_is_in_the_one_way_latency(simulate: Simulations) -> None:
    # The send event is written when the link lets the message go; its delay event when the app sent it.
    run = simulate("line:2", app="echo", seed=1, duration=20, conditions={"latency": "50ms"}).run_dir
    stats = trace_stats(run)
    # netsim's own hellos are not shaped; every app message crossed the 50 ms link.
    app_latencies = [
        latency
        for name, of_type in stats.message_types.items()
        if not name.startswith("netsim.")
        for latency in of_type.latencies_ns
    ]
    assert app_latencies and min(app_latencies) >= 50_000_000
    # The echo app's own round trips cross the link twice.
    assert stats.app_rtt is not None and stats.app_rtt.p50_ns >= 100_000_000
    events = [orjson.loads(line) for line in (run / "trace.jsonl").read_bytes().splitlines()[1:]]
    delayed_at = {e["msg_id"]: e["ts_ns"] for e in events if e["event"] == "delay"}
    sent_at = {e["msg_id"]: e["ts_ns"] for e in events if e["event"] == "send"}
    latencies = sorted(
        e["ts_ns"] - delayed_at.get(e["msg_id"], sent_at[e["msg_id"]]) for e in events if e["event"] == "recv"
    )
    assert stats.latency == LatencyStats.of(latencies)


# -- netsim trace stats --------------------------------------------------------------------------------------

runner = CliRunner()


def make_app() -> typer.Typer:
    return trace_app


def test_long_node_names_wrap_and_every_figure_stays_whole_at_80_columns(tmp_path: Path) -> None:
    # Topology Zoo names: the direction column wraps, and the figures beside it keep their width.
    long = {"n0": "NCSA, University of Illinois, Champaign", "n1": "SEQSUINET, Rice University, Houston"}
    events = [
        {**event, "node": long.get(event["node"], event["node"]), "peer": long.get(event.get("peer"), "x")}
        for event in trace_events()
        if event["node"] in long and event["event"] in ("send", "recv")
    ]
    header = trace_header(list(long.values()), [[long["n0"], long["n1"], "tcp"]], start_ts_ns=START)
    run = write_run(tmp_path / "long", header, events)
    result = runner.invoke(make_app(), ["stats", str(run)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert all(len(line) <= 80 for line in lines if line[:1] in "┏┃┡│└")
    header_row = next(line for line in lines if "direction" in line and "transport" in line)
    assert [cell.strip() for cell in header_row.split("┃")[3:9]] == [
        "sent",
        "recv",
        "lost",
        "p50",
        "p99",
        "max",
    ]
    links = lines[next(index for index, line in enumerate(lines) if line.startswith("Links")) :]
    first = next(line for line in links if line.startswith("│ NCSA"))
    assert [cell.strip() for cell in first.split("│")[2:6]] == ["tcp", "4", "3", "1"]


def test_cli_prints_tables_on_stderr(run_dir: Path) -> None:
    result = runner.invoke(make_app(), ["stats", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    out = result.stderr
    for expected in ("Trace stats", "Nodes", "Links", "Latency", "Timeline", "n[2] -> n1", "type pong"):
        assert expected in out
    row = next(line for line in out.splitlines() if "all messages" in line)
    assert [cell.strip() for cell in row.split("│")[2:8]] == [
        "5",
        "130 µs",
        "100 µs",
        "300 µs",
        "300 µs",
        "300 µs",
    ]
    # The sparkline row of n0: blocks, one column per bucket.
    spark = next(line for line in out.splitlines() if line.startswith("│ n0 ") and "█" in line)
    assert set(spark.split("│")[2].strip()) <= set(trace_stats_cli.SPARK_BLOCKS + " ")


def test_cli_json_and_bucket(run_dir: Path) -> None:
    result = runner.invoke(make_app(), ["stats", str(run_dir / "trace.jsonl"), "--json", "--bucket", "0.001"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == trace_stats(run_dir, bucket_s=0.001).to_dict()
    assert json.loads(result.stdout)["timeline"]["buckets"] == 3


def test_cli_bad_input_is_one_error_line(run_dir: Path, tmp_path: Path) -> None:
    for args in (["stats", str(tmp_path / "nope")], ["stats", str(run_dir), "--bucket", "0"]):
        result = runner.invoke(make_app(), args)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert result.stderr.startswith("error: ")
        assert "Traceback" not in result.output


def test_cli_lenient(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", HEADER, trace_events()[:3], tail=b"oops\n")
    assert runner.invoke(make_app(), ["stats", str(run)]).exit_code == 2
    result = runner.invoke(make_app(), ["stats", str(run), "--lenient", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["skipped_lines"] == 1
    assert "skipped 1 malformed line" in result.stderr


def test_sparkline() -> None:
    assert trace_stats_cli.sparkline([0, 1, 4, 8], 8) == " ▁▄█"
    assert trace_stats_cli.sparkline([0, 1], 100) == " ▁"  # a little activity is never blank
    assert trace_stats_cli.sparkline([0, 0], 0) == "  "
    assert trace_stats_cli.format_ns(57_300) == "57.3 µs"
    assert trace_stats_cli.format_ns(1_240_000) == "1.24 ms"
    assert trace_stats_cli.format_ns(850) == "850 ns"


def test_cli_as_a_real_process(run_dir: Path) -> None:
    code = "from netsim.cli.trace import app\napp(prog_name='netsim trace')\n"
    ok = subprocess.run(
        [sys.executable, "-c", code, "stats", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["latency"]["matched"] == 5


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5_000), st.booleans()), max_size=60
    ),
    width_ns=st.integers(1, 700),
)
def test_sent_total_is_the_column_sum_of_the_dense_rows(
    counts: list[tuple[str, int, bool]], width_ns: int
) -> None:
    # The plot sums messages sent per bucket without building a row per node; the totals must not move.
    timeline = TimelineCounter(0, width_ns, fixed=True)
    for node, ts_ns, sent in counts:
        timeline.count(node, ts_ns, sent=sent)
    dense = timeline.result(sorted({*timeline.sent, *timeline.received}), 5_000)
    assert timeline.sent_total(5_000) == dense.total_sent()
    assert dense.total_sent() == [
        sum(row[index] for row in dense.sent.values()) for index in range(dense.buckets)
    ]
    assert sum(dense.total()) == len(counts)


def test_timeline_totals_take_short_rows_too() -> None:
    timeline = Timeline(bucket_ns=10, origin_ts_ns=0, buckets=3, sent={"a": [1, 2, 3], "b": [4]}, received={})
    assert timeline.total_sent() == [5, 2, 3]

"""export_sqlite and export_csv, checked with real SQL queries, and ``netsim trace export``."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from netsim_testing import Simulations
from typer.testing import CliRunner

from netsim.cli.trace import app as trace_app
from netsim.errors import InputError, TraceFormatError
from netsim.trace import SCHEMA, iter_events, summarize_trace
from netsim.trace.export import EVENT_COLUMNS, export_csv, export_sqlite, format_address
from netsim.trace.stats import trace_stats

START = 5_000_000_000

HEADER: dict[str, Any] = {
    "type": "header",
    "schema": SCHEMA,
    "run_id": "20261125-101500-export-3f2a",
    "netsim_version": "0.1.0",
    "topology": {
        "name": "mixed",
        "source": "topologies/mixed.gml",
        "nodes": ["n0", "n1", "n 2", "idle"],
        "links": [["n0", "n1", "tcp"], ["n1", "n 2", "udp6"]],
    },
    "node_apps": {"n0": "echo", "n1": "echo", "n 2": "gossip", "idle": "echo"},
    "app": "echo",
    "transport": "tcp",
    "seed": 7,
    "started_at": "2026-11-25T10:15:00.123456+00:00",
    "start_ts_ns": START,
    "clock": "CLOCK_MONOTONIC",
}

V4_A, V4_B = ["127.0.0.1", 40001], ["127.0.0.1", 51234]
V6_A, V6_B = ["::1", 40002, 0, 0], ["::1", 51235, 0, 0]


def trace_events() -> list[dict[str, Any]]:
    """tcp n0 <-> n1 (three messages), udp6 n1 <-> "n 2" (one of two lost), a unix bind, an app event,
    an error, and one event with a field the schema does not know."""
    tcp = {"transport": "tcp"}
    udp6 = {"transport": "udp6"}
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("n0", "bind", {"transport": "unix", "sockname": "/tmp/netsim-x/n0.sock", "role": "listener"}),
        ("n0", "connect", {**tcp, "sockname": V4_B, "peername": V4_A, "peer": "n1"}),
        ("n1", "accept", {**tcp, "sockname": V4_A, "peername": V4_B}),
        (
            "n0",
            "send",
            {**tcp, "sockname": V4_B, "peername": V4_A, "peer": "n1", "nbytes": 80, "msg_id": "n0:1"},
        ),
        (
            "n1",
            "recv",
            {**tcp, "sockname": V4_A, "peername": V4_B, "peer": "n0", "nbytes": 80, "msg_id": "n0:1"},
        ),
        ("n1", "send", {**tcp, "peer": "n0", "nbytes": 90, "msg_id": "n1:1", "in_reply_to": "n0:1"}),
        ("n0", "recv", {**tcp, "peer": "n1", "nbytes": 90, "msg_id": "n1:1", "in_reply_to": "n0:1"}),
        ("n0", "send", {**tcp, "peer": "n1", "nbytes": 70, "msg_id": "n0:2"}),
        ("n1", "recv", {**tcp, "peer": "n0", "nbytes": 70, "msg_id": "n0:2"}),
        (
            "n 2",
            "sendto",
            {**udp6, "sockname": V6_B, "peername": V6_A, "peer": "n1", "nbytes": 60, "msg_id": "n 2:1"},
        ),
        (
            "n 2",
            "sendto",
            {**udp6, "sockname": V6_B, "peername": V6_A, "peer": "n1", "nbytes": 60, "msg_id": "n 2:2"},
        ),
        (
            "n1",
            "recvfrom",
            {**udp6, "sockname": V6_A, "peername": V6_B, "peer": "n 2", "nbytes": 60, "msg_id": "n 2:2"},
        ),
        ("n0", "app", {"data": {"kind": "rtt", "peer": "n1", "rtt_ns": 81234}}),
        ("n1", "error", {**tcp, "error": "bad frame: invalid JSON at byte 0", "nbytes": 17}),
        ("n1", "close", {**tcp, "peer": "n0", "reason": "shutdown", "custom": {"why": "test"}}),
        ("n0", "stop", {"reason": "done"}),
    ]
    for index, (_node, kind, fields) in enumerate(rows):
        if kind in ("send", "sendto", "recv", "recvfrom"):
            fields.setdefault("msg_type", "ping")
            fields.setdefault("lamport", index)
    return [
        {"ts_ns": START + 1_000_000 + 100_000 * i, "node": node, "event": kind, **fields}
        for i, (node, kind, fields) in enumerate(rows)
    ]


def write_run(run_dir: Path, events: list[dict[str, Any]], *, tail: bytes = b"") -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [orjson.dumps(HEADER)] + [orjson.dumps(e) for e in events]
    (run_dir / "trace.jsonl").write_bytes(b"\n".join(lines) + b"\n" + tail)
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "runs" / "r1", trace_events())


@pytest.fixture
def db(run_dir: Path, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    export_sqlite(run_dir, tmp_path / "out" / "trace.sqlite")
    connection = sqlite3.connect(tmp_path / "out" / "trace.sqlite")
    yield connection
    connection.close()


# -- SQLite --------------------------------------------------------------------------------------------------


def test_sqlite_result_and_tables(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.sqlite"
    result = export_sqlite(run_dir, out)
    assert (result.format, result.paths, result.events, result.nodes, result.links) == (
        "sqlite",
        (out,),
        16,
        4,
        2,
    )
    assert result.bytes_written == out.stat().st_size > 0
    assert not list(tmp_path.glob(".*partial"))
    with sqlite3.connect(out) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"events", "nodes", "links", "meta"}
        columns = [row[1] for row in connection.execute("PRAGMA table_info(events)")]
        assert tuple(columns) == EVENT_COLUMNS
        indexed = {row[1] for row in connection.execute("PRAGMA index_list(events)")}
        assert indexed == {"events_node", "events_msg_id", "events_ts_ns"}

        def plan(where: str) -> str:
            query = f"EXPLAIN QUERY PLAN SELECT * FROM events WHERE {where}"
            return " ".join(str(row) for row in connection.execute(query))

        assert "events_msg_id" in plan("msg_id = 'x'")
        assert "events_node" in plan("node = 'n0' AND event = 'send'")
        assert "events_node" in plan("node = 'n0' AND peer = 'n1'")
        assert "events_ts_ns" in plan("ts_ns BETWEEN 1 AND 2")
    assert json.loads(json.dumps(result.to_dict()))["events"] == 16


def test_sends_per_node_match_the_summary(db: sqlite3.Connection, run_dir: Path) -> None:
    summary = summarize_trace(run_dir)
    sent = dict(
        db.execute("SELECT node, COUNT(*) FROM events WHERE event IN ('send', 'sendto') GROUP BY node")
    )
    received = dict(
        db.execute("SELECT node, SUM(nbytes) FROM events WHERE event IN ('recv', 'recvfrom') GROUP BY node")
    )
    for name, node in summary.nodes.items():
        assert sent.get(name, 0) == node.messages_sent
        assert (received.get(name) or 0) == node.bytes_received
    nodes = {row[0]: row for row in db.execute("SELECT name, app, events, messages_sent, errors FROM nodes")}
    assert nodes["n 2"] == ("n 2", "gossip", 2, 2, 0)
    assert nodes["idle"] == ("idle", "echo", 0, 0, 0)
    assert nodes["n1"][4] == 1


def test_join_on_msg_id_gives_the_stats_latencies(db: sqlite3.Connection, run_dir: Path) -> None:
    rows = db.execute(
        """SELECT s.node, r.node, r.ts_ns - s.ts_ns FROM events s
           JOIN events r ON r.msg_id = s.msg_id AND r.event IN ('recv', 'recvfrom')
           WHERE s.event IN ('send', 'sendto') ORDER BY s.id"""
    ).fetchall()
    assert rows == [
        ("n0", "n1", 100_000),
        ("n1", "n0", 100_000),
        ("n0", "n1", 100_000),
        ("n 2", "n1", 100_000),
    ]
    stats = trace_stats(run_dir)
    assert stats.matched == len(rows)
    assert stats.latency.max_ns == max(latency for _, _, latency in rows)
    lost = db.execute(
        """SELECT s.msg_id FROM events s LEFT JOIN events r ON r.msg_id = s.msg_id AND r.id != s.id
           WHERE s.event = 'sendto' AND r.id IS NULL"""
    ).fetchall()
    assert lost == [("n 2:1",)]


def test_links_table(db: sqlite3.Connection, run_dir: Path) -> None:
    links = {row[0]: row for row in db.execute("SELECT * FROM links")}
    summary = summarize_trace(run_dir)
    assert set(links) == set(summary.links)
    udp6 = links["n 2 -- n1"]
    assert udp6[1:5] == ("n 2", "n1", "udp6", 1)
    # a = "n 2": sent 2, received 1, lost 1; then b -> a: nothing.
    assert udp6[5:10] == (2, 1, 1, 120, 60)
    assert udp6[10:15] == (0, 0, 0, 0, 0)
    assert links["n0 -- n1"][5:8] == (2, 2, 0)


def test_event_columns(db: sqlite3.Connection) -> None:
    db.row_factory = sqlite3.Row
    rows = list(db.execute("SELECT * FROM events ORDER BY id"))
    assert [row["id"] for row in rows] == list(range(1, 17))
    bind, connect = rows[0], rows[1]
    assert (bind["sockname"], bind["peername"], bind["role"]) == ("/tmp/netsim-x/n0.sock", None, "listener")
    assert bind["t_s"] == pytest.approx(0.001)
    assert bind["ts_ns"] == START + 1_000_000
    assert (connect["sockname"], connect["peername"], connect["peer"]) == (
        "127.0.0.1:51234",
        "127.0.0.1:40001",
        "n1",
    )
    sendto = rows[9]
    assert (sendto["event"], sendto["sockname"], sendto["peername"]) == (
        "sendto",
        "[::1]:51235",
        "[::1]:40002",
    )
    assert (sendto["nbytes"], sendto["msg_id"], sendto["msg_type"], sendto["lamport"]) == (
        60,
        "n 2:1",
        "ping",
        9,
    )
    reply = rows[5]
    assert reply["in_reply_to"] == "n0:1"
    app = rows[12]
    assert json.loads(app["data"]) == {"kind": "rtt", "peer": "n1", "rtt_ns": 81234}
    assert rows[13]["error"] == "bad frame: invalid JSON at byte 0"
    close = rows[14]
    assert (close["reason"], json.loads(close["extra"])) == ("shutdown", {"custom": {"why": "test"}})
    assert all(row["extra"] is None for row in rows if row["id"] != 15)
    # JSON's data through SQLite's own JSON functions.
    assert (
        db.execute("SELECT json_extract(data, '$.rtt_ns') FROM events WHERE event = 'app'").fetchone()[0]
        == 81234
    )


def test_meta_holds_the_header(db: sqlite3.Connection) -> None:
    meta = dict(db.execute("SELECT key, value FROM meta"))
    assert meta["schema"] == SCHEMA
    assert meta["run_id"] == HEADER["run_id"]
    assert meta["seed"] == "7"
    assert json.loads(meta["topology"]) == HEADER["topology"]
    assert int(meta["start_ts_ns"]) == START


def test_refuses_to_overwrite_unless_asked(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.sqlite"
    out.write_text("precious")
    with pytest.raises(InputError, match="already exists") as raised:
        export_sqlite(run_dir, out)
    assert raised.value.hint and "--force" in raised.value.hint
    assert out.read_text() == "precious"
    export_sqlite(run_dir, out, overwrite=True)
    with sqlite3.connect(out) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (16,)


def test_a_fifo_or_a_symbolic_link_is_never_replaced(run_dir: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "real.sqlite"
    target.write_text("precious")
    link = tmp_path / "link.sqlite"
    link.symlink_to(target)
    for path in (fifo, link):
        with pytest.raises(InputError, match="is not a regular file"):
            export_sqlite(run_dir, path, overwrite=True)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and target.read_text() == "precious"


def test_a_failed_export_leaves_nothing(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", trace_events()[:5], tail=b"not json\n")
    out = tmp_path / "out" / "trace.sqlite"
    with pytest.raises(TraceFormatError):
        export_sqlite(run, out)
    assert not out.exists()
    assert list((tmp_path / "out").iterdir()) == []
    result = export_sqlite(run, out, strict=False)
    assert (result.events, result.skipped_lines) == (5, 1)


def test_unwritable_destination_is_an_input_error(run_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        export_sqlite(run_dir, blocker / "trace.sqlite")
    with pytest.raises(InputError, match="not a directory"):
        export_csv(run_dir, blocker)


def test_oversized_integer_is_an_input_error(tmp_path: Path) -> None:
    events = trace_events()[:2]
    events[1]["nbytes"] = 2**63 + 5  # fits orjson (u64), not SQLite (i64)
    with pytest.raises(InputError, match="cannot export"):
        export_sqlite(write_run(tmp_path / "r", events), tmp_path / "x.sqlite")


def test_leaves_sqlite3_adapters_as_it_found_them(run_dir: Path, tmp_path: Path) -> None:
    key = (type(None), sqlite3.PrepareProtocol)
    assert key not in sqlite3.adapters
    export_sqlite(run_dir, tmp_path / "a.sqlite")
    assert key not in sqlite3.adapters

    def users_adapter(value: None) -> str:
        return "none"

    sqlite3.register_adapter(type(None), users_adapter)
    try:
        export_sqlite(run_dir, tmp_path / "b.sqlite")
        assert sqlite3.adapters[key] is users_adapter
    finally:
        del sqlite3.adapters[key]
    with contextlib.closing(sqlite3.connect(tmp_path / "b.sqlite")) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events WHERE extra IS NULL").fetchone() == (15,)


def test_format_address() -> None:
    assert format_address(["127.0.0.1", 1]) == "127.0.0.1:1"
    assert format_address(["::1", 2, 0, 0]) == "[::1]:2"
    assert format_address("/tmp/a.sock") == "/tmp/a.sock"
    assert format_address("") == ""
    assert format_address(None) is None
    assert format_address({"odd": 1}) == '{"odd":1}'


# -- CSV -----------------------------------------------------------------------------------------------------


def test_csv_files(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    result = export_csv(run_dir, out)
    assert result.paths == (out / "events.csv", out / "nodes.csv", out / "links.csv")
    with open(out / "events.csv", newline="", encoding="utf-8") as file:
        cells = list(csv.reader(file))
    # Every row has every column, a message event's empty tail included.
    assert {len(row) for row in cells} == {len(EVENT_COLUMNS)}
    events = [dict(zip(cells[0], row, strict=True)) for row in cells[1:]]
    assert len(events) == result.events == 16
    assert tuple(events[0]) == EVENT_COLUMNS
    assert events[9]["sockname"] == "[::1]:51235"
    assert events[0]["peername"] == ""  # absent field, empty cell
    assert json.loads(events[12]["data"])["rtt_ns"] == 81234
    sent: dict[str, int] = {}
    for event in events:
        if event["event"] in ("send", "sendto"):
            sent[event["node"]] = sent.get(event["node"], 0) + 1
    assert sent == {
        name: n.messages_sent for name, n in summarize_trace(run_dir).nodes.items() if n.messages_sent
    }
    with open(out / "nodes.csv", newline="", encoding="utf-8") as file:
        nodes = {row["name"]: row for row in csv.DictReader(file)}
    assert list(nodes) == ["n0", "n1", "n 2", "idle"]
    assert nodes["n 2"]["messages_sent"] == "2"
    with open(out / "links.csv", newline="", encoding="utf-8") as file:
        links = {row["link"]: row for row in csv.DictReader(file)}
    assert links["n 2 -- n1"]["a_to_b_lost"] == "1"
    with pytest.raises(InputError, match="already exists"):
        export_csv(run_dir, out)
    assert export_csv(run_dir, out, overwrite=True).events == 16
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "links.csv", "nodes.csv"]


# -- a real run ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_real_run_export(tmp_path: Path, simulate: Simulations) -> None:
    run = simulate("ring:4", app="echo", transport="udp", seed=3, duration=20).run_dir
    summary = summarize_trace(run)
    result = export_sqlite(run, tmp_path / "run.sqlite")
    assert result.events == summary.events
    with sqlite3.connect(tmp_path / "run.sqlite") as connection:
        sent = dict(
            connection.execute("SELECT node, COUNT(*) FROM events WHERE event = 'sendto' GROUP BY node")
        )
        assert sent == {name: n.messages_sent for name, n in summary.nodes.items()}
        matched = connection.execute(
            """SELECT COUNT(*), MIN(r.ts_ns - s.ts_ns) FROM events s JOIN events r ON r.msg_id = s.msg_id
               WHERE s.event = 'sendto' AND r.event = 'recvfrom'"""
        ).fetchone()
        assert matched[0] == trace_stats(run).matched
        assert matched[1] >= 0
        stored = dict(connection.execute("SELECT name, messages_received FROM nodes"))
        assert stored == {name: n.messages_received for name, n in summary.nodes.items()}


def test_every_field_of_every_event_is_in_a_column_or_in_extra(tmp_path: Path, simulate: Simulations) -> None:
    # Delays, a kill and a restart: events with delay_ns, fault and reconnection attempts.
    run = simulate(
        "ring:4",
        app="gossip",
        seed=3,
        duration=3,
        conditions={"latency": "5ms"},
        faults=["0.3s kill n2", "0.6s restart n2"],
    ).run_dir
    export_sqlite(run, tmp_path / "run.sqlite")
    with sqlite3.connect(tmp_path / "run.sqlite") as connection:
        connection.row_factory = sqlite3.Row
        rows = list(connection.execute("SELECT * FROM events ORDER BY id"))
    events = [event for event in iter_events(run)]
    assert len(rows) == len(events)
    seen: set[str] = set()
    for row, event in zip(rows, events, strict=True):
        extra = json.loads(row["extra"]) if row["extra"] else {}
        for field, value in event.items():
            seen.add(field)
            if field in extra:
                assert extra[field] == value
            elif field == "data":
                assert json.loads(row["data"]) == value
            elif field in ("sockname", "peername"):
                assert row[field] == format_address(value)
            else:
                assert row[field] == value, (field, event)
    assert {"delay_ns", "fault"} <= seen


# -- netsim trace export -------------------------------------------------------------------------------------

runner = CliRunner()


def make_app() -> typer.Typer:
    return trace_app


def test_cli_sqlite_and_force(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.sqlite"
    result = runner.invoke(make_app(), ["export", str(run_dir), "--sqlite", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "wrote 16 events, 4 nodes and 2 links" in result.stderr and str(out) in result.stderr

    again = runner.invoke(make_app(), ["export", str(run_dir), "--sqlite", str(out)])
    assert again.exit_code == 2
    assert again.stderr.startswith(f"error: {out}: already exists")
    assert "--force" in again.stderr

    forced = runner.invoke(make_app(), ["export", str(run_dir), "--sqlite", str(out), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["events"] == 16


def test_cli_csv(run_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(make_app(), ["export", str(run_dir / "trace.jsonl"), "--csv", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "events.csv" in result.stderr
    assert (tmp_path / "c" / "links.csv").exists()


def test_cli_needs_exactly_one_format(run_dir: Path, tmp_path: Path) -> None:
    for extra in ([], ["--sqlite", str(tmp_path / "a"), "--csv", str(tmp_path / "b")]):
        result = runner.invoke(make_app(), ["export", str(run_dir), *extra])
        assert result.exit_code == 2
        assert result.stderr.startswith("error: pass exactly one of --sqlite FILE or --csv DIR")
        assert "Traceback" not in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_missing_trace(tmp_path: Path) -> None:
    result = runner.invoke(make_app(), ["export", str(tmp_path / "nope"), "--sqlite", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr
    assert not (tmp_path / "x").exists()


def test_cli_as_a_real_process(run_dir: Path, tmp_path: Path) -> None:
    code = "from netsim.cli.trace import app\napp(prog_name='netsim trace')\n"
    out = tmp_path / "p.sqlite"
    ok = subprocess.run(
        [sys.executable, "-c", code, "export", str(run_dir), "--sqlite", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    with sqlite3.connect(out) as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (16,)

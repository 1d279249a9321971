"""CSV export against formula injection: text cells a spreadsheet would run start with ', numbers do not,
and the SQLite export keeps every value exact. A hand-made trace and a real run, both with hostile names."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from netsim_testing import Simulations, trace_header, write_run

from netsim.trace.export import export_csv, export_sqlite

# One name per character a spreadsheet reads as the start of a formula (OWASP's list).
HOSTILE_NAMES = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
START = 2_000_000_000


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def hostile_trace(run_dir: Path) -> Path:
    """A ring of the hostile names (one named "=" app), a message on each link, and an event whose every
    text field, address and data starts like a formula; one event before start_ts_ns (negative t_s)."""
    names = HOSTILE_NAMES
    links = [[a, names[(index + 1) % len(names)], "tcp"] for index, a in enumerate(names)]
    header = trace_header(names, links, start_ts_ns=START)
    header["node_apps"][names[0]] = '=HYPERLINK("http://x")'
    events = [{"ts_ns": START - 500_000_000, "node": names[0], "event": "start"}]
    for index, (a, b, _transport) in enumerate(links):
        message = {"transport": "tcp", "nbytes": 40 + index, "msg_id": f"{a}:1", "msg_type": "-ping"}
        events.append({"ts_ns": START + 10 * index + 1, "node": a, "event": "send", "peer": b, **message})
        events.append({"ts_ns": START + 10 * index + 2, "node": b, "event": "recv", "peer": a, **message})
    events.append(
        {
            "ts_ns": START + 1_000,
            "node": names[1],
            "event": "error",
            "transport": "unix",
            "sockname": "@netsim/abstract",
            "peername": "=/tmp/evil.sock",
            "peer": names[2],
            "lamport": -3,
            "in_reply_to": "+in",
            "error": "=1+1",
            "reason": "@reason",
            "role": "-role",
            "data": -1,
            "unknown_field": "x",
        }
    )
    return write_run(run_dir, header, events)


def assert_neutralised(cell: str, original: str) -> None:
    assert cell == "'" + original, (cell, original)


def test_every_text_cell_that_starts_like_a_formula_gets_a_quote(tmp_path: Path) -> None:
    run_dir = hostile_trace(tmp_path / "run")
    export_csv(run_dir, tmp_path / "csv")

    nodes = read_csv(tmp_path / "csv" / "nodes.csv")
    assert [row["name"] for row in nodes] == ["'" + name for name in HOSTILE_NAMES]
    assert nodes[0]["app"] == '\'=HYPERLINK("http://x")'
    # Counts stay numbers: the sender of each ring message sent one, of 40 + index bytes.
    assert [row["messages_sent"] for row in nodes] == ["1"] * len(HOSTILE_NAMES)
    assert nodes[1]["bytes_sent"] == "41"

    links = read_csv(tmp_path / "csv" / "links.csv")
    assert links, "no links exported"
    for row in links:
        for column in ("link", "a", "b"):
            assert row[column][:1] == "'", (column, row)
        assert row["transport"] == "tcp"
        assert row["in_topology"] == "1"

    events = read_csv(tmp_path / "csv" / "events.csv")
    early = events[0]
    assert early["t_s"] == "-0.5"  # a negative number stays a number
    assert_neutralised(early["node"], HOSTILE_NAMES[0])
    for row in events[1:-1]:
        assert row["node"][:1] == row["peer"][:1] == row["msg_id"][:1] == "'", row
        assert_neutralised(row["msg_type"], "-ping")
        assert row["nbytes"].isdigit()
    error = events[-1]
    assert_neutralised(error["node"], HOSTILE_NAMES[1])
    assert_neutralised(error["peer"], HOSTILE_NAMES[2])
    assert_neutralised(error["sockname"], "@netsim/abstract")  # an AF_UNIX address is text too
    assert_neutralised(error["peername"], "=/tmp/evil.sock")
    assert_neutralised(error["in_reply_to"], "+in")
    assert_neutralised(error["error"], "=1+1")
    assert_neutralised(error["reason"], "@reason")
    assert_neutralised(error["role"], "-role")
    assert_neutralised(error["data"], "-1")  # JSON text, not a number column
    assert error["lamport"] == "-3"
    assert json.loads(error["extra"]) == {"unknown_field": "x"}
    assert error["event"] == "error" and error["transport"] == "unix"

    # The database is not a spreadsheet: its values stay exact.
    export_sqlite(run_dir, tmp_path / "trace.sqlite")
    with sqlite3.connect(tmp_path / "trace.sqlite") as connection:
        stored = [name for (name,) in connection.execute("SELECT name FROM nodes ORDER BY rowid")]
        error_row = connection.execute(
            "SELECT sockname, error, data, lamport FROM events WHERE event = 'error'"
        ).fetchone()
    assert stored == HOSTILE_NAMES
    assert error_row == ("@netsim/abstract", "=1+1", "-1", -3)


@pytest.mark.timeout(60)
def test_a_real_run_with_hostile_node_names_exports_safe_csv(tmp_path: Path, simulate: Simulations) -> None:
    topology = tmp_path / "hostile.json"
    names = HOSTILE_NAMES
    topology.write_text(
        json.dumps(
            {
                "directed": False,
                "multigraph": False,
                "graph": {"name": "hostile"},
                "nodes": [{"id": name} for name in names],
                "links": [{"source": a, "target": names[(i + 1) % len(names)]} for i, a in enumerate(names)],
            }
        ),
        encoding="utf-8",
    )
    result = simulate(str(topology), app="flood", seed=1)
    assert result.summary.exit_status == "ok", result.summary
    export_csv(result.run_dir, tmp_path / "csv")

    nodes = read_csv(tmp_path / "csv" / "nodes.csv")
    assert sorted(row["name"] for row in nodes) == sorted("'" + name for name in names)
    assert all(int(row["messages_sent"]) > 0 for row in nodes)
    links = read_csv(tmp_path / "csv" / "links.csv")
    assert len(links) == len(names)
    assert all(row[column][:1] == "'" for row in links for column in ("link", "a", "b"))
    events = read_csv(tmp_path / "csv" / "events.csv")
    assert {row["node"] for row in events} == {"'" + name for name in names}
    sends = [row for row in events if row["event"] == "send"]
    assert sends and all(row["peer"][:1] == "'" and row["msg_id"][:1] == "'" for row in sends)
    assert all(int(row["nbytes"]) > 0 and float(row["t_s"]) >= 0 for row in sends)

"""The two-process SQLite export (``netsim.trace.export.to_sqlite._SecondHalf``): the same database as one
process writes, whichever process fails, and no process, descriptor or partial file left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from netsim_testing import child_pids

from netsim.errors import InputError, TraceFormatError
from netsim.trace import SCHEMA
from netsim.trace.export import ExportResult, export_sqlite, to_sqlite
from netsim.trace.reader import TraceReader
from netsim.trace.traffic import TrafficCounter

pytestmark = pytest.mark.timeout(60)

START = 7_000_000_000
NODES = ["n0", "n1", "n2", "n3"]
HEADER: dict[str, Any] = {
    "type": "header",
    "schema": SCHEMA,
    "run_id": "pipeline",
    "topology": {"name": "square", "nodes": NODES, "links": [["n0", "n1", "tcp"], ["n2", "n3", "udp6"]]},
    "node_apps": dict.fromkeys(NODES, "echo"),
    "transport": "tcp",
    "start_ts_ns": START,
}


def trace_events(count: int) -> Iterator[dict[str, Any]]:
    """``count`` events: tcp and udp6 messages with addresses, app data, errors, a unix bind, and odd
    values a hand-edited trace may hold (an unknown field, a list where a string belongs, a bool port)."""
    for index in range(count):
        ts_ns = START + 1_000 * (index + 1)
        source, destination = NODES[index % 4], NODES[(index + 1) % 4]
        kind = index % 10
        if kind < 6:
            v6 = kind >= 3
            event = ("sendto" if v6 else "send") if kind % 3 == 0 else ("recvfrom" if v6 else "recv")
            record: dict[str, Any] = {
                "ts_ns": ts_ns,
                "node": source,
                "event": event,
                "transport": "udp6" if v6 else "tcp",
                "sockname": ["::1", 40_000 + index % 7, 0, 0] if v6 else ["127.0.0.1", 40_000 + index % 7],
                "peername": ["::1", 50_000, 0, 0] if v6 else ["127.0.0.1", 50_000],
                "peer": destination,
                "nbytes": 60 + index % 50,
                "msg_id": f"{source}:{index // 2}",
                "msg_type": "ping",
                "lamport": index,
            }
            if kind == 4:
                record["in_reply_to"] = f"{destination}:{index // 3}"
        elif kind == 6:
            record = {"ts_ns": ts_ns, "node": source, "event": "app", "data": {"rtt_ns": index, "x": [1.5]}}
        elif kind == 7:
            record = {"ts_ns": ts_ns, "node": source, "event": "error", "error": "bad frame", "nbytes": 3}
        elif kind == 8:
            record = {"ts_ns": ts_ns, "node": source, "event": "bind", "sockname": f"/tmp/{source}.sock"}
        elif index % 20 == 9:
            record = {"ts_ns": ts_ns, "node": source, "event": "close", "reason": "shutdown", "custom": [1]}
        else:
            record = {"ts_ns": ts_ns, "node": "n9", "event": "send", "peer": ["odd"], "sockname": ["h", True]}
        yield record


def write_trace(path: Path, count: int, *, replace: dict[int, bytes] | None = None) -> Path:
    """A trace of ``count`` events; ``replace`` maps a 1-based line number to the bytes put there."""
    lines = [orjson.dumps(HEADER)] + [orjson.dumps(event) for event in trace_events(count)]
    for line_no, raw in (replace or {}).items():
        lines[line_no - 1] = raw
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def typed_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows with each value's type, so that 1 and 1.0 (INTEGER and REAL) differ."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return {
            table: [
                tuple((type(value).__name__, value) for value in row)
                for row in connection.execute(f"SELECT * FROM {table} ORDER BY rowid")
            ]
            for table in ("events", "nodes", "links", "meta")
        }


def one_process_export(monkeypatch: pytest.MonkeyPatch, trace: Path, out: Path, **options: Any) -> Any:
    """Export in one process: what the two-process export must match. Returns the result or the error."""
    with monkeypatch.context() as patch:
        patch.setattr(to_sqlite, "SPLIT_MIN_BYTES", 1 << 62)
        try:
            return export_sqlite(trace, out, **options)
        except (InputError, OverflowError) as error:
            return error


def open_fds() -> set[str]:
    # Without the descriptor the listing itself used, which is closed by now.
    return {fd for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}")}


@pytest.fixture(autouse=True)
def reaps_its_children() -> Iterator[None]:
    """Fails a test that leaves a child process or a descriptor behind, after killing and reaping it."""
    children_before = child_pids()
    fds_before = open_fds()
    yield
    left = child_pids() - children_before
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    assert not left, f"child processes left behind: {left}"
    assert open_fds() - fds_before == set(), "file descriptors left open"


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every export takes the two-process path; the list collects the forked pids."""
    monkeypatch.setattr(to_sqlite, "SPLIT_MIN_BYTES", 0)
    forked: list[int] = []
    real_fork = os.fork

    def recording_fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    return forked


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL statements this process's export connections run."""
    ran: list[str] = []
    real_connect = sqlite3.connect

    def tracing_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)
        connection.set_trace_callback(ran.append)
        return connection

    monkeypatch.setattr(to_sqlite.sqlite3, "connect", tracing_connect)
    return ran


def copies_of_the_second_half(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.startswith("INSERT INTO events SELECT")]


def test_same_database_as_one_process(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = write_trace(tmp_path / "run" / "trace.jsonl", 2_000)
    result = export_sqlite(trace, tmp_path / "two.sqlite")
    assert len(forks) == 1
    expected = one_process_export(monkeypatch, trace, tmp_path / "one.sqlite")
    assert isinstance(expected, ExportResult)
    assert (result.events, result.nodes, result.links, result.skipped_lines) == (2_000, 5, 4, 0)
    assert (result.events, result.nodes, result.links) == (expected.events, expected.nodes, expected.links)
    assert typed_rows(tmp_path / "two.sqlite") == typed_rows(tmp_path / "one.sqlite")
    with contextlib.closing(sqlite3.connect(tmp_path / "two.sqlite")) as connection:
        indexes = {row[1] for row in connection.execute("PRAGMA index_list(events)")}
        assert indexes == {f"events_{column}" for column in to_sqlite.INDEX_COLUMNS}
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = [row[0] for row in connection.execute("SELECT id FROM events ORDER BY id")]
        assert ids == list(range(1, 2_001))
        odd = connection.execute("SELECT peer, sockname FROM events WHERE node = 'n9' LIMIT 1").fetchone()
        assert odd == ('["odd"]', "h:True")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one.sqlite", "run", "two.sqlite"]


def test_second_half_brings_new_nodes_and_links(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No start_ts_ns in the header, so t_s counts from the first event in both halves; node "late" and
    # the links it uses (one outside the topology) appear only in the second half.
    header = {key: value for key, value in HEADER.items() if key != "start_ts_ns"}
    events = list(trace_events(400))
    last_ts = events[-1]["ts_ns"]
    events += [
        {
            "ts_ns": last_ts + 1,
            "node": "late",
            "event": "send",
            "peer": "n0",
            "transport": "unix",
            "nbytes": 9,
        },
        {
            "ts_ns": last_ts + 2,
            "node": "n0",
            "event": "recv",
            "peer": "late",
            "transport": "unix",
            "nbytes": 9,
        },
        {"ts_ns": last_ts + 3, "node": "n2", "event": "send", "peer": "n3", "nbytes": 4},
    ]
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in [header, *events]))
    result = export_sqlite(trace, tmp_path / "two.sqlite")
    assert len(forks) == 1
    one_process_export(monkeypatch, trace, tmp_path / "one.sqlite")
    assert typed_rows(tmp_path / "two.sqlite") == typed_rows(tmp_path / "one.sqlite")
    assert result.nodes == 6
    with contextlib.closing(sqlite3.connect(tmp_path / "two.sqlite")) as connection:
        late = connection.execute(
            "SELECT transport, in_topology FROM links WHERE link = 'late -- n0'"
        ).fetchone()
        assert late == ("unix", 0)
        first_t = connection.execute("SELECT t_s FROM events WHERE id = 1").fetchone()
        assert first_t == (0.0,)


def test_malformed_line_in_the_second_half(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = write_trace(tmp_path / "run" / "trace.jsonl", 3_000, replace={2_502: b'{"ts_ns": 1, "node":'})
    out_dir = tmp_path / "out"
    with pytest.raises(TraceFormatError) as raised:
        export_sqlite(trace, out_dir / "trace.sqlite")
    assert len(forks) == 1
    error = raised.value
    assert (error.path, error.line) == (str(trace), 2_502)
    assert str(error).startswith(f"{trace}:2502: invalid JSON")
    assert error.hint and "strict=False" in error.hint
    assert list(out_dir.iterdir()) == []  # no partial database, under any name
    # Exactly what the one-process export raises.
    expected = one_process_export(monkeypatch, trace, out_dir / "trace.sqlite")
    assert type(expected) is TraceFormatError
    assert (str(expected), expected.line, expected.hint) == (str(error), error.line, error.hint)


def test_malformed_line_in_the_first_half_stops_the_child(tmp_path: Path, forks: list[int]) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", 30_000, replace={3: b"not json"})
    with pytest.raises(TraceFormatError) as raised:
        export_sqlite(trace, tmp_path / "out" / "trace.sqlite")
    assert raised.value.line == 3
    assert len(forks) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_second_half_numbered_on_is_copied_as_stored(
    tmp_path: Path, forks: list[int], statements: list[str]
) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", 1_000)
    export_sqlite(trace, tmp_path / "two.sqlite")
    assert len(forks) == 1
    # No expression and no ORDER BY, so that SQLite copies the rows without decoding them.
    assert copies_of_the_second_half(statements) == ["INSERT INTO events SELECT * FROM half.events"]
    with contextlib.closing(sqlite3.connect(tmp_path / "two.sqlite")) as connection:
        ids = [row[0] for row in connection.execute("SELECT id FROM events ORDER BY id")]
    assert ids == list(range(1, 1_001))


def test_lenient_skips_the_same_lines(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch, statements: list[str]
) -> None:
    replace = {10: b"[1, 2]", 700: b"not json", 900: b'{"ts_ns": "x"}'}
    trace = write_trace(tmp_path / "trace.jsonl", 1_000, replace=replace)
    result = export_sqlite(trace, tmp_path / "two.sqlite", strict=False)
    assert len(forks) == 1
    # Line 10 skipped in the first half: the child's ids are one too high, and are shifted back.
    (copy,) = copies_of_the_second_half(statements)
    assert copy.startswith("INSERT INTO events SELECT id + -1, ts_ns, ")
    expected = one_process_export(monkeypatch, trace, tmp_path / "one.sqlite", strict=False)
    assert (result.events, result.skipped_lines) == (997, 3) == (expected.events, expected.skipped_lines)
    assert typed_rows(tmp_path / "two.sqlite") == typed_rows(tmp_path / "one.sqlite")


@pytest.mark.parametrize("how", ["killed", "raises"])
def test_a_failed_child_costs_time_not_rows(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    def killed(*args: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def raises(*args: Any) -> None:
        raise ZeroDivisionError("in the child")

    trace = write_trace(tmp_path / "trace.jsonl", 2_000)
    expected = one_process_export(monkeypatch, trace, tmp_path / "one.sqlite")
    monkeypatch.setattr(to_sqlite, "_export_half", killed if how == "killed" else raises)
    result = export_sqlite(trace, tmp_path / "out" / "two.sqlite")
    assert len(forks) == 1
    assert (result.events, result.nodes, result.links) == (expected.events, expected.nodes, expected.links)
    assert typed_rows(tmp_path / "out" / "two.sqlite") == typed_rows(tmp_path / "one.sqlite")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["two.sqlite"]


def test_writer_error_stops_the_child(tmp_path: Path, forks: list[int]) -> None:
    lines = {5: orjson.dumps({"ts_ns": START, "node": "n0", "event": "send", "nbytes": 2**63 + 5})}
    trace = write_trace(tmp_path / "trace.jsonl", 30_000, replace=lines)
    with pytest.raises(InputError, match="cannot export"):
        export_sqlite(trace, tmp_path / "out" / "trace.sqlite")
    assert len(forks) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_interrupted_export_stops_the_child(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", 30_000)
    insert = to_sqlite._insert_events

    def interrupted(connection: Any, rows: Any) -> int:
        if os.getpid() == parent:
            raise KeyboardInterrupt
        return insert(connection, rows)

    parent = os.getpid()
    monkeypatch.setattr(to_sqlite, "_insert_events", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_sqlite(trace, tmp_path / "out" / "trace.sqlite")
    assert len(forks) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_one_process_while_threads_run(tmp_path: Path, forks: list[int]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        result = export_sqlite(write_trace(tmp_path / "trace.jsonl", 500), tmp_path / "t.sqlite")
    finally:
        stop.set()
        thread.join()
    assert forks == []
    assert result.events == 500


def test_one_process_when_fork_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(to_sqlite, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(os, "fork", no_fork)
    result = export_sqlite(write_trace(tmp_path / "trace.jsonl", 500), tmp_path / "t.sqlite")
    assert result.events == 500


# -- the pieces: reading a byte range, and merging counters -----------------------------------------


def test_sections_read_what_the_whole_file_holds(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", 1_000)
    with TraceReader(trace) as reader:
        whole = list(reader)
        size = trace.stat().st_size
        for offset in (0, 1, size // 3, size // 2, size - 1, size):
            split = reader.line_start(offset)
            assert split == size or trace.read_bytes()[split - 1 : split] == b"\n"
            assert list(reader.events(end=split)) + list(reader.events(split)) == whole
        assert reader.line_start(0) == len(trace.read_bytes().split(b"\n", 1)[0]) + 1


def test_a_section_names_lines_in_the_whole_file(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", 1_000, replace={801: b"oops"})
    with TraceReader(trace) as reader:
        split = reader.line_start(trace.stat().st_size // 2)
        first_line_of_second = trace.read_bytes()[:split].count(b"\n") + 1
        assert first_line_of_second < 801
        with pytest.raises(TraceFormatError) as raised:
            list(reader.events(split))
        assert raised.value.line == 801
        assert len(list(reader.events(end=split))) == first_line_of_second - 2


def test_line_number_counts_the_lines_before_an_offset(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", 1_000)
    data = trace.read_bytes()
    with TraceReader(trace) as reader:
        for offset in (0, reader.line_start(0), reader.line_start(len(data) // 2), len(data)):
            assert reader.line_number(offset) == data[:offset].count(b"\n") + 1
        assert reader.line_number(reader.line_start(0)) == 2


def test_merged_counter_equals_one_counter(tmp_path: Path) -> None:
    events = list(trace_events(3_000))
    events.append({"ts_ns": START, "node": "early", "event": "send", "peer": "n1", "nbytes": 1})
    whole = TrafficCounter(HEADER)
    for event in events:
        whole.add(event)
    first, second = TrafficCounter(HEADER), TrafficCounter(HEADER)
    for event in events[:1_234]:
        first.add(event)
    for event in events[1_234:]:
        second.add(event)
    first.merge(orjson.loads(orjson.dumps(second.state())))
    assert first.state() == whole.state()
    assert list(first.nodes) == list(whole.nodes)
    assert list(first.links) == list(whole.links)

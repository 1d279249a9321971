"""The trace reader's policy on good and malformed traces, resolve_trace_path, and the merge of parts."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netsim_testing import trace_header

import netsim.trace.merge as merge_module
import netsim.trace.reader as reader_module
from netsim.errors import InputError, TraceFormatError
from netsim.trace import (
    SCHEMA,
    TraceReader,
    iter_events,
    merge_node_traces,
    read_header,
    resolve_trace_path,
)

HEADER = trace_header(
    ["n0", "n1"],
    [["n0", "n1", "tcp"]],
    name="pair",
    source="gen:line:2",
    app="flood",
    run_id="20261125-101500-flood-3f2a",
    started_at="2026-11-25T10:15:00.123456+00:00",
    start_ts_ns=1_000_000_000,
)


def event(ts_ns: int, node: str = "n0", kind: str = "start", **fields: Any) -> dict[str, Any]:
    return {"ts_ns": ts_ns, "node": node, "event": kind, **fields}


def line(record: Any) -> bytes:
    return orjson.dumps(record) + b"\n"


def write_trace(path: Path, events: list[Any], *, header: Any = HEADER, tail: bytes = b"") -> Path:
    """A trace file: header, one line per event (dicts are dumped, bytes written as they are), then tail."""
    body = b"".join(item if isinstance(item, bytes) else line(item) for item in events)
    path.write_bytes(line(header) + body + tail)
    return path


EVENTS = [
    event(1_000_000_100, "n0", "start"),
    event(1_000_000_200, "n0", "send", transport="tcp", peer="n1", nbytes=83, msg_id="n0:1", lamport=1),
    event(1_000_000_300, "n1", "recv", transport="tcp", peer="n0", nbytes=83, msg_id="n0:1", lamport=2),
]


# -- happy path ------------------------------------------------------------------------------------------


def test_reader_yields_header_and_events(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", EVENTS)
    with TraceReader(path) as reader:
        assert reader.header == HEADER
        assert list(reader) == EVENTS
        assert reader.skipped_lines == []
        assert reader.skipped_count == 0
    assert reader.closed


def test_reader_iterates_again_from_the_start(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", EVENTS)
    with TraceReader(path) as reader:
        assert list(reader) == EVENTS
        assert list(reader) == EVENTS


def test_reader_is_lazy(tmp_path: Path) -> None:
    # The line after the first event is broken: getting the first event must not read that far.
    path = write_trace(tmp_path / "trace.jsonl", [EVENTS[0], b"not json\n"])
    with TraceReader(path) as reader:
        events = iter(reader)
        assert next(events) == EVENTS[0]
        with pytest.raises(TraceFormatError):
            next(events)


def test_closed_reader_refuses_to_iterate(tmp_path: Path) -> None:
    reader = TraceReader(write_trace(tmp_path / "trace.jsonl", EVENTS))
    reader.close()
    with pytest.raises(ValueError):
        iter(reader)


def test_closing_the_reader_stops_its_iterations(tmp_path: Path) -> None:
    with TraceReader(write_trace(tmp_path / "trace.jsonl", EVENTS)) as reader:
        events = iter(reader)
        assert next(events) == EVENTS[0]
    assert list(events) == []


def test_two_iterations_at_once_are_independent(tmp_path: Path) -> None:
    with TraceReader(write_trace(tmp_path / "trace.jsonl", EVENTS)) as reader:
        pairs = list(zip(reader, reader, strict=True))
    assert pairs == [(e, e) for e in EVENTS]


def test_a_trace_replaced_after_its_header_was_read_is_refused(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", EVENTS)
    reader = TraceReader(path)
    write_trace(path, EVENTS, header={**HEADER, "run_id": "another"})
    with pytest.raises(TraceFormatError, match="changed"):
        list(reader)


def test_unicode_node_names_and_header_only(tmp_path: Path) -> None:
    odd = event(5, "nœud 1 — 東京", "start")
    assert list(TraceReader(write_trace(tmp_path / "a.jsonl", [odd]))) == [odd]
    assert list(TraceReader(write_trace(tmp_path / "b.jsonl", []))) == []


def test_complete_last_line_without_newline_is_an_event(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", EVENTS[:2], tail=orjson.dumps(EVENTS[2]))
    reader = TraceReader(path)
    assert list(reader) == EVENTS
    assert reader.skipped_count == 0


def test_iter_events_and_read_header_take_a_run_directory(tmp_path: Path) -> None:
    write_trace(tmp_path / "trace.jsonl", EVENTS)
    assert list(iter_events(tmp_path)) == EVENTS
    assert list(iter_events(str(tmp_path / "trace.jsonl"))) == EVENTS
    assert read_header(tmp_path) == HEADER


# -- malformed lines -------------------------------------------------------------------------------------


def test_truncated_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", EVENTS, tail=b'{"ts_ns":1000000400,"node":"n0","ev')
    for strict in (True, False):
        reader = TraceReader(path, strict=strict)
        assert list(reader) == EVENTS
        assert reader.skipped_count == 1
        [(line_no, reason)] = reader.skipped_lines
        assert line_no == 5
        assert "truncated last line" in reason


def test_invalid_line_in_the_middle_raises_with_its_line_number(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", [EVENTS[0], b'{"ts_ns": 1, "node"\n', EVENTS[1]])
    with pytest.raises(TraceFormatError) as raised:
        list(TraceReader(path))
    assert raised.value.line == 3
    assert raised.value.path == str(path)
    assert str(raised.value).startswith(f"{path}:3: invalid JSON")
    assert raised.value.hint and "strict=False" in raised.value.hint


def test_truncated_line_followed_by_more_lines_is_not_a_crashed_writer(tmp_path: Path) -> None:
    # A line cut short in the middle of the file has lost data for good: that is an error, not a skip.
    path = write_trace(tmp_path / "trace.jsonl", [EVENTS[0], b'{"ts_ns":1000000150,"no\n', EVENTS[1]])
    with pytest.raises(TraceFormatError) as raised:
        list(TraceReader(path))
    assert raised.value.line == 3


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        (b"[1, 2]\n", "expected a JSON object, found list"),
        (b'"text"\n', "expected a JSON object, found str"),
        (b"\n", "invalid JSON"),
        (line({"node": "n0", "event": "start"}), "missing field 'ts_ns'"),
        (line({"ts_ns": "12", "node": "n0", "event": "start"}), "non-integer field 'ts_ns'"),
        (line({"ts_ns": True, "node": "n0", "event": "start"}), "non-integer field 'ts_ns'"),
        (line({"ts_ns": 12, "event": "start"}), "missing field 'node'"),
        (line({"ts_ns": 12, "node": 7, "event": "start"}), "field 'node' must be a string"),
        (line({"ts_ns": 12, "node": "n0"}), "missing field 'event'"),
    ],
)
def test_malformed_line_raises_when_strict_and_is_skipped_when_not(
    tmp_path: Path, bad_line: bytes, problem: str
) -> None:
    path = write_trace(tmp_path / "trace.jsonl", [EVENTS[0], bad_line, EVENTS[1]])
    with pytest.raises(TraceFormatError) as raised:
        list(TraceReader(path))
    assert raised.value.line == 3
    assert problem in raised.value.problem

    lenient = TraceReader(path, strict=False)
    assert list(lenient) == EVENTS[:2]
    assert lenient.skipped_count == 1
    assert lenient.skipped_lines[0][0] == 3
    assert problem in lenient.skipped_lines[0][1]


def test_lenient_reader_counts_every_skip(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", [b"x\n", EVENTS[0], b"[]\n", b"{}\n"], tail=b"{")
    reader = TraceReader(path, strict=False)
    assert list(reader) == [EVENTS[0]]
    assert [line_no for line_no, _ in reader.skipped_lines] == [2, 4, 5, 6]


def _skips_before_each(reader: TraceReader) -> list[tuple[dict[str, Any], int]]:
    """Each event with the number of lines the reader had skipped before it, read one at a time."""
    return [(record, reader.skipped_count) for record in reader]


MALFORMED_LINES = [b"x\n", b"[]\n", b"{}\n", line({"ts_ns": True, "node": "n0", "event": "start"})]


@pytest.mark.parametrize("size", [1, 2, 3, 250])
@pytest.mark.parametrize(
    "lines",
    [
        EVENTS,
        [b"x\n", EVENTS[0], b"[]\n", b"{}\n", EVENTS[1], EVENTS[2]],
        [EVENTS[0], *MALFORMED_LINES, EVENTS[1], EVENTS[2], line({"ts_ns": 5, "node": "n0"}), EVENTS[0]],
        [*EVENTS, line({"ts_ns": 12, "node": 7, "event": "start"})],
    ],
)
def test_batches_hold_the_events_iterating_reads_and_end_at_each_skip(
    tmp_path: Path, lines: list[Any], size: int
) -> None:
    # A list of valid events is checked in C as a whole; any other is read again line by line.
    path = write_trace(tmp_path / "trace.jsonl", lines, tail=b'{"ts_ns":1000000400,"node":"n0","ev')
    expected = _skips_before_each(TraceReader(path, strict=False))
    reader = TraceReader(path, strict=False)
    batches = list(reader.batches(size))
    assert [(record, skipped) for batch, skipped in batches for record in batch] == expected
    assert all(0 < len(batch) <= size for batch, _ in batches)
    iterated = TraceReader(path, strict=False)
    list(iterated)
    assert (reader.skipped_count, reader.skipped_lines) == (iterated.skipped_count, iterated.skipped_lines)
    if iterated.skipped_count > 1:  # the truncated last line is skipped in strict mode too
        with pytest.raises(TraceFormatError) as raised:
            list(TraceReader(path).batches(size))
        with pytest.raises(TraceFormatError) as raised_iterating:
            list(TraceReader(path))
        assert str(raised.value) == str(raised_iterating.value)


NODE_LINES = [
    event(1_000_000_100, "n0"),
    event(1_000_000_110, "n1"),
    b'{"ts_ns":1000000120,"node":"n\\u0031","event":"start"}\n',  # n1, spelled with an escape
    b'{"node":"n1","ts_ns":1000000130,"event":"start"}\n',  # node first
    b'{"ts_ns":1000000140,"node":"n0","event":"start","node":"n1"}\n',  # the last "node" counts
    event(1_000_000_150, "n2", "app", data={"text": "a \\ backslash"}),
    event(1_000_000_160, "n0", "app", data={"node": "n1"}),
    event(1_000_000_170, "node"),
    event(1_000_000_180, "n1", "app", data={"text": "n1"}),
    event(1_000_000_190, "n2"),
    event(1_000_000_200, "n1"),
]


@pytest.mark.parametrize("block_lines", [1, 2, 3, 1000])
def test_events_of_some_nodes_are_every_event_of_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_lines: int
) -> None:
    # Lines whose bytes do not show their node for certain are parsed; blocks of lines in netsim's own
    # shape have their nodes read at once.
    monkeypatch.setattr(reader_module, "NODE_BLOCK_LINES", block_lines)
    path = write_trace(tmp_path / "trace.jsonl", [*NODE_LINES, *EVENTS * 3], tail=b'{"ts_ns":1,"no')
    everything = list(TraceReader(path))
    for nodes in ({"n1"}, {"n0", "node"}, {"n2"}, set()):
        reader = TraceReader(path)
        theirs = [record for record in everything if record["node"] in nodes]
        assert list(reader.events(nodes=nodes)) == theirs
        assert reader.skipped_lines == [(len(NODE_LINES) + 3 * len(EVENTS) + 2, reader.skipped_lines[0][1])]
    # A bad line of a wanted node is read, and named by its line, in a block of netsim's shape or not.
    bad = write_trace(tmp_path / "bad.jsonl", [*EVENTS * 3, b'{"ts_ns":5,"node":"n1"}\n', *EVENTS])
    with pytest.raises(TraceFormatError, match="missing field 'event'") as raised:
        list(TraceReader(bad).events(nodes={"n1"}))
    assert raised.value.line == 3 * len(EVENTS) + 2
    assert list(TraceReader(bad).events(nodes={"n0"})) == [e for e in EVENTS * 4 if e["node"] == "n0"]


def test_wrong_schema_names_found_and_expected(tmp_path: Path) -> None:
    path = write_trace(tmp_path / "trace.jsonl", EVENTS, header={**HEADER, "schema": "netsim-trace/2"})
    with pytest.raises(TraceFormatError) as raised:
        TraceReader(path)
    assert raised.value.line == 1
    assert "netsim-trace/2" in str(raised.value)
    assert SCHEMA in str(raised.value)


@pytest.mark.parametrize(
    "first_line",
    [b"hello world\n", b"\x89PNG\r\n", b'{"ts_ns": 1, "node": "n0", "event": "start"}\n', b"[1]\n"],
)
def test_first_line_must_be_a_header(tmp_path: Path, first_line: bytes) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_bytes(first_line + line(EVENTS[0]))
    with pytest.raises(TraceFormatError) as raised:
        TraceReader(path)
    assert raised.value.line == 1
    assert raised.value.problem.startswith("not a netsim trace")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"")
    with pytest.raises(TraceFormatError, match="empty"):
        TraceReader(path)


def test_unreadable_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open trace"):
        TraceReader(tmp_path / "missing.jsonl")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.binary(max_size=40), max_size=6), tail=st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_trace_format_error(
    tmp_path: Path, lines: list[bytes], tail: bytes
) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(line(HEADER) + b"".join(chunk.replace(b"\n", b"") + b"\n" for chunk in lines) + tail)
    with contextlib.suppress(TraceFormatError), TraceReader(path) as strict:
        list(strict)
    with TraceReader(path, strict=False) as lenient:
        events = list(lenient)  # never raises
    assert len(events) + lenient.skipped_count <= len(lines) + len(tail.split(b"\n"))


# -- resolve_trace_path ----------------------------------------------------------------------------------


def test_resolve_run_directory_and_file(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.jsonl", EVENTS)
    assert resolve_trace_path(tmp_path) == trace
    assert resolve_trace_path(str(tmp_path)) == trace
    assert resolve_trace_path(trace) == trace
    other = write_trace(tmp_path / "copy.jsonl", EVENTS)
    assert resolve_trace_path(other) == other


def test_resolve_missing_path_and_directory_without_trace(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        resolve_trace_path(tmp_path / "runs" / "nope")
    assert "no such file or directory" in str(raised.value)
    assert raised.value.hint and "runs/<run-id>" in raised.value.hint

    with pytest.raises(InputError) as raised:
        resolve_trace_path(tmp_path)
    assert "no trace.jsonl" in str(raised.value)
    assert raised.value.hint and "trace.jsonl file" in raised.value.hint


# -- merge_node_traces -----------------------------------------------------------------------------------


def write_part(path: Path, records: list[Any], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else line(r) for r in records) + tail)
    return path


def test_merge_interleaves_parts_by_ts_and_copies_lines_verbatim(tmp_path: Path) -> None:
    # Key order and spacing that orjson would not produce, to show lines are copied, not re-encoded.
    verbatim = b'{"node": "n\xc5\x93ud", "event": "start",  "ts_ns": 25}\n'
    part_a = write_part(tmp_path / "a.jsonl", [event(10, "a"), event(30, "a"), event(50, "a", "stop")])
    part_b = write_part(tmp_path / "b.jsonl", [event(20, "b"), verbatim, event(40, "b"), event(60, "b")])
    part_c = write_part(tmp_path / "c.jsonl", [])
    out = tmp_path / "trace.jsonl"

    assert merge_node_traces([part_a, part_b, part_c], HEADER, out) == 7

    raw_lines = out.read_bytes().splitlines(keepends=True)
    assert orjson.loads(raw_lines[0]) == HEADER
    assert verbatim in raw_lines
    with TraceReader(out) as reader:
        assert [e["ts_ns"] for e in reader] == [10, 20, 25, 30, 40, 50, 60]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "c.jsonl", "trace.jsonl"]


def test_merge_is_stable_for_equal_timestamps(tmp_path: Path) -> None:
    part_a = write_part(tmp_path / "a.jsonl", [event(5, "a", "start"), event(5, "a", "app")])
    part_b = write_part(tmp_path / "b.jsonl", [event(5, "b", "start"), event(5, "b", "app")])
    out = tmp_path / "trace.jsonl"
    merge_node_traces([part_b, part_a], HEADER, out)
    assert [(e["node"], e["event"]) for e in iter_events(out)] == [
        ("b", "start"),
        ("b", "app"),
        ("a", "start"),
        ("a", "app"),
    ]


def test_merge_skips_a_parts_truncated_last_line(tmp_path: Path) -> None:
    part_a = write_part(tmp_path / "a.jsonl", [event(1, "a"), event(3, "a")], tail=b'{"ts_ns": 4, "no')
    part_b = write_part(tmp_path / "b.jsonl", [event(2, "b")], tail=orjson.dumps(event(9, "b", "stop")))
    out = tmp_path / "trace.jsonl"
    skipped: list[tuple[Path, int, str]] = []

    assert merge_node_traces([part_a, part_b], HEADER, out, skipped=skipped) == 4

    assert [(part, line_no) for part, line_no, _ in skipped] == [(part_a, 3)]
    # b's complete last line had no newline; the merge adds it.
    assert out.read_bytes().endswith(line(event(9, "b", "stop")))
    reader = TraceReader(out)
    assert [e["ts_ns"] for e in reader] == [1, 2, 3, 9]
    assert reader.skipped_count == 0


def test_merge_rejects_a_broken_or_unsorted_part_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    broken = write_part(tmp_path / "broken.jsonl", [event(1), b"oops\n", event(2)])
    with pytest.raises(TraceFormatError) as raised:
        merge_node_traces([broken], HEADER, out)
    assert (raised.value.path, raised.value.line) == (str(broken), 2)

    unsorted = write_part(tmp_path / "unsorted.jsonl", [event(5), event(4)])
    with pytest.raises(TraceFormatError, match="earlier than the event before"):
        merge_node_traces([unsorted], HEADER, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.jsonl", "unsorted.jsonl"]


def batch(node: str, kind: str, rows: list[list[Any]], **shared: Any) -> dict[str, Any]:
    return {"batch": {"node": node, "event": kind, **shared}, "rows": rows}


def test_merge_expands_batch_rows_into_the_records_they_stand_for(tmp_path: Path) -> None:
    link = {"transport": "unix", "sockname": "/s/a", "peername": "/s/b", "peer": "b"}
    part_a = write_part(
        tmp_path / "a.jsonl",
        [
            event(1, "a"),
            batch("a", "send", [[2, 90, "a:1", "ping", 1, None], [2, 95, "a:2", "ping", 2, "b:9"]], **link),
            event(4, "a", "app", data={"x": 1}),
            batch("a", "recv", [[6, 80, "b:1", "pong", 4, "a:1"]], **link),
        ],
    )
    part_b = write_part(tmp_path / "b.jsonl", [event(3, "b"), event(5, "b")])
    out = tmp_path / "trace.jsonl"

    assert merge_node_traces([part_a, part_b], HEADER, out) == 7

    expanded = out.read_bytes().splitlines(keepends=True)[1:]
    # Each row is the line the record would have had on its own: same keys, same order, same bytes.
    assert expanded[1] == line(
        {
            "ts_ns": 2,
            "node": "a",
            "event": "send",
            **link,
            "nbytes": 90,
            "msg_id": "a:1",
            "msg_type": "ping",
            "lamport": 1,
        }
    )
    assert orjson.loads(expanded[2]) == {
        "ts_ns": 2,
        "node": "a",
        "event": "send",
        **link,
        "nbytes": 95,
        "msg_id": "a:2",
        "msg_type": "ping",
        "lamport": 2,
        "in_reply_to": "b:9",
    }
    assert [(e["ts_ns"], e["node"], e["event"]) for e in iter_events(out)] == [
        (1, "a", "start"),
        (2, "a", "send"),  # rows of equal ts_ns keep their order
        (2, "a", "send"),
        (3, "b", "start"),
        (4, "a", "app"),
        (5, "b", "start"),
        (6, "a", "recv"),
    ]
    assert [e.get("msg_id") for e in iter_events(out)][1:3] == ["a:1", "a:2"]


def test_merge_rejects_a_bad_or_unsorted_batch_and_skips_a_truncated_one(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    cases = {
        "row.jsonl": [event(1), batch("n0", "send", [[2, 90, "n0:1", "t", 1]])],
        "rows.jsonl": [event(1), {"batch": {"node": "n0", "event": "send"}, "rows": 3}],
        "order.jsonl": [
            event(5),
            batch("n0", "send", [[6, 1, "n0:1", "t", 1, None], [4, 1, "n0:2", "t", 2, None]]),
        ],
    }
    for name, records in cases.items():
        with pytest.raises(TraceFormatError) as raised:
            merge_node_traces([write_part(tmp_path / name, records)], HEADER, out)
        assert (raised.value.path, raised.value.line) == (str(tmp_path / name), 2)
        assert not out.exists()
    truncated = write_part(
        tmp_path / "crashed.jsonl",
        [event(1)],
        tail=line(batch("n0", "send", [[2, 1, "n0:1", "t", 1, None]]))[:-9],
    )
    skipped: list[tuple[Path, int, str]] = []
    assert merge_node_traces([truncated], HEADER, out, skipped=skipped) == 1
    assert [(part, line_no) for part, line_no, _ in skipped] == [(truncated, 2)]


def test_merge_of_no_parts_is_a_header_only_trace(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    assert merge_node_traces([], HEADER, out) == 0
    assert read_header(out) == HEADER
    assert list(iter_events(out)) == []


# -- merging many parts: groups of MERGE_FAN_IN parts into run files, then the run files -----------------


def many_parts(directory: Path, count: int) -> list[Path]:
    """``count`` parts whose events tie on ts_ns across parts and within one, with batch lines, lines
    copied verbatim and a truncated last line here and there."""
    directory.mkdir()
    parts = []
    for index in range(count):
        node = f"n{index}"
        link = {"transport": "tcp", "sockname": ["127.0.0.1", 1000 + index], "peer": f"n{index + 1}"}
        records: list[Any] = [
            event(10, node),
            b'{"node": "%s", "event": "app",  "ts_ns": %d}\n' % (node.encode(), 10 + index % 3),
            batch(
                node,
                "send",
                [[20, 90, f"{node}:1", "ping", 1, None], [20 + index % 2, 90, f"{node}:2", "ping", 2, None]],
                **link,
            ),
            event(30 + index % 4, node, "stop"),
        ]
        tail = b'{"ts_ns": 99, "no' if index % 5 == 4 else b""
        parts.append(write_part(directory / f"{index}.trace.jsonl", records, tail=tail))
    return parts


@pytest.mark.parametrize("fan_in", [2, 3, 7])
def test_a_merge_in_rounds_writes_the_trace_of_a_merge_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fan_in: int
) -> None:
    parts = many_parts(tmp_path / "parts", 23)
    one_round, in_rounds = tmp_path / "one" / "trace.jsonl", tmp_path / "rounds" / "trace.jsonl"
    one_round.parent.mkdir()
    in_rounds.parent.mkdir()
    skipped_at_once: list[tuple[Path, int, str]] = []
    count = merge_node_traces(parts, HEADER, one_round, skipped=skipped_at_once)

    # 23 parts with a fan-in of 2: 12 run files, then 6, 3, and the trace from the last 2.
    monkeypatch.setattr(merge_module, "MERGE_FAN_IN", fan_in)
    skipped_in_rounds: list[tuple[Path, int, str]] = []
    assert merge_node_traces(parts, HEADER, in_rounds, skipped=skipped_in_rounds) == count == 23 * 5

    assert in_rounds.read_bytes() == one_round.read_bytes()
    assert sorted(skipped_in_rounds) == sorted(skipped_at_once)
    assert {(part.name, line_no) for part, line_no, _ in skipped_at_once} == {
        (f"{index}.trace.jsonl", 5) for index in (4, 9, 14, 19)
    }
    assert [path.name for path in in_rounds.parent.iterdir()] == ["trace.jsonl"]  # no run file left


def test_a_merge_holds_at_most_its_fan_in_of_files_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = many_parts(tmp_path / "parts", 20)
    monkeypatch.setattr(merge_module, "MERGE_FAN_IN", 3)
    reading: list[IO[bytes]] = []
    most_open = 0

    def counting_open(path: Path, mode: str = "r", **kwargs: Any) -> IO[bytes]:
        nonlocal most_open
        file = open(path, mode, **kwargs)  # noqa: SIM115 - the merge closes it
        if mode == "rb":
            reading.append(file)
            most_open = max(most_open, sum(not f.closed for f in reading))
        return file

    monkeypatch.setattr(merge_module, "open", counting_open, raising=False)
    merge_node_traces(parts, HEADER, tmp_path / "trace.jsonl")
    assert len(reading) > 20  # every part, then run files
    assert most_open == 3
    assert all(file.closed for file in reading)


def test_a_broken_part_in_a_later_group_leaves_neither_trace_nor_run_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = many_parts(tmp_path / "parts", 9)
    write_part(parts[7], [event(1, "n7"), b"oops\n"])
    monkeypatch.setattr(merge_module, "MERGE_FAN_IN", 2)
    out = tmp_path / "trace.jsonl"
    with pytest.raises(TraceFormatError) as raised:
        merge_node_traces(parts, HEADER, out)
    assert (raised.value.path, raised.value.line) == (str(parts[7]), 2)
    assert [path.name for path in tmp_path.iterdir()] == ["parts"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stamps=st.lists(st.lists(st.integers(0, 6), max_size=5).map(sorted), min_size=1, max_size=12),
    fan_in=st.integers(2, 5),
)
def test_any_fan_in_gives_the_same_trace(
    tmp_path_factory: pytest.TempPathFactory, stamps: list[list[int]], fan_in: int
) -> None:
    directory = tmp_path_factory.mktemp("merge")
    parts = [
        write_part(
            directory / f"{index}.jsonl",
            [event(ts_ns, f"n{index}", "app", seq=seq) for seq, ts_ns in enumerate(part)],
        )
        for index, part in enumerate(stamps)
    ]
    one_round, in_rounds = directory / "one.jsonl", directory / "rounds.jsonl"
    merge_node_traces(parts, HEADER, one_round)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(merge_module, "MERGE_FAN_IN", fan_in)
        merge_node_traces(parts, HEADER, in_rounds)
    assert in_rounds.read_bytes() == one_round.read_bytes()
    # Sorted by ts_ns; ties by part, then by position in the part.
    merged = [(e["ts_ns"], int(e["node"][1:]), e["seq"]) for e in iter_events(in_rounds)]
    assert merged == sorted(merged)


def test_a_pass_pauses_the_cyclic_collector_and_restores_it() -> None:
    import gc

    from netsim.trace.reader import cyclic_gc_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pass leaves it as the outer one set it
        raise RuntimeError("a pass that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()

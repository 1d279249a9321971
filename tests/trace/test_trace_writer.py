"""A node's trace file: ``TraceWriter`` and the per-socket ``MessageRecords`` that write message events."""

from __future__ import annotations

from pathlib import Path

import orjson

from netsim.trace.writer import TraceWriter


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_event_leaves_out_absent_fields(tmp_path: Path) -> None:
    writer = TraceWriter(tmp_path / "n0.trace.jsonl", "n0")
    writer.event("bind", ts_ns=5, transport="unix", sockname="/tmp/x.sock", peername=None)
    writer.event("fault", ts_ns=6, node="n1", reason="partition")
    writer.close()
    records = [orjson.loads(line) for line in lines(tmp_path / "n0.trace.jsonl")]
    assert records == [
        {"ts_ns": 5, "node": "n0", "event": "bind", "transport": "unix", "sockname": "/tmp/x.sock"},
        {"ts_ns": 6, "node": "n1", "event": "fault", "reason": "partition"},
    ]


def test_message_records_refill_one_record_per_kind(tmp_path: Path) -> None:
    path = tmp_path / "a.trace.jsonl"
    writer = TraceWriter(path, "a")
    base = {"transport": "tcp", "sockname": ["127.0.0.1", 4000], "peername": ["127.0.0.1", 5000], "peer": "b"}
    records = writer.message_records("send", base)
    assert not writer.unflushed
    records.write(10, 90, "a:1", "ping", 1, None)
    # Written, not yet flushed: the node's loop flushes within TRACE_FLUSH_INTERVAL_NS.
    assert writer.unflushed
    records.write(11, 95, "a:2", "pong", 3, "b:7")
    records.write(12, 90, "a:3", "ping", 4, None)
    writer.flush()
    assert not writer.unflushed
    written = lines(path)
    assert [orjson.loads(line) for line in written] == [
        {
            "ts_ns": 10,
            "node": "a",
            "event": "send",
            **base,
            "nbytes": 90,
            "msg_id": "a:1",
            "msg_type": "ping",
            "lamport": 1,
        },
        {
            "ts_ns": 11,
            "node": "a",
            "event": "send",
            **base,
            "nbytes": 95,
            "msg_id": "a:2",
            "msg_type": "pong",
            "lamport": 3,
            "in_reply_to": "b:7",
        },
        {
            "ts_ns": 12,
            "node": "a",
            "event": "send",
            **base,
            "nbytes": 90,
            "msg_id": "a:3",
            "msg_type": "ping",
            "lamport": 4,
        },
    ]
    # ts_ns, node and event lead every line, so that the merge reads ts_ns without parsing the line.
    assert all(line.startswith(b'{"ts_ns":') for line in written)
    # The base given to message_records is not changed by the writes.
    assert base == {
        "transport": "tcp",
        "sockname": ["127.0.0.1", 4000],
        "peername": ["127.0.0.1", 5000],
        "peer": "b",
    }
    writer.close()

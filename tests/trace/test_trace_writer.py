"""A node's trace file: ``TraceWriter`` and the per-socket ``MessageRecords`` that write message events."""

from __future__ import annotations

from pathlib import Path

import orjson

from netsim.trace.merge import part_events
from netsim.trace.writer import BATCH_ROWS, TraceWriter

LINK = {"transport": "tcp", "sockname": ["127.0.0.1", 4000], "peername": ["127.0.0.1", 5000], "peer": "b"}


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def message(ts_ns: int, event: str, msg_id: str, lamport: int, **fields: object) -> dict:
    return {
        "ts_ns": ts_ns,
        "node": "a",
        "event": event,
        **LINK,
        "nbytes": 90,
        "msg_id": msg_id,
        "msg_type": "ping",
        "lamport": lamport,
        **fields,
    }


def test_event_leaves_out_absent_fields(tmp_path: Path) -> None:
    writer = TraceWriter(tmp_path / "n0.trace.jsonl", "n0")
    writer.event("bind", ts_ns=5, transport="unix", sockname="/tmp/x.sock", peername=None)
    writer.event("fault", ts_ns=6, node="n1", reason="partition")
    writer.close()
    assert lines(tmp_path / "n0.trace.jsonl") == [
        {"ts_ns": 5, "node": "n0", "event": "bind", "transport": "unix", "sockname": "/tmp/x.sock"},
        {"ts_ns": 6, "node": "n1", "event": "fault", "reason": "partition"},
    ]


def test_message_records_are_written_in_call_order_as_batches(tmp_path: Path) -> None:
    path = tmp_path / "a.trace.jsonl"
    writer = TraceWriter(path, "a")
    sends = writer.message_records("send", LINK)
    receives = writer.message_records("recv", LINK)
    assert not writer.unflushed
    sends.write(10, 90, "a:1", "ping", 1, None)
    sends.write(11, 90, "a:2", "ping", 2, "b:7")
    # Rows wait in memory; the node's loop flushes within TRACE_FLUSH_INTERVAL_NS.
    assert writer.unflushed and path.read_bytes() == b""
    receives.write(12, 90, "b:1", "ping", 5, None)  # another kind: the sends' batch goes out first
    writer.event("app", ts_ns=13, data={"x": 1})  # an event: the receives' batch goes out first
    sends.write(14, 90, "a:3", "ping", 6, None)
    writer.flush()
    assert not writer.unflushed
    raw = lines(path)
    assert [line.get("event") or line["batch"]["event"] for line in raw] == ["send", "recv", "app", "send"]
    assert raw[0] == {
        "batch": {"node": "a", "event": "send", **LINK},
        "rows": [
            [10, 90, "a:1", "ping", 1, None],
            [11, 90, "a:2", "ping", 2, "b:7"],
        ],
    }
    assert list(part_events(path)) == [
        message(10, "send", "a:1", 1),
        message(11, "send", "a:2", 2, in_reply_to="b:7"),
        message(12, "recv", "b:1", 5),
        {"ts_ns": 13, "node": "a", "event": "app", "data": {"x": 1}},
        message(14, "send", "a:3", 6),
    ]
    writer.close()


def test_a_full_batch_is_written_at_once_and_close_writes_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "a.trace.jsonl"
    writer = TraceWriter(path, "a")
    sends = writer.message_records("send", LINK)
    for n in range(BATCH_ROWS + 3):
        sends.write(n, 90, f"a:{n}", "ping", n, None)
    writer._file.flush()  # what a full batch wrote, without the writer's own flush
    assert [len(line["rows"]) for line in lines(path)] == [BATCH_ROWS]
    writer.close()
    assert [len(line["rows"]) for line in lines(path)] == [BATCH_ROWS, 3]
    assert [event["msg_id"] for event in part_events(path)] == [f"a:{n}" for n in range(BATCH_ROWS + 3)]


def test_extend_writes_many_rows_in_order_with_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "a.trace.jsonl"
    writer = TraceWriter(path, "a")
    sends = writer.message_records("send", LINK)
    receives = writer.message_records("recv", LINK)
    receives.write(1, 90, "b:1", "ping", 1, None)
    sends.extend([(2, 90, "a:1", "pong", 2, "b:1"), (2, 90, "a:2", "ping", 3, None)])  # after the recv
    receives.write(3, 90, "b:2", "ping", 4, None)
    sends.extend([(4, 90, f"a:{n}", "ping", n, None) for n in range(3, BATCH_ROWS + 3)])
    writer._file.flush()
    # A batch that reaches BATCH_ROWS goes out at once, however many rows the last extend brought.
    assert [len(line["rows"]) for line in lines(path)] == [1, 2, 1, BATCH_ROWS]
    writer.close()
    assert [event["msg_id"] for event in part_events(path)] == [
        "b:1",
        "a:1",
        "a:2",
        "b:2",
        *[f"a:{n}" for n in range(3, BATCH_ROWS + 3)],
    ]
    assert [event["ts_ns"] for event in part_events(path)][:4] == [1, 2, 2, 3]

"""A host's trace parts, as its agent sends them back: times moved into the launcher's clock, line by
line, whatever chunks they come in."""

from __future__ import annotations

from pathlib import Path

import orjson

from netsim.launch.cluster.host_files import HostFiles, LineCorrector, corrected_lines
from netsim.launch.cluster.hostlink import ClockCorrection, ClockSample

# The host's clock is 1,000 ns ahead of the launcher's, at the start and at the end.
AHEAD = ClockCorrection(ClockSample(0, 1_000, 0), ClockSample(10_000, 11_000, 10_000))


def test_event_call_and_batch_times_are_corrected_and_durations_kept() -> None:
    event = orjson.dumps({"ts_ns": 5_000, "node": "n1", "event": "delay", "delay_ns": 3_000})
    call = orjson.dumps({"ts_ns": 6_000, "start_ns": 5_500, "node": "n1", "event": "call"})
    batch = orjson.dumps(
        {"batch": {"node": "n1", "event": "recv"}, "rows": [[7_000, 10, "n0:1"], [8_000, 11, "n0:2"]]}
    )
    out = corrected_lines(b"\n".join((event, call, batch, b"not json", b"[1,2]")), AHEAD.to_launcher)
    lines = out.split(b"\n")
    assert out.endswith(b"\n") and lines[-1] == b""
    assert orjson.loads(lines[0]) == {"ts_ns": 4_000, "node": "n1", "event": "delay", "delay_ns": 3_000}
    assert orjson.loads(lines[1])["ts_ns"] == 5_000 and orjson.loads(lines[1])["start_ns"] == 4_500
    assert orjson.loads(lines[2])["rows"] == [[6_000, 10, "n0:1"], [7_000, 11, "n0:2"]]
    assert lines[3:5] == [b"not json", b"[1,2]"]


def test_chunks_split_inside_a_line_and_a_cut_last_line(tmp_path: Path) -> None:
    files = HostFiles(tmp_path)
    files.correction = AHEAD
    text = (
        b'{"ts_ns":2000,"node":"n1","event":"start"}\n{"ts_ns":3000,"node":"n1","event":"stop"}\n{"ts_ns":40'
    )
    for at in range(0, len(text), 7):
        assert files.write("1.trace.jsonl", text[at : at + 7]) is None
    files.end()
    written = (tmp_path / "1.trace.jsonl").read_bytes().split(b"\n")
    assert [orjson.loads(line)["ts_ns"] for line in written[:2]] == [1_000, 2_000]
    assert written[2] == b'{"ts_ns":40'  # a node killed mid-write: kept as it came


def test_logs_are_written_as_they_came_and_names_stay_inside(tmp_path: Path) -> None:
    files = HostFiles(tmp_path)
    files.correction = AHEAD
    assert files.write("1-n1.log", b'{"ts_ns": 5}\n') is None
    files.end()
    assert (tmp_path / "1-n1.log").read_bytes() == b'{"ts_ns": 5}\n'
    assert (
        files.write("../escape.trace.jsonl", b"x")
        == "a file named '../escape.trace.jsonl', outside the node directory"
    )
    assert files.write("/etc/passwd", b"x") is not None
    assert not (tmp_path.parent / "escape.trace.jsonl").exists()


def test_an_agent_re_times_its_parts_chunk_by_chunk() -> None:
    """What the agent does before it sends a part (the relay then writes it as it comes)."""
    corrector = LineCorrector(AHEAD)
    text = b'{"ts_ns":2000,"node":"n1","event":"start"}\n{"ts_ns":3000,"node":"n1","event":"stop"}\n{"ts'
    out = b"".join(corrector.feed(text[at : at + 5]) for at in range(0, len(text), 5)) + corrector.end()
    lines = out.split(b"\n")
    assert [orjson.loads(line)["ts_ns"] for line in lines[:2]] == [1_000, 2_000]
    assert lines[2] == b'{"ts'


def test_parts_sent_re_timed_are_written_as_they_come(tmp_path: Path) -> None:
    files = HostFiles(tmp_path)  # no correction: the agent re-timed them
    assert files.write("2.trace.jsonl", b'{"ts_ns":7}\n') is None
    assert files.write("3.trace.jsonl", b'{"ts_ns":8}\n') is None
    files.end()
    assert (tmp_path / "2.trace.jsonl").read_bytes() == b'{"ts_ns":7}\n'
    assert (tmp_path / "3.trace.jsonl").read_bytes() == b'{"ts_ns":8}\n'

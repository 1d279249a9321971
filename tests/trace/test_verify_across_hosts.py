"""trace verify on a run over many hosts: a receive written before its send (the hosts' clocks are
corrected within an error bound) is checked when its send comes; on one host it stays a failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

import netsim
from netsim.trace.verify import verify_trace

CLUSTER = {"engine": "ray", "address": "10.0.0.1:6379", "hosts": [], "node_host": {}}


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    run = netsim.run("ring:6", app="flood", seed=3, out=tmp_path_factory.mktemp("runs"))
    assert run.ok
    return [orjson.loads(line) for line in (run.run_dir / "trace.jsonl").read_bytes().splitlines()]


def _receive_moved_before_its_send(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace with one receive written just before its send, as a host whose clock was corrected
    a little early would have it (the receiving node's own events keep their order)."""
    events = records[1:]
    sends = {event["msg_id"]: at for at, event in enumerate(events) if event["event"] == "send"}
    for at, event in enumerate(events):
        if event["event"] != "recv":
            continue
        sent_at = sends[event["msg_id"]]
        between = events[sent_at + 1 : at]
        if all(other["node"] != event["node"] for other in between):
            moved = {**event, "ts_ns": events[sent_at]["ts_ns"]}
            reordered = events[:sent_at] + [moved] + events[sent_at:at] + events[at + 1 :]
            return [records[0], *reordered]
    raise AssertionError("no receive could be moved")


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def _results(path: Path) -> dict[str, Any]:
    return {result.name: result for result in verify_trace(path).checks}


def test_a_receive_before_its_send_fails_on_one_host(flood: list[dict[str, Any]], tmp_path: Path) -> None:
    results = _results(_write(tmp_path / "trace.jsonl", _receive_moved_before_its_send(flood)))
    assert not results["receive_has_send"].passed
    assert "was not sent before" in results["receive_has_send"].problems[0]


def test_a_receive_before_its_send_passes_over_many_hosts(
    flood: list[dict[str, Any]], tmp_path: Path
) -> None:
    records = _receive_moved_before_its_send(flood)
    records[0] = {**records[0], "cluster": CLUSTER}
    results = _results(_write(tmp_path / "trace.jsonl", records))
    assert all(result.passed for result in results.values()), {
        name: result.problems for name, result in results.items()
    }
    # Every receive was checked, once.
    receives = sum(1 for record in records[1:] if record["event"] == "recv")
    assert results["receive_has_send"].checked == receives


def test_a_receive_whose_send_never_comes_still_fails_over_many_hosts(
    flood: list[dict[str, Any]], tmp_path: Path
) -> None:
    records = [{**flood[0], "cluster": CLUSTER}]
    dropped = next(record["msg_id"] for record in flood[1:] if record["event"] == "send")
    records += [
        record for record in flood[1:] if not (record["event"] == "send" and record["msg_id"] == dropped)
    ]
    results = _results(_write(tmp_path / "trace.jsonl", records))
    assert not results["receive_has_send"].passed
    assert dropped in results["receive_has_send"].problems[0]


def test_lamport_still_checked_for_a_receive_that_came_early(
    flood: list[dict[str, Any]], tmp_path: Path
) -> None:
    records = _receive_moved_before_its_send(flood)
    records[0] = {**records[0], "cluster": CLUSTER}
    early = next(
        at
        for at, record in enumerate(records[1:], 1)
        if record["event"] == "recv" and record["ts_ns"] == records[at + 1]["ts_ns"]
    )
    records[early] = {**records[early], "lamport": 0}  # not above its send's clock
    results = _results(_write(tmp_path / "trace.jsonl", records))
    assert not results["lamport"].passed

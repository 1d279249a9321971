"""Fault schedules are lazy: repeating faults are computed as they come, never unrolled into a list."""

from __future__ import annotations

import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from netsim.errors import FaultError
from netsim.launch.faults import FaultRunner
from netsim.shaping.conditions import MAX_RUN_S
from netsim.shaping.faults import (
    MIN_REPEAT_INTERVAL_S,
    Fault,
    FaultSchedule,
    RepeatingFault,
    check_schedule,
    parse_fault_item,
    parse_fault_line,
)
from netsim.topology import load_topology

NODES = [f"n{index}" for index in range(6)]


def unrolled(schedule: list[Any], nodes: list[str], *, duration_s: float, seed: int) -> list[Fault]:
    """The list netsim unrolled before faults were lazy (``expand_schedule``): the reference."""
    rng = random.Random(f"{seed}:faults")
    faults = [item for item in schedule if isinstance(item, Fault)]
    for item in schedule:
        if not isinstance(item, RepeatingFault):
            continue
        at = item.start_s if item.start_s is not None else item.every_s
        end = min(duration_s, item.until_s) if item.until_s is not None else duration_s
        partitioned = False
        while at < end:
            if partitioned:
                faults.append(Fault(at, "heal"))
            else:
                shuffled = list(nodes)
                rng.shuffle(shuffled)
                half = len(shuffled) // 2
                faults.append(Fault(at, "partition", groups=(tuple(shuffled[:half]), tuple(shuffled[half:]))))
            partitioned = not partitioned
            at += item.every_s
    return sorted(faults, key=lambda fault: fault.at_s)


SCHEDULES = {
    "every 1s": (["every 1s random-partition"], 4.5),
    "every 0.1s from until": (["every 0.1s random-partition from 0.35s until 7.3s"], 10.0),
    "until after the duration": (["every 0.3s random-partition until 100s"], 6.0),
    "one-offs in between and at the same times": (
        [
            "3s kill n2",
            "every 0.5s random-partition from 1s",
            "1s link-down n0,n1",
            "2s restart n2",
            "1s stop n3",
            "0.2s slow n1,n2 latency=5ms",
            "4.5s heal",
        ],
        5.0,
    ),
    "one-offs only": (["2s kill n1", "1s heal", "2s restart n1"], 3.0),
    "every 1ms": (["every 1ms random-partition"], 2.5),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("seed", [0, 7, 2**63 - 1])
def test_the_lazy_schedule_yields_what_the_unrolled_list_held(name: str, seed: int) -> None:
    lines, duration = SCHEDULES[name]
    items = [parse_fault_line(line) for line in lines]
    expected = unrolled(items, NODES, duration_s=duration, seed=seed)
    schedule = FaultSchedule(items, NODES, duration_s=duration, seed=seed)
    assert list(schedule) == expected
    assert list(schedule) == expected, "a second pass starts afresh with the same draws"
    assert bool(schedule) == bool(expected)


def test_an_interval_below_one_millisecond_is_refused() -> None:
    assert MIN_REPEAT_INTERVAL_S == 0.001
    for line in (
        "every 1ns random-partition",
        "every 0.000000001s random-partition",
        "every 999us random-partition",
    ):
        with pytest.raises(FaultError, match="at least 1ms"):
            parse_fault_line(line)
    with pytest.raises(FaultError, match="at least 1ms"):
        parse_fault_item({"every": "500us", "random-partition": True})
    assert parse_fault_line("every 1ms random-partition") == RepeatingFault(0.001, "random-partition")


def test_a_fault_that_could_never_happen_is_refused() -> None:
    links = {frozenset(("n0", "n1"))}
    check_schedule([parse_fault_line("1.9s kill n1")], NODES, links, duration_s=2)
    for line, expected in [
        ("2s kill n1", "the run ends at --duration 2s"),
        ("9s heal", "the run ends at --duration 2s"),
        ("every 2s random-partition", r"not before --duration \(2s\)"),
        ("every 0.5s random-partition from 3s", r"not before --duration \(2s\)"),
        ("every 0.5s random-partition from 1s until 1s", r"not before its 'until' \(1s\)"),
    ]:
        with pytest.raises(FaultError, match=expected):
            check_schedule([parse_fault_line(line)], NODES, links, duration_s=2)


def test_fault_times_are_bounded() -> None:
    parse_fault_line(f"{MAX_RUN_S}s kill n1")
    for line in (f"{MAX_RUN_S + 1}s kill n1", "1e300s kill n1", "every 1e300s random-partition"):
        with pytest.raises(FaultError, match="bad time"):
            parse_fault_line(line)


class _Launcher:
    """Stands in for the Launcher: counts the control messages a fault sends."""

    def __init__(self) -> None:
        self.sent = 0

    def send_to(self, node: str, kind: str, **fields: Any) -> None:
        self.sent += 1


@pytest.mark.timeout(20)
def test_a_long_run_with_a_small_interval_holds_no_list(tmp_path: Path) -> None:
    topology = load_topology("ring:6")
    names = [node.name for node in topology.nodes]
    every_millisecond = [parse_fault_line("every 1ms random-partition")]
    tracemalloc.start()
    started = time.perf_counter()
    # Unrolled, this was 10**12 faults.
    schedule = FaultSchedule(every_millisecond, names, duration_s=MAX_RUN_S, seed=1)
    launcher = _Launcher()
    runner = FaultRunner(launcher, schedule, topology, {}, "tcp", str(tmp_path / "launcher.trace.jsonl"))  # type: ignore[arg-type]
    assert runner.next_at_s == 0.001
    runner.run_due(0.0105)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    runner.close()
    assert time.perf_counter() - started < 5
    assert peak < 2_000_000, f"{peak} bytes: the schedule was listed"
    assert [fault["action"] for fault in runner.applied] == ["partition", "heal"] * 5
    assert runner.next_at_s == pytest.approx(0.011)
    assert launcher.sent > 0
    assert [record["scheduled_s"] for record in runner.applied] == [
        fault.at_s for fault in unrolled(every_millisecond, names, duration_s=0.0105, seed=1)
    ]


def test_the_runner_ends_with_the_schedule(tmp_path: Path) -> None:
    topology = load_topology("ring:4")
    names = [node.name for node in topology.nodes]
    items = [parse_fault_line("every 0.5s random-partition until 1.6s"), parse_fault_line("0.2s heal")]
    schedule = FaultSchedule(items, names, duration_s=30, seed=3)
    runner = FaultRunner(_Launcher(), schedule, topology, {}, "tcp", str(tmp_path / "t.jsonl"))  # type: ignore[arg-type]
    runner.run_due(1.0)
    assert [fault["action"] for fault in runner.applied] == ["heal", "partition", "heal"]
    assert runner.next_at_s == 1.5
    runner.run_due(30)
    runner.close()
    assert runner.next_at_s is None, "no fault is pending after the last one: the run may end as done"
    assert [fault["scheduled_s"] for fault in runner.applied] == [0.2, 0.5, 1.0, 1.5]
    assert not FaultSchedule([parse_fault_line("every 1s random-partition")], names, duration_s=1, seed=3)

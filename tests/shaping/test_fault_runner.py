"""The FaultRunner alone: a schedule turned into launcher calls, at the times the launcher asks, and into
``fault`` events in its trace part. A stand-in for the launcher records the calls; no process runs."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from netsim.launch import faults as launch_faults
from netsim.launch.faults import WHOLE_RUN, FaultRunner, NodeControl
from netsim.runtime import control
from netsim.shaping.conditions import NO_CONDITIONS, Conditions
from netsim.shaping.faults import Fault, FaultSchedule, parse_fault_line
from netsim.shaping.links import LinkConditionsMap
from netsim.topology import load_topology

# ring:4's links, in the topology's order: n0-n1, n0-n3, n1-n2, n2-n3.
RING = load_topology("ring:4")
START_NS = 1_000_000_000
# How long the stand-in's nodes take to stop acting when killed (a freeze's round trip).
FREEZE_NS = 7_000_000


class FakeClock:
    """The run's clock as the runner sees it: seconds into the run, and the ``now_ns`` it stamps."""

    def __init__(self) -> None:
        self.elapsed_s = 0.0

    def now_ns(self) -> int:
        return START_NS + round(self.elapsed_s * 1e9)


class RecordingLauncher:
    """A NodeControl that records each call with the run time it came at."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[Any, ...]] = []

    def send_to(self, name: str, kind: str, **fields: Any) -> None:
        self.calls.append((self.clock.elapsed_s, "send_to", name, kind, fields))

    def signal_node(self, name: str, signum: int) -> None:
        self.calls.append((self.clock.elapsed_s, "signal_node", name, signum))

    def kill_node(self, name: str) -> int:
        self.calls.append((self.clock.elapsed_s, "kill_node", name))
        return self.clock.now_ns() + FREEZE_NS

    def restart_node(self, name: str) -> int:
        self.calls.append((self.clock.elapsed_s, "restart_node", name))
        return self.clock.now_ns() + FREEZE_NS


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(launch_faults, "now_ns", fake.now_ns)
    return fake


def make_runner(
    tmp_path: Path,
    clock: FakeClock,
    lines: list[str],
    conditions: LinkConditionsMap | None = None,
    transport: str = "tcp",
) -> tuple[FaultRunner, RecordingLauncher]:
    launcher = RecordingLauncher(clock)
    control_of_nodes: NodeControl = launcher  # the stand-in is what the runner asks for
    faults = [parse_fault_line(line) for line in lines]
    assert all(isinstance(fault, Fault) for fault in faults), "one-off faults only"
    trace_part = str(tmp_path / "launcher.trace.jsonl")
    runner = FaultRunner(control_of_nodes, faults, RING, conditions or {}, transport, trace_part)
    return runner, launcher


def drive(runner: FaultRunner, clock: FakeClock, ticks: list[float]) -> list[float | None]:
    """Call ``run_due`` as the launcher's loop does, once per tick; return ``next_at_s`` before each."""
    waits = []
    for tick in ticks:
        waits.append(runner.next_at_s)
        clock.elapsed_s = tick
        runner.run_due(tick)
    return waits


def trace_events(tmp_path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (tmp_path / "launcher.trace.jsonl").read_bytes().splitlines()]


def block(node: str, peer: str, reason: str, kind: str = control.BLOCK) -> tuple[Any, ...]:
    return ("send_to", node, kind, {"peer": peer, "reason": reason})


def unblock(node: str, peer: str, reason: str) -> tuple[Any, ...]:
    return block(node, peer, reason, control.UNBLOCK)


SCHEDULE = [
    "0.5s partition n0,n1 | n2,n3",
    "1s heal",
    "1.5s link-down n0,n1",
    "2s kill n3",
    "2.5s restart n3",
    "3s stop n2",
    "3.5s cont n2",
    "4s slow n1,n2 latency=40ms",
    "4.5s link-up n0,n1",
]


def test_a_schedule_becomes_launcher_calls_in_order_at_the_first_tick_due(
    tmp_path: Path, clock: FakeClock
) -> None:
    runner, launcher = make_runner(tmp_path, clock, SCHEDULE)
    # The launcher's loop wakes when it likes (here every 0.3 s): a fault fires at the first tick at
    # or after its time, never before.
    ticks = [round(index * 0.3, 6) for index in range(17)]
    waits = drive(runner, clock, ticks)
    runner.close()

    slowed = {
        **{name: getattr(NO_CONDITIONS, name) for name in Conditions.__slots__},
        "latency_ns": 40_000_000,
    }
    assert [call[1:] for call in launcher.calls] == [
        # 0.5s partition: the links between the groups, both ends of each
        block("n0", "n3", "partition"),
        block("n3", "n0", "partition"),
        block("n1", "n2", "partition"),
        block("n2", "n1", "partition"),
        # 1s heal
        unblock("n0", "n3", "partition"),
        unblock("n3", "n0", "partition"),
        unblock("n1", "n2", "partition"),
        unblock("n2", "n1", "partition"),
        # 1.5s link-down
        block("n0", "n1", "link-down"),
        block("n1", "n0", "link-down"),
        ("kill_node", "n3"),
        ("restart_node", "n3"),
        ("signal_node", "n2", signal.SIGSTOP),
        ("signal_node", "n2", signal.SIGCONT),
        ("send_to", "n1", control.CONDITIONS, {"peer": "n2", "conditions": slowed}),
        ("send_to", "n2", control.CONDITIONS, {"peer": "n1", "conditions": slowed}),
        # 4.5s link-up
        unblock("n0", "n1", "link-down"),
        unblock("n1", "n0", "link-down"),
    ]
    scheduled = [parse_fault_line(line).at_s for line in SCHEDULE]
    fired_at = [min(tick for tick in ticks if tick >= at_s) for at_s in scheduled]
    calls_per_fault = [4, 4, 2, 1, 1, 1, 1, 2, 2]
    expected_times = [at for at, count in zip(fired_at, calls_per_fault, strict=True) for _ in range(count)]
    assert [call[0] for call in launcher.calls] == expected_times
    # Between ticks the launcher sleeps until the next fault is due; after the last, none is.
    assert waits[:3] == [0.5, 0.5, 0.5] and waits[3] == 1.0
    assert runner.next_at_s is None
    assert [record["scheduled_s"] for record in runner.applied] == scheduled
    assert [record["at_s"] for record in runner.applied] == fired_at


def test_each_fault_is_a_fault_event_in_the_trace_part(tmp_path: Path, clock: FakeClock) -> None:
    runner, _ = make_runner(tmp_path, clock, SCHEDULE)
    drive(runner, clock, [round(index * 0.3, 6) for index in range(17)])
    runner.close()
    events = trace_events(tmp_path)
    assert [event["event"] for event in events] == ["fault"] * len(SCHEDULE)
    assert [event["fault"] for event in events] == [record["action"] for record in runner.applied]
    assert [(event["node"], event.get("peer")) for event in events] == [
        (WHOLE_RUN, None),  # partition
        (WHOLE_RUN, None),  # heal
        ("n0", "n1"),
        ("n3", None),
        ("n3", None),
        ("n2", None),
        ("n2", None),
        ("n1", "n2"),
        ("n0", "n1"),
    ]
    # Stamped when it was carried out (a kill once the node stopped acting), holding what the summary lists.
    assert [event["ts_ns"] for event in events] == [
        START_NS + round(record["at_s"] * 1e9) + (FREEZE_NS if record["action"] in ("kill", "restart") else 0)
        for record in runner.applied
    ]
    assert [event["data"] for event in events] == runner.applied
    assert events[0]["data"] == {
        "at_s": 0.6,
        "scheduled_s": 0.5,
        "action": "partition",
        "groups": [["n0", "n1"], ["n2", "n3"]],
    }
    assert events[7]["data"]["conditions"] == {"latency": "40ms"}


def test_nothing_fires_before_its_time(tmp_path: Path, clock: FakeClock) -> None:
    runner, launcher = make_runner(tmp_path, clock, ["1s kill n1"])
    drive(runner, clock, [0.0, 0.5, 0.999999])
    assert launcher.calls == [] and runner.applied == [] and runner.next_at_s == 1.0
    drive(runner, clock, [1.0])
    runner.close()
    assert launcher.calls == [(1.0, "kill_node", "n1")]


def test_faults_given_in_any_order_run_in_time_order_and_a_late_tick_runs_all_due(
    tmp_path: Path, clock: FakeClock
) -> None:
    runner, launcher = make_runner(tmp_path, clock, ["2s cont n1", "0.5s stop n1", "1s kill n2"])
    drive(runner, clock, [5.0])
    runner.close()
    assert launcher.calls == [
        (5.0, "signal_node", "n1", signal.SIGSTOP),
        (5.0, "kill_node", "n2"),
        (5.0, "signal_node", "n1", signal.SIGCONT),
    ]
    assert [(record["at_s"], record["scheduled_s"]) for record in runner.applied] == [
        (5.0, 0.5),
        (5.0, 1.0),
        (5.0, 2.0),
    ]


def test_a_new_partition_heals_the_last_one_first_and_unnamed_nodes_are_one_more_group(
    tmp_path: Path, clock: FakeClock
) -> None:
    runner, launcher = make_runner(tmp_path, clock, ["1s partition n0 | n1", "2s partition n0,n1 | n2,n3"])
    drive(runner, clock, [1.0])
    # Groups {n0}, {n1} and the rest {n2, n3}: every link but n2-n3 is cut.
    assert [call[1:] for call in launcher.calls] == [
        block("n0", "n1", "partition"),
        block("n1", "n0", "partition"),
        block("n0", "n3", "partition"),
        block("n3", "n0", "partition"),
        block("n1", "n2", "partition"),
        block("n2", "n1", "partition"),
    ]
    launcher.calls.clear()
    drive(runner, clock, [2.0])
    runner.close()
    assert [call[1:] for call in launcher.calls] == [
        unblock("n0", "n1", "partition"),
        unblock("n1", "n0", "partition"),
        unblock("n0", "n3", "partition"),
        unblock("n3", "n0", "partition"),
        unblock("n1", "n2", "partition"),
        unblock("n2", "n1", "partition"),
        block("n0", "n3", "partition"),
        block("n3", "n0", "partition"),
        block("n1", "n2", "partition"),
        block("n2", "n1", "partition"),
    ]


def test_slow_changes_only_what_it_names_on_the_link_s_current_conditions(
    tmp_path: Path, clock: FakeClock
) -> None:
    shaped = {("n1", "n2"): (Conditions(loss=0.1), Conditions(loss=0.2))}
    lines = ["1s slow n1,n2 latency=40ms", "2s slow n1,n2 reorder=0.5"]
    runner, launcher = make_runner(tmp_path, clock, lines, conditions=shaped, transport="udp")
    drive(runner, clock, [1.0, 2.0])
    runner.close()
    sent = [(call[2], call[4]["peer"], call[4]["conditions"]) for call in launcher.calls]
    assert [(node, peer) for node, peer, _ in sent] == [("n1", "n2"), ("n2", "n1")] * 2
    first_forward, first_backward = sent[0][2], sent[1][2]
    assert (first_forward["loss"], first_forward["latency_ns"], first_forward["reorder"]) == (
        0.1,
        40_000_000,
        0.0,
    )
    assert (first_backward["loss"], first_backward["latency_ns"]) == (0.2, 40_000_000)
    # The second slow builds on the first: the latency it set stays.
    second_forward = sent[2][2]
    assert (second_forward["loss"], second_forward["latency_ns"], second_forward["reorder"]) == (
        0.1,
        40_000_000,
        0.5,
    )
    assert runner.conditions[("n1", "n2")][0] == Conditions(loss=0.1, latency_ns=40_000_000, reorder=0.5)


def test_a_lazy_schedule_is_taken_as_it_comes(tmp_path: Path, clock: FakeClock) -> None:
    names = [node.name for node in RING.nodes]
    schedule = FaultSchedule(
        [parse_fault_line("every 1s random-partition until 3.5s")], names, duration_s=10, seed=2
    )
    launcher = RecordingLauncher(clock)
    runner = FaultRunner(launcher, schedule, RING, {}, "tcp", str(tmp_path / "launcher.trace.jsonl"))
    waits = drive(runner, clock, [1.0, 2.0, 3.0, 4.0])
    runner.close()
    assert waits == [1.0, 2.0, 3.0, None]
    assert [record["action"] for record in runner.applied] == ["partition", "heal", "partition"]
    heal_calls = [call for call in launcher.calls if call[0] == 2.0]
    assert heal_calls and all(call[3] == control.UNBLOCK for call in heal_calls)

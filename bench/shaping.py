"""Link shaping: what the shaper costs on a link it leaves untouched, and how exact its latency is.

Two tables, from two-node runs ('a' sends to 'b' over one link). Node 'a' is pinned to one CPU and
node 'b' to the other inside ``on_ready``, before any app message, so every run pays the same
cross-CPU wake-up (~70 us on a 2-vCPU VM).

1. Overhead. 'a' sends --messages messages to 'b' in bursts of 256 (as bench/throughput.py does),
   once over a plain link (no attributes: netsim skips the shaper) and once over a link whose only
   condition is ``queue: 1000000``, a limit never reached: every message goes through the shaper
   (its random draws, and the partition, loss and queue checks) and leaves at once, with no delay.
   Such a link delays nothing, so the shaper takes its instant path (``LinkShaper.admit``), as a
   loss-only link does; links with a delay pay for the timer queue they need. Rate = messages
   received / (last receive - first send), from the trace. Off and on alternate, --repeat times each
   (median, min-max). Goal: the shaped rate at most 20% below the plain one.

2. Latency accuracy. For each transport and configured latency (1, 10, 100 ms), 'a' sends 1,000
   messages a second for --seconds: a timer ticks every millisecond of a fixed schedule (re-armed for
   the next message's due time, not 1 ms after the last tick) and each tick sends the messages due by
   then, one when the loop is on time, two after a late tick. Each message's one-way latency as the
   app sees it is b's ``recv`` ts_ns minus a's ``delay`` ts_ns (stamped inside ctx.send, when the
   shaper decides); the error is that minus the configured latency. It splits in two: the sender's
   loop lateness (a's ``send`` ts_ns, when the kernel took the message, minus the intended release,
   ``delay`` ts_ns + delay_ns) and the kernel and receiver (b's ``recv`` minus a's ``send``).
   Goal: median error under 1 ms.

Run: python bench/shaping.py [--messages 50000] [--repeat 7] [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import Spread, child_pids, console, last_cpu, machine_line, make_table, temp_dir
from rich.console import Console

import netsim
from netsim import App
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.trace.reader import iter_events

BODY = "x" * 64
SENDER_CPU, RECEIVER_CPU = 0, 1
BURST = 256
NEVER_FULL_QUEUE = 1_000_000
OVERHEAD_TRANSPORTS = ("tcp", "unix-dgram")
OVERHEAD_GOAL = 0.20
LATENCY_TRANSPORTS = ("tcp", "udp")
LATENCIES_MS = (1, 10, 100)
PROBE_RATE = 1000  # messages per second under the latency test
PROBE_PERIOD_NS = 1_000_000_000 // PROBE_RATE
ERROR_GOAL_MS = 1.0
SEND_EVENTS = ("send", "sendto")
RECEIVE_EVENTS = ("recv", "recvfrom")
PROGRESS = Console(stderr=True, highlight=False)


# ---- the apps (run inside the node processes; settings come through the environment at fork) -------


class Blaster(App):
    """Node 'a' sends NETSIM_BENCH_MESSAGES blast messages to 'b' in bursts; 'b' counts them."""

    def on_start(self, ctx: Any) -> None:
        self.messages = int(os.environ["NETSIM_BENCH_MESSAGES"])
        self.sent = 0
        self.received = 0
        if ctx.name == "a":
            self.on_timer(ctx, "burst", None)

    def on_timer(self, ctx: Any, name: str, data: Any) -> None:
        for _ in range(min(BURST, self.messages - self.sent)):
            ctx.send("b", "blast", BODY)
            self.sent += 1
        if self.sent < self.messages:
            ctx.set_timer(0, "burst")
        else:
            ctx.stop()

    def on_message(self, ctx: Any, message: Any) -> None:
        self.received += 1
        if self.received == self.messages:
            ctx.stop()


class Prober(App):
    """Node 'a' sends PROBE_RATE probes a second to 'b' for NETSIM_BENCH_SECONDS, then an 'end'."""

    def on_start(self, ctx: Any) -> None:
        if ctx.name != "a":
            return
        self.total = round(float(os.environ["NETSIM_BENCH_SECONDS"]) * PROBE_RATE)
        self.sent = 0
        self.ticks = 0
        self.started_ns = ctx.now_ns()
        self.on_timer(ctx, "tick", None)

    def on_timer(self, ctx: Any, name: str, data: Any) -> None:
        self.ticks += 1
        due = min(self.total, (ctx.now_ns() - self.started_ns) // PROBE_PERIOD_NS + 1)
        while self.sent < due:
            ctx.send("b", "probe", self.sent)
            self.sent += 1
        if self.sent < self.total:
            next_due_ns = self.started_ns + self.sent * PROBE_PERIOD_NS
            ctx.set_timer(max(0, next_due_ns - ctx.now_ns()) / 1e9, "tick")
            return
        ctx.record(ticks=self.ticks, probes=self.sent)
        # Sent last on the same link with the same latency, it arrives after every probe.
        ctx.send("b", "end")
        ctx.stop()

    def on_message(self, ctx: Any, message: Any) -> None:
        if message.type == "end":
            ctx.stop()


# ---- running one pair --------------------------------------------------------------------------------


@dataclass(slots=True)
class Placement:
    """Per node ('a', 'b'): the CPU it last ran on and how often the kernel preempted it.

    Sampled at each progress report (about ten a second) while the node is alive; the last sample
    wins. Involuntary context switches count the times a node was descheduled while it still
    wanted to run (another process took its CPU): each one is a stall of up to a time slice.
    """

    cpus: dict[str, int] = field(default_factory=dict)
    preempted: dict[str, int] = field(default_factory=dict)

    def format(self) -> str:
        return " ".join(f"{name}:cpu{self.cpus[name]}" if name in self.cpus else f"{name}:?" for name in "ab")

    def format_cpus(self) -> str:
        return "/".join(str(self.cpus.get(name, "?")) for name in "ab")

    def format_preempted(self) -> str:
        return "/".join(str(self.preempted.get(name, "?")) for name in "ab")


def involuntary_switches(pid: int) -> int | None:
    """``nonvoluntary_ctxt_switches`` of ``pid`` from /proc; None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("nonvoluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def run_pair(
    app: str, transport: str, attrs: dict[str, Any], out: str, env: dict[str, str]
) -> tuple[Path, Placement]:
    """One a -> b run; returns its run directory (the caller reads the trace and removes it)."""
    os.environ.update(env)
    topology = Topology(
        "pair",
        f"bench/shaping/{transport}",
        (NodeSpec("a", 0), NodeSpec("b", 1)),
        (LinkSpec("a", "b", transport, dict(attrs)),),
    )
    pids: dict[str, int] = {}
    placement = Placement()

    def pin(ready: list[Any]) -> None:
        for node in ready:
            pids[node.name] = node.pid
            os.sched_setaffinity(node.pid, {SENDER_CPU if node.name == "a" else RECEIVER_CPU})

    def sample(progress: Any) -> None:
        # A short run may end before its first "running" report, so the "stopping" ones count too
        # (the nodes are still alive, draining). A node that is gone reads None: keep the last value.
        if not pids or progress.phase == "starting":
            return
        for name, pid in pids.items():
            cpu, switches = last_cpu(pid), involuntary_switches(pid)
            if cpu is not None:
                placement.cpus[name] = cpu
            if switches is not None:
                placement.preempted[name] = switches

    result = netsim.run(
        topology,
        app=f"{Path(__file__).resolve()}:{app}",
        seed=1,
        out=out,
        duration=30,
        quiet=0.5,
        on_ready=pin,
        on_progress=sample,
    )
    if not result.ok:
        raise SystemExit(f"run {result.run_dir} failed: {result.summary.node_failures}")
    return result.run_dir, placement


# ---- 1. overhead -------------------------------------------------------------------------------------


def blast_rate(transport: str, shaped: bool, messages: int, out: str) -> tuple[float, int, Placement]:
    """(messages/s end to end, messages received, placement) of one Blaster run."""
    attrs = {"queue": NEVER_FULL_QUEUE} if shaped else {}
    run_dir, placement = run_pair("Blaster", transport, attrs, out, {"NETSIM_BENCH_MESSAGES": str(messages)})
    first_send = last_receive = None
    received = 0
    for event in iter_events(run_dir):
        if event.get("msg_type") != "blast":
            continue
        if event["event"] in SEND_EVENTS and first_send is None:
            first_send = event["ts_ns"]
        elif event["event"] in RECEIVE_EVENTS:
            received += 1
            last_receive = event["ts_ns"]
    shutil.rmtree(run_dir, ignore_errors=True)
    if not received or first_send is None or last_receive is None:
        return 0.0, 0, placement
    return received / ((last_receive - first_send) / 1e9), received, placement


def overhead_table(messages: int, repeat: int, out: str) -> Any:
    rows = []
    for transport in OVERHEAD_TRANSPORTS:
        off_rates: list[float] = []
        on_rates: list[float] = []
        delivered: list[float] = []
        placements: list[str] = []
        for _ in range(repeat):
            for shaped, rates in ((False, off_rates), (True, on_rates)):
                rate, received, placement = blast_rate(transport, shaped, messages, out)
                rates.append(rate)
                delivered.append(received / messages)
                placements.append(placement.format())
        off, on = Spread.of(off_rates), Spread.of(on_rates)
        overhead = 1 - on.median / off.median if off.median else float("nan")
        rows.append(
            (
                transport,
                off.format(),
                on.format(),
                f"{on.median / off.median:.2f}x" if off.median else "-",
                f"{overhead:+.1%}",
                "PASS" if overhead < OVERHEAD_GOAL else "MISS",
                f"{min(delivered):.1%}",
                " / ".join(sorted(set(placements))),
            )
        )
        PROGRESS.print(f"done: overhead {transport}", style="dim")
    return make_table(
        f"1. shaping overhead: msg/s a -> b, median (min-max) of {repeat} run{'s' if repeat != 1 else ''}",
        ("transport", "off msg/s", "on msg/s", "on / off", "overhead", "goal <20%", "delivered", "placement"),
        rows,
        caption=f"{messages:,} messages of a {len(BODY)}-byte body per run; off = no link attributes (no "
        f"shaper), on = queue: {NEVER_FULL_QUEUE:,} (shaper, zero delay). overhead = 1 - on/off; delivered: "
        "lowest of all runs; placement: the CPU each node last ran on (pinned a:cpu0, b:cpu1).",
    )


# ---- 2. latency accuracy -----------------------------------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(len(ordered), rank) - 1]


@dataclass(slots=True)
class Accuracy:
    errors_ms: list[float]
    lateness_ms: list[float]
    transit_ms: list[float]
    probes: int
    load_rate: float
    per_tick: float
    placement: Placement


def probe_accuracy(transport: str, latency_ms: int, seconds: float, out: str) -> Accuracy:
    run_dir, placement = run_pair(
        "Prober", transport, {"latency_ms": latency_ms}, out, {"NETSIM_BENCH_SECONDS": str(seconds)}
    )
    decided: dict[str, tuple[int, int]] = {}  # msg_id -> (delay ts_ns, delay_ns)
    sent: dict[str, int] = {}
    received: dict[str, int] = {}
    ticks = 0
    for event in iter_events(run_dir):
        kind = event["event"]
        if kind == "app":
            ticks = event["data"]["ticks"]
            continue
        if event.get("msg_type") != "probe":
            continue
        if kind == "delay":
            decided[event["msg_id"]] = (event["ts_ns"], event["delay_ns"])
        elif kind in SEND_EVENTS:
            sent[event["msg_id"]] = event["ts_ns"]
        elif kind in RECEIVE_EVENTS:
            received[event["msg_id"]] = event["ts_ns"]
    shutil.rmtree(run_dir, ignore_errors=True)
    configured_ns = latency_ms * 1_000_000
    errors, lateness, transit = [], [], []
    for msg_id, (decided_ns, delay_ns) in decided.items():
        if msg_id not in received or msg_id not in sent:
            continue
        errors.append((received[msg_id] - decided_ns - configured_ns) / 1e6)
        lateness.append((sent[msg_id] - decided_ns - delay_ns) / 1e6)
        transit.append((received[msg_id] - sent[msg_id]) / 1e6)
    stamps = sorted(ts for ts, _ in decided.values())
    span_s = (stamps[-1] - stamps[0]) / 1e9 if len(stamps) > 1 else 0.0
    return Accuracy(
        sorted(errors),
        sorted(lateness),
        sorted(transit),
        len(decided),
        (len(stamps) - 1) / span_s if span_s else 0.0,
        len(decided) / ticks if ticks else float("nan"),
        placement,
    )


def accuracy_table(seconds: float, out: str) -> Any:
    rows = []
    for transport in LATENCY_TRANSPORTS:
        for latency_ms in LATENCIES_MS:
            result = probe_accuracy(transport, latency_ms, seconds, out)
            errors = result.errors_ms
            if not errors:
                rows.append((transport, f"{latency_ms} ms", "no probe arrived"))
                continue
            median_error = statistics.median(errors)
            rows.append(
                (
                    transport,
                    f"{latency_ms} ms",
                    f"{result.load_rate:,.0f}",
                    f"{result.per_tick:.2f}",
                    f"{len(errors):,}/{result.probes:,}",
                    f"{errors[0]:.3f}",
                    f"{median_error:.3f}",
                    f"{percentile(errors, 0.90):.3f}",
                    f"{percentile(errors, 0.99):.3f}",
                    f"{errors[-1]:.3f}",
                    f"{statistics.median(result.lateness_ms):.3f}",
                    f"{percentile(result.lateness_ms, 0.99):.3f}",
                    f"{statistics.median(result.transit_ms):.3f}",
                    "PASS" if median_error < ERROR_GOAL_MS else "MISS",
                    result.placement.format_preempted(),
                    result.placement.format_cpus(),
                )
            )
            PROGRESS.print(f"done: latency {transport} {latency_ms} ms", style="dim")
    return make_table(
        f"2. latency accuracy: error = one-way latency - configured latency, {PROBE_RATE:,} msg/s "
        f"for {seconds:g} s, one run per row",
        (
            "transport",
            "latency",
            "load msg/s",
            "per tick",
            "measured",
            "min",
            "median",
            "p90",
            "p99",
            "max",
            "loop late p50",
            "p99",
            "wire p50",
            "goal <1",
            "preempted a/b",
            "cpu a/b",
        ),
        rows,
        caption="min to wire p50 in ms. measured = probes received / sent; one-way "
        "latency = b's recv ts - a's delay ts (taken in ctx.send). loop late = a's send ts (the kernel took "
        "the message) - (delay ts + delay_ns): the sender's event loop waking after the release time. "
        "wire = b's recv ts - a's send ts (kernel, wake-up of b, decode). error = loop late + wire. "
        "load = probes / (last send call - first), from the trace; per tick = probes per timer tick; "
        "goal: median error under 1 ms; preempted = involuntary context switches of each node over its "
        "life (another process took its CPU); cpu = the CPU each node last ran on (pinned a:0, b:1).",
    )


class CpuMeter:
    """How busy the machine was outside this bench: other processes compete for the two CPUs.

    Busy time of all CPUs (/proc/stat, steal included) minus the CPU time of this process and its
    reaped children (the node processes), over the meter's life. Interrupt time that the kernel does
    not charge to a process also lands here, so read it as an upper bound on the competition.
    """

    def __init__(self) -> None:
        self.started = (time.monotonic(), machine_busy_s(), own_cpu_s())

    def other_share(self) -> str:
        wall_s = time.monotonic() - self.started[0]
        other_s = max(0.0, machine_busy_s() - self.started[1] - (own_cpu_s() - self.started[2]))
        cpus = os.cpu_count() or 1
        return f"{other_s:.1f} CPU-s in {wall_s:.1f} s ({other_s / (wall_s * cpus):.0%} of {cpus} CPUs)"


def machine_busy_s() -> float:
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


# ---- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--messages", type=int, default=50_000, help="messages per overhead run (default 50000)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="overhead runs per side (default 7)")
    parser.add_argument("--seconds", type=float, default=2.0, help="probe time per latency run (default 2)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.repeat < 1 or args.seconds <= 0:
        parser.error("--messages and --repeat need at least 1, --seconds must be positive")
    if not {SENDER_CPU, RECEIVER_CPU} <= os.sched_getaffinity(0):
        sys.exit(
            f"this bench pins the two nodes to cpu{SENDER_CPU} and cpu{RECEIVER_CPU}; both must be allowed"
        )
    out = console()
    out.print(f"[bold]bench/shaping.py[/bold]: {machine_line()}")
    with temp_dir("netsim-bench-shaping-") as run_dir:
        meter = CpuMeter()
        overhead = overhead_table(args.messages, args.repeat, run_dir)
        overhead_other = meter.other_share()
        meter = CpuMeter()
        accuracy = accuracy_table(args.seconds, run_dir)
        accuracy_other = meter.other_share()
    out.print(overhead)
    out.print(f"CPU time not charged to this bench while table 1 ran: {overhead_other}")
    out.print(accuracy)
    out.print(f"CPU time not charged to this bench while table 2 ran: {accuracy_other}")
    leftover = child_pids()
    out.print(f"Leftover child processes: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())

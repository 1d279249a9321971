"""What tracing a socket program's calls costs: per call, and for a 100-node run.

1. Per call. One process sends a 64-byte message on one end of a connected pair and receives it on
   the other (``send`` then ``recv``, TCP_NODELAY on tcp), COUNT times, over AF_UNIX stream and TCP
   loopback: once with plain ``socket.socket`` objects (the baseline) and once with ``TracedSocket``
   objects made by a ``Net`` as a socket program's node makes them (each call checks the link's
   conditions and writes one ``call`` event to a trace file). A round measures both back to back;
   the table gives the median (min-max) over the rounds of ns per send+recv pair, the traced/plain
   ratio, and the time tracing adds to one call.
2. A run. ``ring:N`` (100 nodes by default) where every node connects to its successor, sends it
   LINES 64-byte lines (one ``sendall`` each) and reads as many from its predecessor
   (``bench/socket_ring_apps.py:ring_lines``), against the same exchange written as a netsim App on
   netsim's own links (``RingLines``: LINES messages to the successor, every send and receive traced).
   Start-up is from the ``netsim.run()`` call to ``on_ready`` (every node bound, its declared listeners
   up, the start barrier passed); run time is from the first node's ``start`` to the last node's
   ``done`` in the trace; traced events per second count the socket program's ``call`` events (or
   the App's ``send`` and ``recv`` events) over that time.

By default the bench and every process it forks run on CPU 0 (``--cpus``), so that part 1 is one
process on one CPU and both sides of part 2 share the same single CPU; the report says where
processes ran.

Run: python bench/socket_calls.py [--count 20000] [--repeat 5] [--nodes 100] [--lines 200]
                                  [--ring-repeat 3] [--cpus 0] [--skip-ring]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    Spread,
    child_pids,
    console,
    cpu_placement,
    format_placements,
    machine_line,
    make_table,
    parse_cpu_list,
    pin_to_cpus,
    pinning_line,
    temp_dir,
)

MESSAGE = b"x" * 64
RECV_SIZE = 4096
RING_APPS = Path(__file__).with_name("socket_ring_apps.py")
LINES_VARIABLE = "NETSIM_BENCH_RING_LINES"


# ---- 1. the cost of one call -----------------------------------------------------------------------------


def traced_net(directory: str) -> Any:
    """A ``Net`` as a socket program's node has one, outside a run: its calls go to a trace file in
    ``directory``; every node shares 127.0.0.1 (no per-node address) and no link is shaped."""
    from netsim.runtime.net import Net
    from netsim.runtime.program_links import ProgramSockets

    sockets = ProgramSockets(
        node_name="bench",
        node_index=0,
        node_names=("bench",),
        neighbours=(),
        host="127.0.0.1",
        host_base=0,
        socket_dir=directory,
        trace_path=os.path.join(directory, "calls.trace.jsonl"),
        seed=1,
        shapers={},
    )
    return Net(
        sockets, index=0, nodes=("bench",), neighbours=(), seed=1, log=lambda _: None, record=lambda _: None
    )


def connected_pair(make_socket: Any, family: int, address: Any) -> tuple[socket.socket, socket.socket]:
    listener = make_socket(family, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(1)
    sender = make_socket(family, socket.SOCK_STREAM)
    sender.connect(listener.getsockname())
    receiver, _ = listener.accept()
    listener.close()
    if family == socket.AF_INET:
        # Without it, Nagle holds each send after the first until an ACK the receiver delays by 40 ms.
        for end in (sender, receiver):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sender, receiver


def ns_per_pair(sender: socket.socket, receiver: socket.socket, count: int) -> float:
    send, recv = sender.send, receiver.recv
    start = time.perf_counter_ns()
    for _ in range(count):
        send(MESSAGE)
        recv(RECV_SIZE)
    return (time.perf_counter_ns() - start) / count


@dataclass
class CallCost:
    transport: str
    plain_ns: list[float]
    traced_ns: list[float]
    trace_bytes_per_call: float


def measure_calls(transport: str, count: int, repeat: int, directory: str) -> CallCost:
    family = socket.AF_UNIX if transport == "unix" else socket.AF_INET
    net = traced_net(directory)
    plain_ns: list[float] = []
    traced_ns: list[float] = []
    trace_path = os.path.join(directory, "calls.trace.jsonl")
    for round_number in range(repeat + 1):  # round 0 warms up both sides and is not counted
        pairs = []
        for side, make_socket in (("plain", socket.socket), ("traced", net.socket)):
            address = (
                os.path.join(directory, f"{side}-{round_number}.sock")
                if family == socket.AF_UNIX
                else ("127.0.0.1", 0)
            )
            pairs.append(connected_pair(make_socket, family, address))
        net._sockets.flush()  # noqa: SLF001 - the set-up's calls are not the ones measured
        size_before = os.path.getsize(trace_path)
        plain = ns_per_pair(*pairs[0], count)
        traced = ns_per_pair(*pairs[1], count)
        net._sockets.flush()  # noqa: SLF001
        trace_bytes = (os.path.getsize(trace_path) - size_before) / (2 * count)
        for pair in pairs:
            for end in pair:
                end.close()
        if round_number:
            plain_ns.append(plain)
            traced_ns.append(traced)
    net._sockets.close()  # noqa: SLF001
    return CallCost(transport, plain_ns, traced_ns, trace_bytes)


def report_calls(costs: list[CallCost], count: int) -> None:
    rows = []
    for cost in costs:
        ratios = [traced / plain for traced, plain in zip(cost.traced_ns, cost.plain_ns, strict=True)]
        added = [(traced - plain) / 2 for traced, plain in zip(cost.traced_ns, cost.plain_ns, strict=True)]
        rows.append(
            (
                cost.transport,
                Spread.of(cost.plain_ns).format(0),
                Spread.of(cost.traced_ns).format(0),
                Spread.of(ratios).format(2) + "x",
                Spread.of(added).format(0),
                f"{1e9 / statistics.median(cost.traced_ns) * 2:,.0f}",
                f"{cost.trace_bytes_per_call:.0f}",
            )
        )
    console().print(
        make_table(
            f"1. One send + one recv of {len(MESSAGE)} bytes in one process, {count:,} pairs per round",
            [
                "transport",
                "plain ns/pair",
                "traced ns/pair",
                "traced / plain",
                "ns added per call",
                "traced calls/s",
                "trace B/call",
            ],
            rows,
            caption="median (min-max) over the rounds; each round measures plain, then traced",
        )
    )


# ---- 2. a 100-node run -----------------------------------------------------------------------------------


@dataclass
class RingRun:
    side: str
    startup_s: float
    run_s: float
    wall_s: float
    events: int
    ended_by: str
    placement: Any


def measure_ring(side: str, nodes: int, lines: int, out: str) -> RingRun:
    import netsim
    from netsim.trace import iter_events

    app = f"{RING_APPS}:ring_lines" if side == "socket program" else f"{RING_APPS}:RingLines"
    ready_at: list[float] = []
    placement: list[Any] = []

    def on_ready(node_info: Any) -> None:
        ready_at.append(time.perf_counter())
        # ~10 us a process: the nodes' CPUs as the run starts (the fork server's children).
        placement.append(cpu_placement(pid for server in child_pids() for pid in child_pids(server)))

    started = time.perf_counter()
    result = netsim.run(
        f"ring:{nodes}",
        app=app,
        seed=1,
        out=out,
        quiet=1.0,
        duration=120,
        startup_timeout=300,
        on_ready=on_ready,
    )
    wall = time.perf_counter() - started
    if result.summary.exit_status != "ok":
        raise SystemExit(f"{side}: the run failed: {result.summary.node_failures}")
    starts, dones, events = [], [], 0
    counted = ("call",) if side == "socket program" else ("send", "recv")
    for event in iter_events(result.run_dir):
        kind = event["event"]
        if kind == "start":
            starts.append(event["ts_ns"])
        elif kind == "done":
            dones.append(event["ts_ns"])
        elif kind in counted and event.get("msg_type", "line") == "line":
            events += 1
    run_s = (max(dones) - min(starts)) / 1e9 if dones and starts else float("nan")
    return RingRun(
        side,
        ready_at[0] - started if ready_at else float("nan"),
        run_s,
        wall,
        events,
        result.summary.ended_by,
        placement[0] if placement else None,
    )


def report_ring(runs: list[RingRun], nodes: int, lines: int) -> None:
    sides = ("socket program", "App")
    by_side = {side: [run for run in runs if run.side == side] for side in sides}
    baseline = {
        "startup": statistics.median(run.startup_s for run in by_side["App"]),
        "run": statistics.median(run.run_s for run in by_side["App"]),
    }
    rows = []
    for side in sides:
        samples = by_side[side]
        rates = [run.events / run.run_s for run in samples]
        rows.append(
            (
                side,
                Spread.of([run.startup_s * 1e3 for run in samples]).format(0),
                f"{statistics.median(run.startup_s for run in samples) / baseline['startup']:.2f}x",
                Spread.of([run.run_s * 1e3 for run in samples]).format(0),
                f"{statistics.median(run.run_s for run in samples) / baseline['run']:.2f}x",
                Spread.of([run.wall_s * 1e3 for run in samples]).format(0),
                f"{samples[0].events:,}",
                Spread.of(rates).format(0),
                ", ".join(sorted({run.ended_by for run in samples})),
            )
        )
    console().print(
        make_table(
            f"2. ring:{nodes}, each node sends {lines} lines of 64 bytes to its successor",
            [
                "node program",
                "start-up ms",
                "vs App",
                "run ms",
                "vs App",
                "netsim.run() ms",
                "events traced",
                "events/s",
                "ended by",
            ],
            rows,
            caption=(
                "start-up: netsim.run() called -> on_ready; run: first start -> last done (trace); events: "
                "the program's call events, or the App's send and recv events of its lines"
            ),
        )
    )
    console().print(
        "Placement of the node processes, sampled once per run: "
        + "; ".join(
            f"{side}: {format_placements(r.placement for r in by_side[side] if r.placement)}"
            for side in sides
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="send+recv pairs per round (default 20000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of part 1 (default 5)")
    parser.add_argument("--nodes", type=int, default=100, help="ring size of part 2 (default 100)")
    parser.add_argument(
        "--lines", type=int, default=200, help="lines each node sends in part 2 (default 200)"
    )
    parser.add_argument("--ring-repeat", type=int, default=3, help="runs of each side in part 2 (default 3)")
    parser.add_argument(
        "--cpus", default="0", help="pin the bench and its processes to these CPUs (default 0)"
    )
    parser.add_argument("--skip-ring", action="store_true", help="part 1 only")
    args = parser.parse_args(argv)
    if args.count < 1 or args.repeat < 1 or args.nodes < 2 or args.lines < 1 or args.ring_repeat < 1:
        parser.error("--count, --repeat, --lines and --ring-repeat need at least 1, --nodes at least 2")
    if args.cpus:
        pin_to_cpus(parse_cpu_list(args.cpus))
    console().print(machine_line())
    console().print(pinning_line(bool(args.cpus)))

    with temp_dir("netsim-bench-calls-") as directory:
        costs = [
            measure_calls(transport, args.count, args.repeat, directory) for transport in ("unix", "tcp")
        ]
    report_calls(costs, args.count)

    if not args.skip_ring:
        # The fork server imports socket_ring_apps.py afresh, and reads the line count from its environment.
        os.environ[LINES_VARIABLE] = str(args.lines)
        runs: list[RingRun] = []
        with temp_dir("netsim-bench-ring-") as out:
            for _ in range(args.ring_repeat):
                for side in ("App", "socket program"):
                    runs.append(measure_ring(side, args.nodes, args.lines, out))
                    run = runs[-1]
                    print(
                        f"  {side}: start-up {run.startup_s * 1e3:,.0f} ms, run {run.run_s * 1e3:,.0f} ms, "
                        f"{run.events:,} events",
                        file=sys.stderr,
                    )
        report_ring(runs, args.nodes, args.lines)

    leftover = child_pids()
    console().print(f"Leftover child processes: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())

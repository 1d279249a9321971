"""Program nodes (``--cmd``): messages per second through a program vs a Python app, and start-up and
memory of many program nodes.

relay: on ``line:3``, n0 (a Python app) sends 20,000 Maelstrom-shaped messages to n1, which passes
each on to n2 (a Python app that counts them). n1 is either a program (``bench/relay_program.py``,
read a line, write a line, flush, under the same Python) or the Python app ``Relay``: the baseline,
measured in the same run. Messages per second = 20,000 over the time from n0's first send to n2's
last receive (both from the trace). The two alternate, ``--repeat`` times each (median, min-max).

broadcast: Gossip Glomers' challenge 3d as netsim runs it: ``grid:5x5`` (25 nodes), 100 ms on every
link, the broadcast workload for ``--time-limit`` seconds at 100 ops/s over 5 clients, the program
``tests/programs/broadcast.py`` (acknowledged gossip to its neighbours every 0.2 s). Figures: the
verdict, msgs-per-op, and the checker's stable latency (from a value's broadcast until every later
read has it), median and max; the challenge's targets are < 30 msgs-per-op, < 400 ms median and
< 600 ms max. No baseline runs beside it: these are the workload's own figures.

scale: the echo workload (3 s, 50 ops/s, 5 clients) on ``ring:N`` for N in ``--sizes`` (default
100,500), every server node running ``tests/programs/echo.py``. Ready is ``on_ready`` (every program
has answered init, every link is up, the barrier passed); memory is PSS summed over the server nodes'
processes and their programs at ready, per server node (the clients and services not counted).

Run: python bench/programs.py [--repeat 3] [--sizes 100,500] [--time-limit 20] [--skip-scale]
[--skip-broadcast]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from _common import child_pids, console, machine_line, make_table, memory_per_process, ratio, temp_dir

import netsim
from netsim.topology.model import LinkSpec, NodeSpec, Topology

HERE = Path(__file__).resolve().parent
APPS = HERE / "programs_apps.py"
RELAY = f"{sys.executable} {HERE / 'relay_program.py'}"


def relay_topology(program: bool) -> Topology:
    middle = NodeSpec("n1", 1, cmd=RELAY) if program else NodeSpec("n1", 1, app=f"{APPS}:Relay")
    return Topology(
        name="relay",
        source="relay",
        nodes=(NodeSpec("n0", 0, app=f"{APPS}:Source"), middle, NodeSpec("n2", 2, app=f"{APPS}:Sink")),
        links=(LinkSpec("n0", "n1"), LinkSpec("n1", "n2")),
    )


def relay_rate(program: bool, out: str) -> float:
    result = netsim.run(relay_topology(program), seed=1, out=out, duration=120, allow_topology_apps=True)
    if not result.ok:
        raise SystemExit(f"relay run failed: {result.summary.to_dict()}")
    first = last = None
    with open(result.run_dir / "trace.jsonl", "rb") as trace:
        next(trace)
        for line in trace:
            if b'"app"' in line:
                event = orjson.loads(line)
                kind = event.get("data", {}).get("kind")
                if kind == "first-send":
                    first = event["ts_ns"]
                elif kind == "last-receive":
                    last = event["ts_ns"]
    assert first is not None and last is not None
    from programs_apps import MESSAGES

    return MESSAGES / ((last - first) / 1e9)


def broadcast(time_limit_s: float, out: str) -> dict[str, Any]:
    from netsim.workloads.setup import WorkloadOptions

    program = f"{sys.executable} {HERE.parent / 'tests' / 'programs' / 'broadcast.py'}"
    options = WorkloadOptions(
        name="broadcast", time_limit_s=time_limit_s, rate=100.0, concurrency=5, final_wait_s=3.0
    )
    result = netsim.run(
        "grid:5x5", cmd=program, seed=1, out=out, conditions={"latency": "100ms"}, workload=options
    )
    results = orjson.loads((result.run_dir / "results.json").read_bytes())
    stable = results["checkers"]["broadcast"]["details"]["stable_latency_ms"]
    return {
        "valid": results["valid"],
        "ops": results["ops"],
        "msgs_per_op": results["msgs_per_op"],
        "stable_p50_ms": stable["p50"],
        "stable_max_ms": stable["max"],
    }


def scale(size: int, out: str) -> dict[str, Any]:
    from netsim.workloads.setup import WorkloadOptions

    seen: dict[str, Any] = {}
    ring_nodes = {f"n{index}" for index in range(size)}

    def on_ready(nodes: list[Any]) -> None:
        seen["ready_at"] = time.perf_counter()
        servers = [node.pid for node in nodes if node.name in ring_nodes]
        everything = servers + [child for pid in servers for child in child_pids(pid)]
        seen["memory"], seen["processes"] = memory_per_process(everything)

    program = f"{sys.executable} {HERE.parent / 'tests' / 'programs' / 'echo.py'}"
    options = WorkloadOptions(name="echo", time_limit_s=3.0, rate=50.0, concurrency=5)
    started = time.perf_counter()
    result = netsim.run(
        f"ring:{size}", cmd=program, seed=1, out=out, startup_timeout=300, on_ready=on_ready, workload=options
    )
    if not result.ok:
        raise SystemExit(f"scale run failed: {result.summary.to_dict()}")
    workload = result.summary.to_dict()["workload"]
    return {
        "ready_s": seen["ready_at"] - started,
        "pss_mib_per_node": seen["memory"].pss_kib * seen["processes"] / size / 1024,
        "processes": seen["processes"],
        "valid": workload["valid"],
        "ops": workload["ops"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="100,500")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-broadcast", action="store_true")
    parser.add_argument("--time-limit", type=float, default=20.0, help="broadcast: seconds of operations")
    args = parser.parse_args()
    out_console = console()
    out_console.print(machine_line())
    with temp_dir("netsim-bench-programs") as out:
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeat):
            for program in (False, True):
                rates[program].append(relay_rate(program, out))
        table = make_table(
            "relay: messages per second through n1", ["n1", "msgs/s median", "min-max", "vs Python app"], []
        )
        base = statistics.median(rates[False])
        for program, label in ((False, "Python app (baseline)"), (True, "program (stdin/stdout)")):
            values = rates[program]
            table.add_row(
                label,
                f"{statistics.median(values):,.0f}",
                f"{min(values):,.0f}-{max(values):,.0f}",
                ratio(statistics.median(values), base),
            )
        out_console.print(table)
        if not args.skip_broadcast:
            figures = broadcast(args.time_limit, out)
            table = make_table(
                "broadcast: grid:5x5, 100 ms per link, 100 ops/s",
                ["valid", "ops", "msgs-per-op", "stable latency median ms", "max ms"],
                [],
            )
            table.add_row(
                str(figures["valid"]),
                str(figures["ops"]),
                f"{figures['msgs_per_op']:.2f}",
                f"{figures['stable_p50_ms']:,.0f}",
                f"{figures['stable_max_ms']:,.0f}",
            )
            out_console.print(table)
        if not args.skip_scale:
            table = make_table(
                "scale: the echo workload on ring:N, every node a program",
                ["N", "ready s", "ms/node", "PSS MiB/node (node + program)", "valid", "ops"],
                [],
            )
            for size in (int(text) for text in args.sizes.split(",")):
                figures = scale(size, out)
                table.add_row(
                    str(size),
                    f"{figures['ready_s']:.2f}",
                    f"{1000 * figures['ready_s'] / size:.1f}",
                    f"{figures['pss_mib_per_node']:.2f}",
                    str(figures["valid"]),
                    str(figures["ops"]),
                )
            out_console.print(table)


if __name__ == "__main__":
    main()

"""Launch cost, swept over the node count: start-up, shutdown and memory per node, vs bare fork.

For each size N, ``netsim.run(GRAPH)`` runs an app that stops in ``on_start``, so the run ends
right after start-up. GRAPH is ``ring:N`` by default (``--graph random`` takes ``random:N:P`` with
a mean degree of about 9, ``--graph grid`` the nearest square grid). "Ready" is the ``on_ready``
moment: every node has bound, exchanged addresses, connected its links and passed the start
barrier. Memory (PSS and RSS from /proc/<pid>/smaps_rollup) is summed over the node pids inside
``on_ready``, while every node is alive, and divided by N. Shutdown is the summary's
``timing.shutdown_s``: every node drained, closed and reaped.

The baseline, in the same run: a bare ``multiprocess`` program (fork context) starts N children; each
binds a TCP socket on 127.0.0.1:0 and sends its port over a multiprocess Pipe. "Ready" is the moment
the parent has every port; memory is read then, before the children are stopped and joined
("stop"). Baseline and netsim alternate, each measured --repeat times (median, min-max); sizes above
--repeat-up-to are measured once.

Run: python bench/launch.py [--sizes 100,300,1000,2000,5000] [--graph ring] [--repeat 3] [--cpus 0]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import multiprocess
from _common import (
    Memory,
    child_pids,
    console,
    cpu_placement,
    format_cpus,
    format_placements,
    last_cpu,
    machine_line,
    make_table,
    memory_per_process,
    parse_cpu_list,
    pin_to_cpus,
    pinning_line,
    ratio,
    spread,
    stop_processes,
    temp_dir,
)

import netsim
from netsim.launch.forkserver import REHEARSE_FROM_NODES
from netsim.launch.immortal import immortal_count

# The goals, at GOAL_NODES nodes: ready within READY_GOAL_RATIO of the bare fork baseline, and at
# most PSS_GOAL_MIB of memory per idle node.
GOAL_NODES = 1000
READY_GOAL_RATIO = 1.5
PSS_GOAL_MIB = 2.0
# Mean degree of --graph random.
RANDOM_DEGREE = 9


# Its own module: see bench/launch_app.py for why.
APP_SPEC = f"{os.path.join(os.path.dirname(os.path.abspath(__file__)), 'launch_app.py')}:StopAtStart"


@dataclass
class Sample:
    """One launch of N processes."""

    ready_s: float
    memory: Memory  # per process
    processes_read: int
    placement: Counter[int]
    parent_cpu: int | None
    wall_s: float
    memory_read_s: float
    stop_s: float = 0.0  # baseline: stop + join
    timing: dict[str, float] = field(default_factory=dict)  # netsim: summary["timing"]


# ---- netsim -----------------------------------------------------------------------------------------


def graph_spec(graph: str, size: int) -> str:
    if graph == "ring":
        return f"ring:{size}"
    if graph == "random":
        return f"random:{size}:{RANDOM_DEGREE / (size - 1):.6f}"
    side = max(2, round(size**0.5))
    return f"grid:{side}x{side}"


def measure_netsim(spec: str, out_dir: str) -> Sample:
    seen: dict[str, Any] = {}

    def on_ready(nodes: list[Any]) -> None:
        seen["ready_at"] = time.perf_counter()
        pids = [node.pid for node in nodes]
        seen["placement"] = cpu_placement(pids)
        seen["parent_cpu"] = last_cpu(os.getpid())
        reading = time.perf_counter()
        seen["memory"], seen["read"] = memory_per_process(pids)
        seen["memory_read_s"] = time.perf_counter() - reading
        seen["nodes"] = len(nodes)

    started = time.perf_counter()
    result = netsim.run(
        spec,
        app=APP_SPEC,
        seed=1,
        out=out_dir,
        duration=60.0,
        startup_timeout=60.0,
        on_ready=on_ready,
    )
    wall_s = time.perf_counter() - started
    shutil.rmtree(result.run_dir, ignore_errors=True)
    summary = result.summary.to_dict()
    if summary["ended_by"] != "done" or "ready_at" not in seen or seen["nodes"] != summary["nodes"]:
        raise SystemExit(
            f"netsim {spec} did not run cleanly: ended_by={summary['ended_by']!r}, "
            f"failures={summary['node_failures']}, nodes seen ready={seen.get('nodes')}"
        )
    return Sample(
        ready_s=seen["ready_at"] - started,
        memory=seen["memory"],
        processes_read=seen["read"],
        placement=seen["placement"],
        parent_cpu=seen["parent_cpu"],
        wall_s=wall_s,
        memory_read_s=seen["memory_read_s"],
        timing=dict(summary["timing"]),
    )


# ---- baseline: bare multiprocess fork ----------------------------------------------------------------


def _idle_child(conn: Any) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    conn.send(listener.getsockname()[1])
    conn.recv()  # "stop"
    listener.close()
    conn.close()


def measure_baseline(size: int) -> Sample:
    context = multiprocess.get_context("fork")
    processes: list[Any] = []
    conns: list[Any] = []
    started = time.perf_counter()
    try:
        for _ in range(size):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_idle_child, args=(child_end,), daemon=True)
            process.start()
            child_end.close()
            processes.append(process)
            conns.append(parent_end)
        for conn in conns:
            if not conn.poll(30.0):
                raise SystemExit("baseline: a child did not report its port within 30 s")
            conn.recv()
        ready_s = time.perf_counter() - started
        pids = [process.pid for process in processes]
        placement = cpu_placement(pids)
        parent_cpu = last_cpu(os.getpid())
        reading = time.perf_counter()
        memory, read = memory_per_process(pids)
        memory_read_s = time.perf_counter() - reading
        stopping = time.perf_counter()
        for conn in conns:
            conn.send("stop")
        for process in processes:
            process.join(10.0)
        stop_s = time.perf_counter() - stopping
        wall_s = time.perf_counter() - started
    finally:
        stop_processes(processes)
        for conn in conns:
            conn.close()
    return Sample(
        ready_s=ready_s,
        memory=memory,
        processes_read=read,
        placement=placement,
        parent_cpu=parent_cpu,
        wall_s=wall_s,
        memory_read_s=memory_read_s,
        stop_s=stop_s,
    )


# ---- report -------------------------------------------------------------------------------------------


def report(
    results: dict[int, tuple[str, list[Sample], list[Sample]]], repeat: int, pinned: bool, graph: str
) -> None:
    out = console()
    out.print(f"[bold]bench/launch.py[/bold]: {machine_line()}")
    out.print(
        f"netsim {netsim.__version__}; --graph {graph} with an app that stops in on_start; "
        f"{repeat} repeat(s) up to --repeat-up-to, baseline and netsim alternating; "
        "cells are median (min-max)."
    )
    out.print(pinning_line(pinned))
    out.print()

    rows = []
    for size, (spec, netsim_samples, base_samples) in results.items():
        netsim_ready = spread(netsim_samples, lambda s: s.ready_s)
        base_ready = spread(base_samples, lambda s: s.ready_s)
        netsim_stop = spread(netsim_samples, lambda s: s.timing["shutdown_s"])
        base_stop = spread(base_samples, lambda s: s.stop_s)
        rows.append(
            [
                spec,
                netsim_ready.format(0, 1e3),
                base_ready.format(0, 1e3),
                ratio(netsim_ready.median, base_ready.median),
                f"{netsim_ready.median / size * 1e3:.2f}",
                f"{base_ready.median / size * 1e3:.2f}",
                netsim_stop.format(0, 1e3),
                base_stop.format(0, 1e3),
                f"{netsim_stop.median / size * 1e3:.2f}",
                f"{base_stop.median / size * 1e3:.2f}",
            ]
        )
    out.print(
        make_table(
            "Start-up and shutdown, whole run and per node",
            [
                "graph",
                "netsim ready ms",
                "baseline ready ms",
                "ratio",
                "netsim ms/node",
                "baseline ms/node",
                "netsim shutdown ms",
                "baseline stop ms",
                "netsim ms/node",
                "baseline ms/node",
            ],
            rows,
            caption=(
                "netsim ready: netsim.run() called -> on_ready (bound, addresses exchanged, links up, start "
                "barrier passed).\nbaseline ready: first fork -> parent has every child's port. netsim "
                "shutdown: summary timing.shutdown_s (drain, close, every node reaped); baseline stop: "
                "'stop' sent to every child -> every child joined."
            ),
        )
    )

    rows = []
    for _size, (spec, netsim_samples, base_samples) in results.items():
        netsim_pss = spread(netsim_samples, lambda s: s.memory.pss_kib)
        base_pss = spread(base_samples, lambda s: s.memory.pss_kib)
        rows.append(
            [
                spec,
                netsim_pss.format(2, 1 / 1024),
                base_pss.format(2, 1 / 1024),
                ratio(netsim_pss.median, base_pss.median),
                spread(netsim_samples, lambda s: s.memory.rss_kib).format(2, 1 / 1024),
                spread(base_samples, lambda s: s.memory.rss_kib).format(2, 1 / 1024),
                spread(netsim_samples, lambda s: s.memory_read_s).format(0, 1e3),
            ]
        )
    out.print(
        make_table(
            "Memory per idle process at ready",
            [
                "graph",
                "netsim PSS/node MiB",
                "baseline PSS/child MiB",
                "ratio",
                "netsim RSS/node MiB",
                "baseline RSS/child MiB",
                "PSS read ms",
            ],
            rows,
            caption="smaps_rollup summed over the live processes at ready, divided by N (read in on_ready).",
        )
    )

    rows = []
    for _size, (spec, netsim_samples, _) in results.items():
        rows.append(
            [
                spec,
                spread(netsim_samples, lambda s: s.timing["startup_s"]).format(0, 1e3),
                spread(netsim_samples, lambda s: s.timing["running_s"]).format(0, 1e3),
                spread(netsim_samples, lambda s: s.timing["shutdown_s"]).format(0, 1e3),
                spread(netsim_samples, lambda s: s.wall_s).format(0, 1e3),
            ]
        )
    out.print(
        make_table(
            "netsim summary timing, ms",
            ["graph", "startup", "running", "shutdown", "whole run() call"],
            rows,
            caption=(
                "startup/running/shutdown: summary['timing'] (the launcher's own clock). The whole call "
                "adds loading, the trace merge, the summary and the bench's PSS read in on_ready."
            ),
        )
    )

    rows = []
    for _size, (spec, netsim_samples, base_samples) in results.items():
        rows.append(
            [
                spec,
                format_placements(sample.placement for sample in netsim_samples),
                format_cpus(sample.parent_cpu for sample in netsim_samples),
                format_placements(sample.placement for sample in base_samples),
                format_cpus(sample.parent_cpu for sample in base_samples),
            ]
        )
    out.print(
        make_table(
            "CPU placement at ready (the CPU each process last ran on; one entry per repeat)",
            ["graph", "netsim nodes", "netsim parent", "baseline children", "baseline parent"],
            rows,
        )
    )

    out.print()
    per_node = {
        size: spread(samples, lambda s: s.ready_s).median / size for size, (_, samples, _) in results.items()
    }
    if len(per_node) > 1:
        smallest, largest = min(per_node), max(per_node)
        out.print(
            f"Start-up per node: {per_node[smallest] * 1e3:.2f} ms at N={smallest:,}, "
            f"{per_node[largest] * 1e3:.2f} ms at N={largest:,} "
            f"({per_node[largest] / per_node[smallest]:.2f}x; 1.00x is flat)"
        )
    if GOAL_NODES in results:
        _, netsim_samples, base_samples = results[GOAL_NODES]
        netsim_ready = spread(netsim_samples, lambda s: s.ready_s).median
        ready_ratio = netsim_ready / spread(base_samples, lambda s: s.ready_s).median
        verdict = "PASS" if ready_ratio <= READY_GOAL_RATIO else "MISS"
        out.print(
            f"Goal: {GOAL_NODES:,} nodes ready within {READY_GOAL_RATIO:g}x of the bare fork: "
            f"[bold]{verdict}[/bold] ({ready_ratio:.2f}x)"
        )
        pss_mib = spread(netsim_samples, lambda s: s.memory.pss_kib).median / 1024
        verdict = "PASS" if pss_mib <= PSS_GOAL_MIB else "MISS"
        out.print(
            f"Goal: at most {PSS_GOAL_MIB:g} MiB PSS per idle node at {GOAL_NODES:,} nodes: "
            f"[bold]{verdict}[/bold] ({pss_mib:.2f} MiB)"
        )
    else:
        out.print(f"Goals at {GOAL_NODES:,} nodes: not measured (add it to --sizes)")
    # Only where the interpreter has immortal objects, and only in runs the server rehearses for.
    immortal = "yes" if immortal_count() is not None else "no, this interpreter has no immortal objects"
    out.print(
        f"Fork server's heap made immortal from {REHEARSE_FROM_NODES} nodes "
        f"(netsim.launch.immortal): {immortal}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="100,300,1000,2000,5000",
        help="node counts, comma-separated (default 100,300,1000,2000,5000)",
    )
    parser.add_argument("--graph", choices=("ring", "random", "grid"), default="ring")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per size and side (default 3)")
    parser.add_argument(
        "--repeat-up-to",
        type=int,
        default=1000,
        help="sizes above this are measured once per side (default 1000)",
    )
    parser.add_argument(
        "--cpus",
        default=None,
        help="pin the bench and all its processes to these CPUs, e.g. 0 or 0-1 (default: no pinning)",
    )
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    if not sizes or min(sizes) < 4 or args.repeat < 1:
        parser.error("--sizes needs node counts >= 4 and --repeat at least 1")
    if args.cpus is not None:
        pin_to_cpus(parse_cpu_list(args.cpus))
    # The baseline holds three descriptors per child (its pipe, multiprocess's sentinel) and each child
    # inherits those of the children before it; netsim raises its own limit as a run needs.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    # Import netsim's launch machinery now so that the first measurement does not pay for it.
    import netsim.launch.run  # noqa: F401

    results: dict[int, tuple[str, list[Sample], list[Sample]]] = {}
    with temp_dir("netsim-bench-launch-") as out_dir:
        for size in sizes:
            spec = graph_spec(args.graph, size)
            netsim_samples: list[Sample] = []
            base_samples: list[Sample] = []
            for _ in range(args.repeat if size <= args.repeat_up_to else 1):
                base_samples.append(measure_baseline(size))
                netsim_samples.append(measure_netsim(spec, out_dir))
                print(
                    f"  {spec}: netsim ready {netsim_samples[-1].ready_s * 1e3:,.0f} ms, "
                    f"baseline {base_samples[-1].ready_s * 1e3:,.0f} ms",
                    file=sys.stderr,
                )
            results[size] = (spec, netsim_samples, base_samples)
    report(results, args.repeat, pinned=args.cpus is not None, graph=args.graph)
    leftover = child_pids()
    console().print(f"Leftover child processes: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())

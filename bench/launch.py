"""Launch cost: time from ``netsim.run()`` to all nodes ready, and memory per node, vs bare fork.

For each size N, ``netsim.run("ring:N")`` runs an app that stops in ``on_start``, so the run ends
right after start-up. "Ready" is the ``on_ready`` moment: every node has bound, exchanged addresses,
connected its links and passed the start barrier. Memory (PSS and RSS from /proc/<pid>/smaps_rollup)
is summed over the node pids inside ``on_ready``, while every node is alive, and divided by N.

The baseline, in the same run: a bare ``multiprocess`` program (fork context, like netsim) starts N
children; each binds a TCP socket on 127.0.0.1:0 and sends its port over a multiprocess Pipe.
"Ready" is the moment the parent has every port; memory is read then, before the children are
stopped and joined. Baseline and netsim alternate, each measured --repeat times (median, min-max).

Run: python bench/launch.py [--sizes 10,100,300] [--repeat 3] [--cpus 0]
"""

from __future__ import annotations

import argparse
import os
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

READY_GOAL_NODES = 300
READY_GOAL_S = 5.0
MEMORY_GOAL_RATIO = 2.0


class StopAtStart(netsim.App):
    """Stops as soon as the run starts, so that the run ends right after start-up."""

    def on_start(self, ctx: Any) -> None:
        ctx.stop()


# netsim imports this file again (as a module) in the parent and in every node to find the app:
# keep everything at module level cheap and free of side effects.
APP_SPEC = f"{os.path.abspath(__file__)}:StopAtStart"


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


def measure_netsim(size: int, out_dir: str) -> Sample:
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
        f"ring:{size}",
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
    if summary["ended_by"] != "done" or "ready_at" not in seen or seen["nodes"] != size:
        raise SystemExit(
            f"netsim ring:{size} did not run cleanly: ended_by={summary['ended_by']!r}, "
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


def report(results: dict[int, tuple[list[Sample], list[Sample]]], repeat: int, pinned: bool) -> None:
    out = console()
    out.print(f"[bold]bench/launch.py[/bold]: {machine_line()}")
    out.print(
        f"netsim {netsim.__version__}; ring:N with an app that stops in on_start; "
        f"{repeat} repeat(s), baseline and netsim alternating; cells are median (min-max)."
    )
    out.print(pinning_line(pinned))
    out.print()

    rows = []
    for size, (netsim_samples, base_samples) in results.items():
        netsim_ready = spread(netsim_samples, lambda s: s.ready_s)
        base_ready = spread(base_samples, lambda s: s.ready_s)
        netsim_pss = spread(netsim_samples, lambda s: s.memory.pss_kib)
        base_pss = spread(base_samples, lambda s: s.memory.pss_kib)
        rows.append(
            [
                str(size),
                netsim_ready.format(0, 1e3),
                base_ready.format(0, 1e3),
                ratio(netsim_ready.median, base_ready.median),
                netsim_pss.format(2, 1 / 1024),
                base_pss.format(2, 1 / 1024),
                ratio(netsim_pss.median, base_pss.median),
                spread(netsim_samples, lambda s: s.memory.rss_kib).format(2, 1 / 1024),
                spread(base_samples, lambda s: s.memory.rss_kib).format(2, 1 / 1024),
            ]
        )
    out.print(
        make_table(
            "Launch: start to all ready, and memory per process",
            [
                "N",
                "netsim ready ms",
                "baseline ready ms",
                "ratio",
                "netsim PSS/node MiB",
                "baseline PSS/child MiB",
                "ratio",
                "netsim RSS/node MiB",
                "baseline RSS/child MiB",
            ],
            rows,
            caption=(
                "netsim ready: netsim.run() called -> on_ready (bound, addresses exchanged, links up, start "
                "barrier passed).\nbaseline ready: first fork -> parent has every child's port. Memory: "
                "smaps_rollup summed over the live processes at ready, divided by N."
            ),
        )
    )

    rows = []
    for size, (netsim_samples, base_samples) in results.items():
        rows.append(
            [
                str(size),
                spread(netsim_samples, lambda s: s.timing["startup_s"]).format(0, 1e3),
                spread(netsim_samples, lambda s: s.timing["running_s"]).format(0, 1e3),
                spread(netsim_samples, lambda s: s.timing["shutdown_s"]).format(0, 1e3),
                spread(netsim_samples, lambda s: s.wall_s).format(0, 1e3),
                spread(netsim_samples, lambda s: s.memory_read_s).format(0, 1e3),
                spread(base_samples, lambda s: s.stop_s).format(0, 1e3),
                spread(base_samples, lambda s: s.wall_s).format(0, 1e3),
            ]
        )
    out.print(
        make_table(
            "netsim summary timing vs baseline, ms",
            [
                "N",
                "netsim startup",
                "netsim running",
                "netsim shutdown",
                "netsim wall",
                "of which PSS read",
                "baseline stop+join",
                "baseline wall",
            ],
            rows,
            caption=(
                "startup/running/shutdown: summary['timing'] (the launcher's own clock: first spawn -> "
                "START sent -> all done -> all exited).\nnetsim wall: the whole netsim.run() call, including "
                "loading, trace merge and summary, and the bench's PSS read in on_ready (shown beside it)."
            ),
        )
    )

    rows = []
    for size, (netsim_samples, base_samples) in results.items():
        rows.append(
            [
                str(size),
                format_placements(sample.placement for sample in netsim_samples),
                format_cpus(sample.parent_cpu for sample in netsim_samples),
                format_placements(sample.placement for sample in base_samples),
                format_cpus(sample.parent_cpu for sample in base_samples),
            ]
        )
    out.print(
        make_table(
            "CPU placement at ready (the CPU each process last ran on; one entry per repeat)",
            ["N", "netsim nodes", "netsim parent", "baseline children", "baseline parent"],
            rows,
        )
    )

    out.print()
    if READY_GOAL_NODES in results:
        median_s = spread(results[READY_GOAL_NODES][0], lambda s: s.ready_s).median
        verdict = "PASS" if median_s < READY_GOAL_S else "MISS"
        out.print(
            f"Goal: {READY_GOAL_NODES} nodes ready in under {READY_GOAL_S:g} s: [bold]{verdict}[/bold] "
            f"(median {median_s * 1e3:,.0f} ms)"
        )
    else:
        out.print(
            f"Goal: {READY_GOAL_NODES} nodes ready in under {READY_GOAL_S:g} s: "
            "not measured (add it to --sizes)"
        )
    worst_size, worst_ratio = max(
        (
            (
                size,
                spread(netsim_samples, lambda s: s.memory.pss_kib).median
                / spread(base_samples, lambda s: s.memory.pss_kib).median,
            )
            for size, (netsim_samples, base_samples) in results.items()
        ),
        key=lambda item: item[1],
    )
    verdict = "PASS" if worst_ratio <= MEMORY_GOAL_RATIO else "MISS"
    out.print(
        f"Goal: per-node memory within {MEMORY_GOAL_RATIO:g}x of baseline (PSS, every N): "
        f"[bold]{verdict}[/bold] (worst {worst_ratio:.2f}x at N={worst_size})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10,100,300", help="node counts, comma-separated (default 10,100,300)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="measurements per size and side (default 3)")
    parser.add_argument(
        "--cpus",
        default=None,
        help="pin the bench and all its processes to these CPUs, e.g. 0 or 0-1 (default: no pinning)",
    )
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    if not sizes or min(sizes) < 3 or args.repeat < 1:
        parser.error("--sizes needs node counts >= 3 (a ring) and --repeat at least 1")
    if args.cpus is not None:
        pin_to_cpus(parse_cpu_list(args.cpus))

    # Import netsim's launch machinery now so that the first measurement does not pay for it.
    import netsim.launch.run  # noqa: F401

    results: dict[int, tuple[list[Sample], list[Sample]]] = {}
    with temp_dir("netsim-bench-launch-") as out_dir:
        for size in sizes:
            netsim_samples: list[Sample] = []
            base_samples: list[Sample] = []
            for _ in range(args.repeat):
                base_samples.append(measure_baseline(size))
                netsim_samples.append(measure_netsim(size, out_dir))
                print(
                    f"  N={size}: netsim ready {netsim_samples[-1].ready_s * 1e3:,.0f} ms, "
                    f"baseline {base_samples[-1].ready_s * 1e3:,.0f} ms",
                    file=sys.stderr,
                )
            results[size] = (netsim_samples, base_samples)
    report(results, args.repeat, pinned=args.cpus is not None)
    leftover = child_pids()
    console().print(f"Leftover child processes: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())

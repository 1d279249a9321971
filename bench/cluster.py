"""Runs over many hosts: start-up and flood completion on one host and spread over two and three Ray
hosts, the Ray path's cost on one host against the plain launcher, and what one Ray actor costs.

Each host is a Linux network namespace with its own address, joined to the others by veth links
through a bridge (tests/cluster/netns_cluster.py); every host shares this machine's CPUs, so the
figures show what the cluster path costs, not what more machines would give. Needs root and the ray
extra (pip install -e ".[ray]").

For each size N (a ``random:N:P`` graph of mean degree ~9, the flood app), in this order:

- ``plain``: ``netsim run`` without ``--cluster``, from the head host's namespace (the baseline);
- ``ray x1``, ``ray x2``, ``ray x3``: ``netsim run --cluster`` on a Ray cluster of one, two and three
  hosts (balanced placement).

Reported from each run's summary: ready (``timing.startup_s``: every node bound, linked and at the
barrier), flood (``timing.running_s``: the start until every node's app is done), shutdown, and the
command's wall time (which for a cluster run includes connecting to Ray and starting the agents),
with the ratio of each to the plain launcher's, measured in the same session. Then one Ray actor:
the time to start K actors and hear from each, and one actor process's PSS, beside a netsim node's.

Run: sudo python bench/cluster.py [--sizes 300,2000] [--hosts 1,2,3] [--repeat 1] [--actors 20]
(about 10 minutes at these sizes on a 2-vCPU VM, most of it the 2,000-node runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import console, machine_line, make_table, ratio, read_memory, temp_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cluster"))
from netns_cluster import NetnsCluster  # noqa: E402

MEAN_DEGREE = 9
ACTORS = 20

_ACTOR_COST = """
import json, os, sys, time
import ray
ray.init(sys.argv[1], logging_level="ERROR", log_to_driver=False)

@ray.remote(num_cpus=0)
class Probe:
    def pid(self):
        return os.getpid()

started = time.perf_counter()
actors = [Probe.remote() for _ in range(int(sys.argv[2]))]
pids = ray.get([actor.pid.remote() for actor in actors])
print(json.dumps({"seconds": time.perf_counter() - started, "pids": pids}))
sys.stdout.flush()
time.sleep(float(sys.argv[3]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="300,2000")
    parser.add_argument("--hosts", default="1,2,3", help="Ray cluster sizes to measure")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--actors", type=int, default=ACTORS, help="Ray actors to start for their cost")
    args = parser.parse_args()
    why = NetnsCluster.unavailable()
    if why is not None:
        sys.exit(f"bench/cluster.py: {why}")
    sizes = [int(size) for size in args.sizes.split(",")]
    host_counts = [int(count) for count in args.hosts.split(",")]
    out = console()
    out.print(machine_line())
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with temp_dir("netsim-bench-cluster-") as runs:
        for hosts in host_counts:
            cluster = NetnsCluster(hosts=hosts, cpus=2)
            started = time.perf_counter()
            cluster.start()
            out.print(f"Ray cluster of {hosts} host(s) up in {time.perf_counter() - started:.1f} s")
            try:
                for size in sizes:
                    for _ in range(args.repeat):
                        if hosts == host_counts[0]:
                            results.setdefault(("plain", size), []).append(_run(cluster, size, runs, None))
                        results.setdefault((f"ray x{hosts}", size), []).append(
                            _run(cluster, size, runs, cluster.head)
                        )
                if hosts == host_counts[0]:
                    actor = _actor_cost(cluster, args.actors)
            finally:
                cluster.close()
    _print(out, results, sizes, host_counts)
    out.print(
        f"One Ray actor: {args.actors} asked for at once, all answering after {actor['seconds']:.2f} s "
        f"({actor['seconds'] / args.actors * 1000:.0f} ms per actor: Ray starts a few worker processes at "
        "a time), "
        f"{actor['pss_mib']:.1f} MiB PSS each (median); a netsim node is a fork of the fork server "
        "(bench/launch.py: ~0.3 ms and ~3 MiB PSS), so netsim starts one Ray actor per host, not per node."
    )


def _run(cluster: NetnsCluster, size: int, runs: str, head: str | None) -> dict[str, Any]:
    probability = min(1.0, MEAN_DEGREE / max(1, size - 1))
    spec = f"random:{size}:{probability:.5f}"
    command = ["run", spec, "--seed", "1", "--out", runs, "--json", "--duration", "300"]
    if head is not None:
        command += ["--cluster", head]
    started = time.perf_counter()
    done = cluster.netsim(*command, timeout=900)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{spec} ({'cluster' if head else 'plain'}) failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    summary = json.loads(done.stdout)
    timing = summary["timing"]
    return {
        "ready": timing["startup_s"],
        "flood": timing["running_s"],
        "shutdown": timing["shutdown_s"],
        "wall": wall,
        "cross": summary.get("cluster", {}).get("cross_host_links", 0),
        "links": summary["links"],
    }


def _actor_cost(cluster: NetnsCluster, actors: int) -> dict[str, float]:
    probe = subprocess.Popen(
        [*cluster.exec_in(0), sys.executable, "-c", _ACTOR_COST, cluster.head, str(actors), "5"],
        stdout=subprocess.PIPE,
        text=True,
        env=cluster.env(0),
    )
    assert probe.stdout is not None
    # Ray prints its warnings (workers started, ...) on the driver's stdout too.
    line = ""
    while not line.startswith("{"):
        line = probe.stdout.readline()
        if not line:
            raise SystemExit("bench/cluster.py: the Ray actor probe ended without an answer")
    answer = json.loads(line)
    pss = [memory.pss_kib / 1024 for pid in answer["pids"] if (memory := read_memory(pid)) is not None]
    probe.wait(60)
    return {"seconds": answer["seconds"], "pss_mib": statistics.median(pss) if pss else float("nan")}


def _print(
    out: Any, results: dict[tuple[str, int], list[dict[str, Any]]], sizes: list[int], hosts: list[int]
) -> None:
    for size in sizes:
        plain = _medians(results[("plain", size)])
        rows = []
        for how in ["plain", *[f"ray x{count}" for count in hosts]]:
            row = _medians(results[(how, size)])
            cells = [how, f"{int(row['cross'])} of {int(row['links'])}"]
            for key in ("ready", "flood", "shutdown", "wall"):
                cells.append(
                    f"{row[key]:.3f}" + ("" if how == "plain" else f" ({ratio(row[key], plain[key])})")
                )
            rows.append(cells)
        out.print(
            make_table(
                f"random graph of {size} nodes (mean degree ~{MEAN_DEGREE}), flood; medians; (x) = / plain",
                ["how", "cut links", "ready s", "flood s", "shutdown s", "wall s"],
                rows,
            )
        )


def _medians(samples: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}


if __name__ == "__main__":
    main()

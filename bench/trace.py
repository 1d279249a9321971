"""Trace analysis at scale: summary, stats, verify and SQLite export of a 1,000,000-event trace.

    python bench/trace.py [--events 1000000] [--seed 1] [--repeat 1] [--keep]

Writes a synthetic ``netsim-trace/1`` trace with a realistic mix (50 nodes, 100 links over all seven
transports; set-up events, then about 46 % send/sendto and 46 % recv/recvfrom matched by msg_id, app
round trips and a few errors; close/done/stop at the end; 1 % of udp/udp6 datagrams lost), then times
each operation in a **fresh subprocess**, so that each one's peak memory is its own: the child's peak
resident set size after the operation, absolute and minus the child's own value after its imports (read
from ``VmHWM``, the kernel's ``ru_maxrss`` figure for this process image alone: see ``_peak_kib``), plus
the peak of any process the operation forks (``export_sqlite`` exports half a big trace in one). The
floors are a bare ``json.loads`` and ``orjson.loads`` per line over the same file. Generating the trace
is not timed. Goals: every operation under 10 s and under 300 MiB at its peak.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TRACE_NAME = "trace.jsonl"
OPERATIONS: tuple[str, ...] = ("json.loads", "orjson.loads", "summary", "stats", "verify", "export_sqlite")
GOAL_SECONDS = 10.0
GOAL_PEAK_MIB = 300.0
CHILD_TIMEOUT_S = 120.0

TRANSPORT_WEIGHTS: dict[str, int] = {
    "tcp": 4,
    "tcp6": 1,
    "udp": 3,
    "udp6": 1,
    "unix": 2,
    "unix-dgram": 1,
    "unix-seqpacket": 1,
}
STREAM_TRANSPORTS = frozenset({"tcp", "tcp6", "unix", "unix-seqpacket"})
LOSSY_TRANSPORTS = frozenset({"udp", "udp6"})
# One-way latency medians by transport family, ns; a lognormal spread and a rare slow tail on top.
BASE_LATENCY_NS: dict[str, int] = {"tcp": 50_000, "tcp6": 55_000, "udp": 60_000, "udp6": 65_000}
UNIX_LATENCY_NS = 30_000
LOSS_RATE = 0.01
# Per step after set-up: a message (send + receive), an app event, or an error event.
MESSAGE_SHARE, APP_SHARE = 0.85, 0.13
MESSAGE_GAP_NS = 20_000


# -- the synthetic trace -------------------------------------------------------------------------------------


def _address(transport: str, node: str, port: int) -> Any:
    if transport in ("tcp", "udp"):
        return ["127.0.0.1", port]
    if transport in ("tcp6", "udp6"):
        return ["::1", port, 0, 0]
    return f"/tmp/netsim-bench/{node}-{port}.sock"


def generate_trace(path: Path, events: int, seed: int) -> dict[str, int]:
    """Write a sorted trace of exactly ``events`` events to ``path``; returns counts per event kind."""
    import orjson

    rng = random.Random(seed)
    nodes = [f"n{index:02d}" for index in range(50)]
    pairs: set[tuple[str, str]] = {(nodes[i], nodes[(i + 1) % 50]) for i in range(50)}
    while len(pairs) < 100:
        a, b = rng.sample(nodes, 2)
        if (a, b) not in pairs and (b, a) not in pairs:
            pairs.add((a, b))
    names, weights = list(TRANSPORT_WEIGHTS), list(TRANSPORT_WEIGHTS.values())
    links = [(a, b, rng.choices(names, weights)[0]) for a, b in sorted(pairs)]
    start_ts_ns = 1_000_000_000_000
    header = {
        "type": "header",
        "schema": "netsim-trace/1",
        "run_id": "bench-trace",
        "netsim_version": "0.1.0",
        "topology": {
            "name": "bench",
            "source": "bench/trace.py",
            "nodes": nodes,
            "links": [list(x) for x in links],
        },
        "node_apps": {node: "echo" for node in nodes},
        "app": "echo",
        "transport": "tcp",
        "seed": seed,
        "started_at": "2026-11-25T10:15:00.000000+00:00",
        "start_ts_ns": start_ts_ns,
        "clock": "CLOCK_MONOTONIC",
    }
    counts: dict[str, int] = {}
    out = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed below
    out.write(orjson.dumps(header) + b"\n")
    buffer: list[bytes] = []
    dumps = orjson.dumps
    written = 0

    def emit(record: dict[str, Any]) -> None:
        nonlocal written
        buffer.append(dumps(record))
        counts[record["event"]] = counts.get(record["event"], 0) + 1
        written += 1
        if len(buffer) >= 10_000:
            out.write(b"\n".join(buffer) + b"\n")
            buffer.clear()

    # Set-up: a listener per node and transport, then both ends of every link.
    now = start_ts_ns + 50_000_000
    port = 30_000
    listeners: dict[tuple[str, str], Any] = {}
    for node in nodes:
        for transport in sorted({t for a, b, t in links if node in (a, b)}):
            port += 1
            address = listeners[(node, transport)] = _address(transport, node, port)
            now += 1_000
            emit(
                {
                    "ts_ns": now,
                    "node": node,
                    "event": "bind",
                    "transport": transport,
                    "sockname": address,
                    "role": "listener",
                }
            )
            if transport in STREAM_TRANSPORTS:
                now += 1_000
                emit(
                    {
                        "ts_ns": now,
                        "node": node,
                        "event": "listen",
                        "transport": transport,
                        "sockname": address,
                    }
                )
    # (source, destination) -> (transport, source's sockname, peername it sends to)
    routes: dict[tuple[str, str], tuple[str, Any, Any]] = {}
    neighbours: dict[str, list[str]] = {node: [] for node in nodes}
    for a, b, transport in links:
        port += 1
        a_end = _address(transport, a, port)
        now += 1_000
        emit(
            {
                "ts_ns": now,
                "node": a,
                "event": "bind",
                "transport": transport,
                "sockname": a_end,
                "role": "link",
                "peer": b,
            }
        )
        b_listener = listeners[(b, transport)]
        if transport in STREAM_TRANSPORTS:
            now += 1_000
            emit(
                {
                    "ts_ns": now,
                    "node": a,
                    "event": "connect",
                    "transport": transport,
                    "sockname": a_end,
                    "peername": b_listener,
                    "peer": b,
                }
            )
            now += 1_000
            emit(
                {
                    "ts_ns": now,
                    "node": b,
                    "event": "accept",
                    "transport": transport,
                    "sockname": b_listener,
                    "peername": a_end,
                }
            )
        routes[(a, b)] = (transport, a_end, b_listener)
        routes[(b, a)] = (transport, b_listener, a_end)
        neighbours[a].append(b)
        neighbours[b].append(a)
    for node in nodes:
        now += 1_000
        emit({"ts_ns": now, "node": node, "event": "start"})

    teardown = len(nodes) * 2 + 2 * len(links)
    lamport = dict.fromkeys(nodes, 0)
    counters = dict.fromkeys(nodes, 0)
    last_ping: dict[tuple[str, str], str] = {}
    pending: list[tuple[int, int, dict[str, Any], int]] = []
    sequence = 0
    now = start_ts_ns + 200_000_000
    route_keys = list(routes)

    def deliver_until(ts_ns: int) -> None:
        while pending and pending[0][0] <= ts_ns:
            _, _, record, stamp = heapq.heappop(pending)
            node = record["node"]
            lamport[node] = max(lamport[node], stamp) + 1
            record["lamport"] = lamport[node]
            emit(record)

    while written + len(pending) < events - teardown:
        now += int(rng.expovariate(1 / MESSAGE_GAP_NS)) + 1
        deliver_until(now)
        roll = rng.random()
        if roll < MESSAGE_SHARE and written + len(pending) + 2 <= events - teardown:
            source, destination = route_keys[rng.randrange(len(route_keys))]
            transport, sockname, peername = routes[(source, destination)]
            counters[source] += 1
            lamport[source] += 1
            msg_id = f"{source}:{counters[source]}"
            reply_to = last_ping.pop((destination, source), None)
            msg_type = "pong" if reply_to else rng.choice(("ping", "ping", "rumour", "flood"))
            if msg_type == "ping":
                last_ping[(source, destination)] = msg_id
            nbytes = rng.randint(60, 300)
            send = {
                "ts_ns": now,
                "node": source,
                "event": "send" if transport in STREAM_TRANSPORTS else "sendto",
                "transport": transport,
                "sockname": sockname,
                "peername": peername,
                "peer": destination,
                "nbytes": nbytes,
                "msg_id": msg_id,
                "msg_type": msg_type,
                "lamport": lamport[source],
            }
            if reply_to:
                send["in_reply_to"] = reply_to
            emit(send)
            if transport in LOSSY_TRANSPORTS and rng.random() < LOSS_RATE:
                continue
            median = BASE_LATENCY_NS.get(transport, UNIX_LATENCY_NS)
            latency = int(median * rng.lognormvariate(0, 0.5)) + 1
            if rng.random() < 0.02:
                latency *= 20
            receive = {
                **send,
                "ts_ns": now + latency,
                "node": destination,
                "event": "recv" if transport in STREAM_TRANSPORTS else "recvfrom",
                "sockname": peername,
                "peername": sockname,
                "peer": source,
            }
            sequence += 1
            heapq.heappush(pending, (now + latency, sequence, receive, send["lamport"]))
        elif roll < MESSAGE_SHARE + APP_SHARE:
            node = nodes[rng.randrange(50)]
            peer = rng.choice(neighbours[node])
            rtt = int(2 * BASE_LATENCY_NS["tcp"] * rng.lognormvariate(0, 0.5))
            data = {"kind": "rtt", "peer": peer, "msg_id": f"{node}:{counters[node]}", "rtt_ns": rtt}
            emit({"ts_ns": now, "node": node, "event": "app", "data": data})
        else:
            node = nodes[rng.randrange(50)]
            peer = rng.choice(neighbours[node])
            transport, sockname, peername = routes[(node, peer)]
            emit(
                {
                    "ts_ns": now,
                    "node": node,
                    "event": "error",
                    "transport": transport,
                    "sockname": sockname,
                    "peername": peername,
                    "peer": peer,
                    "error": f"bad frame from {peer}: invalid JSON at byte {rng.randrange(200)}",
                    "nbytes": rng.randint(10, 200),
                }
            )
    deliver_until(2**62)

    now += 5_000_000
    for node in nodes:
        now += 1_000
        emit({"ts_ns": now, "node": node, "event": "done"})
    for (source, destination), (transport, sockname, peername) in routes.items():
        now += 1_000
        record = {
            "ts_ns": now,
            "node": source,
            "event": "close",
            "transport": transport,
            "sockname": sockname,
        }
        record.update({"peername": peername, "peer": destination, "reason": "shutdown"})
        emit(record)
    for node in nodes:
        now += 1_000
        emit({"ts_ns": now, "node": node, "event": "stop", "reason": "shutdown"})
    if written != events:
        raise RuntimeError(f"generated {written} events instead of {events}")
    out.write(b"\n".join(buffer) + (b"\n" if buffer else b""))
    out.close()
    return counts


# -- one operation in a fresh process ------------------------------------------------------------------------


def _peak_kib() -> int:
    """This process's peak resident set size in KiB: ``VmHWM``, falling back to ``ru_maxrss``.

    On Linux ``ru_maxrss`` survives ``execve``: a child forked (or vforked) from a 60 MiB parent starts
    with ``ru_maxrss`` = 60 MiB before it has touched a page. ``VmHWM`` in ``/proc/self/status`` is the
    same high-water mark kept on the process's own memory map, which ``execve`` replaces, so it starts
    from the child's real size.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def run_child(operation: str, trace: Path, work_dir: Path) -> None:
    """The child's side: import what ``operation`` needs, note the memory, run it once, print JSON."""
    if operation == "json.loads":
        loads = json.loads
    elif operation == "orjson.loads":
        import orjson

        loads = orjson.loads
    if operation in ("json.loads", "orjson.loads"):

        def target() -> Any:
            with open(trace, "rb", buffering=1 << 20) as file:
                for line in file:
                    loads(line)

    elif operation == "summary":
        from netsim.trace import summarize_trace

        def target() -> Any:
            return summarize_trace(trace)

    elif operation == "stats":
        from netsim.trace.stats import trace_stats

        def target() -> Any:
            return trace_stats(trace)

    elif operation == "verify":
        try:
            from netsim.trace.verify import verify_trace
        except Exception as error:  # noqa: BLE001 - written in parallel: any import failure means "not yet"
            print(json.dumps({"unavailable": f"{type(error).__name__}: {error}"}))
            return

        def target() -> Any:
            return verify_trace(trace)

    elif operation == "export_sqlite":
        from netsim.trace.export import export_sqlite

        def target() -> Any:
            return export_sqlite(trace, work_dir / "trace.sqlite", overwrite=True)

    else:
        raise SystemExit(f"unknown operation {operation!r}")
    baseline = _peak_kib()
    started = time.perf_counter()
    try:
        target()
    except Exception as error:  # noqa: BLE001 - reported as the row's result, not a bench crash
        print(json.dumps({"failed": f"{type(error).__name__}: {error}"}))
        return
    seconds = time.perf_counter() - started
    # An operation that forks a helper (export_sqlite on a big trace) is charged the helper's peak too:
    # summed, an upper bound, since the pages the two share count twice.
    peak = _peak_kib() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps({"seconds": seconds, "baseline_kib": baseline, "peak_kib": peak, "ru_maxrss_kib": maxrss})
    )


def measure(operation: str, trace: Path, work_dir: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", operation, str(trace), str(work_dir)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"exit {completed.returncode}: {last}"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- the parent ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the synthetic trace")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs per operation (median time, max memory)")
    parser.add_argument("--keep", action="store_true", help="keep the trace (and the SQLite file) afterwards")
    parser.add_argument(
        "--child", nargs=3, metavar=("OPERATION", "TRACE", "WORK_DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        operation, trace, work_dir = args.child
        run_child(operation, Path(trace), Path(work_dir))
        return

    import tempfile

    from _common import KIB_PER_MIB, Spread, child_pids, console, machine_line, make_table, ratio, temp_dir

    out = console()
    out.print(machine_line())
    with temp_dir("netsim-bench-trace-") as scratch:
        work_dir = Path(tempfile.mkdtemp(prefix="netsim-bench-trace-")) if args.keep else Path(scratch)
        trace = work_dir / TRACE_NAME
        started = time.perf_counter()
        counts = generate_trace(trace, args.events, args.seed)
        generated_s = time.perf_counter() - started
        size = trace.stat().st_size
        total = sum(counts.values())
        mix = ", ".join(
            f"{kind} {count / total:.1%}" for kind, count in sorted(counts.items(), key=lambda kv: -kv[1])
        )
        out.print(
            f"trace: {total:,} events, {size / 1e6:,.1f} MB ({size / total:.0f} B/event), "
            f"generated in {generated_s:.1f} s (not timed below)"
        )
        out.print(f"mix: {mix}")

        results: dict[str, dict[str, Any]] = {}
        for operation in OPERATIONS:
            runs = [measure(operation, trace, work_dir) for _ in range(args.repeat)]
            bad = next((run for run in runs if "seconds" not in run), None)
            if bad is not None:
                results[operation] = bad
                continue
            results[operation] = {
                "seconds": Spread.of([run["seconds"] for run in runs]),
                "peak_kib": max(run["peak_kib"] for run in runs),
                "above_kib": max(run["peak_kib"] - run["baseline_kib"] for run in runs),
            }

        json_floor = results["json.loads"].get("seconds")
        orjson_floor = results["orjson.loads"].get("seconds")
        rows = []
        for operation in OPERATIONS:
            result = results[operation]
            name = operation
            if "unavailable" in result:
                rows.append((f"{name}: not available", "-", "-", "-", "-", "-", "-", "-", "-"))
                continue
            if "failed" in result:
                rows.append((f"{name}: failed ({result['failed'][:60]})", *["-"] * 8))
                continue
            seconds: Spread = result["seconds"]
            peak_mib = result["peak_kib"] / KIB_PER_MIB
            floor = operation in ("json.loads", "orjson.loads")
            rows.append(
                (
                    operation if not floor else f"{operation} (floor)",
                    seconds.format(2),
                    f"{total / seconds.median:,.0f}",
                    ratio(seconds.median, json_floor.median) if json_floor else "-",
                    ratio(seconds.median, orjson_floor.median) if orjson_floor else "-",
                    f"{peak_mib:,.1f}",
                    f"{result['above_kib'] / KIB_PER_MIB:,.1f}",
                    "" if floor else ("PASS" if seconds.median < GOAL_SECONDS else "MISS"),
                    "" if floor else ("PASS" if peak_mib < GOAL_PEAK_MIB else "MISS"),
                )
            )
        columns = (
            "operation",
            "seconds",
            "events/s",
            "vs json.loads",
            "vs orjson.loads",
            "peak RSS MiB",
            "above baseline MiB",
            f"< {GOAL_SECONDS:g} s",
            f"< {GOAL_PEAK_MIB:g} MiB",
        )
        caption = (
            f"each operation in a fresh process, {args.repeat} run(s): median seconds (min-max), max memory. "
            "peak RSS: the child's high-water mark (VmHWM) after the operation, plus the peak of any process "
            "it forked (export_sqlite's second half); above baseline: minus the child's own after its "
            "imports. events/s counts every event of the trace."
        )
        out.print(make_table(f"Trace tools over {total:,} events", columns, rows, caption))
        if args.keep:
            out.print(
                f"kept: {trace}"
                + (f" and {work_dir / 'trace.sqlite'}" if (work_dir / "trace.sqlite").exists() else "")
            )
    leftovers = child_pids()
    out.print(
        "no child process left behind" if not leftovers else f"[red]child processes left: {leftovers}[/]"
    )


if __name__ == "__main__":
    main()

"""Trace analysis at scale: merge, summary, stats, verify, report and SQLite export of big traces.

    python bench/trace.py [--events 1000000] [--topology random:5000:0.002] [--seed 1] [--repeat 1]
                          [--scenarios 50-nodes,5000-nodes,5000-nodes-1M] [--keep]

Three scenarios, each with the trace tools timed in a **fresh subprocess** per operation, so that each
one's peak memory is its own: the child's peak resident set size after the operation, absolute and
minus the child's own value after its imports (read from ``VmHWM``, the kernel's ``ru_maxrss`` figure
for this process image alone: see ``_peak_kib``), plus the peak of any process the operation forks
(``export_sqlite`` exports half a big trace in one). Each operation's wall-clock seconds come with its
CPU seconds (user and system, its children's included), which other work on the machine moves less.
The floors are a bare ``json.loads`` and ``orjson.loads`` per line over the same merged trace.
Generating a trace is not timed.

* ``50-nodes``: a synthetic merged trace of ``--events`` events with a realistic mix (50 nodes, 100
  links over all seven transports; set-up events, then about 46 % send/sendto and 46 % recv/recvfrom
  matched by msg_id, app round trips and a few errors; close/done/stop at the end; 1 % of udp/udp6
  datagrams lost).
* ``5000-nodes``: the shape of a real run of the flood app over ``--topology`` (5,000 nodes and ~25,000
  tcp links by default): one part file per node under ``nodes/``, written by netsim's own
  ``TraceWriter`` (batch lines and all) from a simulated run (each node binds and listens, the lower
  end of each link connects, a hello each way, start, one flood, close, stop), then merged as the
  launcher merges them.
* ``5000-nodes-1M``: the same, with floods from one origin after another until the trace holds about
  ``--events`` events.

Goals: every operation under 10 s and under 300 MiB at its peak.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRACE_NAME = "trace.jsonl"
OPERATIONS: tuple[str, ...] = ("json.loads", "orjson.loads", "summary", "stats", "verify", "export_sqlite")
# The 5,000-node scenarios: their parts merged first, then the tools a finished run is looked at with.
RUN_OPERATIONS: tuple[str, ...] = (
    "merge",
    "json.loads",
    "orjson.loads",
    "summary",
    "stats",
    "verify",
    "report",
    "report_one_process",
    "diagram",
)
GOAL_SECONDS = 10.0
GOAL_PEAK_MIB = 300.0
CHILD_TIMEOUT_S = 300.0

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


# -- the part files of a flood over a big topology ---------------------------------------------------------

FLOOD_LINK_LATENCY_NS = 50_000
# A node does one thing at a time: its events are at least this far apart (plus up to as much again).
NODE_STEP_NS = 4_000


class _FloodRun:
    """A simulated flood run that writes each node's part file with netsim's own ``TraceWriter``.

    Events come out in time order across the whole run (messages in flight wait in a heap), so each
    node's part is sorted as a real node's is. Each connection has its own send and receive
    ``MessageRecords``, as ``netsim.runtime.channels`` keeps them, so batch lines break where a node
    moves from one socket to another, as in a real part.
    """

    def __init__(self, run_dir: Path, spec: str, seed: int) -> None:
        import orjson

        from netsim.runs.layout import HEADER_PART_NAME, NODE_DIR_NAME, node_part_name
        from netsim.topology import load_topology
        from netsim.trace.writer import TraceWriter

        self.rng = random.Random(seed)
        topology = load_topology(spec, seed=seed)
        self.names = [node.name for node in topology.nodes]
        self.index = {name: position for position, name in enumerate(self.names)}
        self.neighbours: dict[str, list[str]] = {name: [] for name in self.names}
        for link in topology.links:
            self.neighbours[link.a].append(link.b)
            self.neighbours[link.b].append(link.a)
        self.node_dir = run_dir / NODE_DIR_NAME
        self.node_dir.mkdir(parents=True, exist_ok=True)
        self.start_ts_ns = 1_000_000_000_000
        self.header = {
            "type": "header",
            "schema": "netsim-trace/1",
            "run_id": "bench-trace-flood",
            "netsim_version": "0.1.0",
            "topology": {
                "name": spec,
                "source": spec,
                "nodes": self.names,
                "links": [[link.a, link.b, "tcp"] for link in topology.links],
            },
            "node_apps": dict.fromkeys(self.names, "flood"),
            "app": "flood",
            "transport": "tcp",
            "seed": seed,
            "started_at": "2026-11-25T10:15:00.000000+00:00",
            "start_ts_ns": self.start_ts_ns,
            "clock": "CLOCK_MONOTONIC",
        }
        (self.node_dir / HEADER_PART_NAME).write_bytes(orjson.dumps(self.header) + b"\n")
        # One open part per node, as in a real run: 5,000 nodes need 5,000 descriptors here.
        need = len(self.names) + 64
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < need:
            if hard != resource.RLIM_INFINITY and hard < need:
                raise SystemExit(
                    f"writing {len(self.names):,} part files needs {need:,} open files (hard limit {hard:,})"
                )
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        self.writers = {
            name: TraceWriter(self.node_dir / node_part_name(position), name)
            for position, name in enumerate(self.names)
        }
        self.counts: dict[str, int] = {}
        self.lamport = dict.fromkeys(self.names, 0)
        self.sequence = dict.fromkeys(self.names, 0)
        self.busy_until = dict.fromkeys(self.names, 0)
        self.port = 10_000
        self.channels: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.channel_fields: dict[tuple[str, str], dict[str, Any]] = {}
        self.in_flight: list[tuple[Any, ...]] = []
        self.order = 0

    def address(self) -> list[Any]:
        self.port += 1
        return [f"127.0.{self.port // 60_000}.1", 1024 + self.port % 60_000]

    def at(self, node: str, ts_ns: int) -> int:
        ts_ns = max(ts_ns, self.busy_until[node] + NODE_STEP_NS + self.rng.randrange(NODE_STEP_NS))
        self.busy_until[node] = ts_ns
        return ts_ns

    def event(self, node: str, ts_ns: int, kind: str, **fields: Any) -> None:
        self.writers[node].event(kind, ts_ns=ts_ns, **fields)
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def open_channel(self, node: str, peer: str, sockname: Any, peername: Any) -> None:
        base = {"transport": "tcp", "sockname": sockname, "peername": peername, "peer": peer}
        writer = self.writers[node]
        self.channel_fields[(node, peer)] = base
        self.channels[(node, peer)] = (
            writer.message_records("send", base),
            writer.message_records("recv", base),
        )

    def send(
        self, node: str, peer: str, ts_ns: int, msg_type: str, nbytes: int, in_reply_to: str | None, then: Any
    ) -> None:
        ts_ns = self.at(node, ts_ns)
        self.sequence[node] += 1
        self.lamport[node] += 1
        msg_id = f"{node}:{self.sequence[node]}"
        self.channels[(node, peer)][0].write(ts_ns, nbytes, msg_id, msg_type, self.lamport[node], in_reply_to)
        self.counts["send"] = self.counts.get("send", 0) + 1
        latency = int(FLOOD_LINK_LATENCY_NS * self.rng.lognormvariate(0, 0.4)) + 1
        self.order += 1
        heapq.heappush(
            self.in_flight,
            (ts_ns + latency, self.order, peer, node, msg_id, msg_type, self.lamport[node], nbytes, then),
        )

    def deliver_all(self) -> None:
        while self.in_flight:
            arrival, _, node, source, msg_id, msg_type, clock, nbytes, then = heapq.heappop(self.in_flight)
            ts_ns = self.at(node, arrival)
            self.lamport[node] = max(self.lamport[node], clock) + 1
            self.channels[(node, source)][1].write(ts_ns, nbytes, msg_id, msg_type, self.lamport[node], None)
            self.counts["recv"] = self.counts.get("recv", 0) + 1
            if then is not None:
                then(node, source, msg_id, ts_ns)

    def latest(self) -> int:
        return max(self.busy_until.values())

    def run(self, events: int | None) -> dict[str, int]:
        """Set up, flood (again from the next origin while the trace is short of ``events``), shut down."""
        names, neighbours = self.names, self.neighbours
        listeners: dict[str, Any] = {}
        link_ends: dict[tuple[str, str], Any] = {}
        now = self.start_ts_ns + 10_000_000
        for name in names:
            now += 2_000
            listeners[name] = self.address()
            self.event(
                name, self.at(name, now), "bind", transport="tcp", sockname=listeners[name], role="listener"
            )
            self.event(name, self.at(name, now), "listen", transport="tcp", sockname=listeners[name])
            for peer in neighbours[name]:
                if self.index[peer] > self.index[name]:
                    end = link_ends[(name, peer)] = self.address()
                    self.event(
                        name,
                        self.at(name, now),
                        "bind",
                        transport="tcp",
                        sockname=end,
                        role="link",
                        peer=peer,
                    )

        def hello(node: str, source: str, msg_id: str, ts_ns: int) -> None:
            self.send(node, source, ts_ns, "netsim.hello", 222, msg_id, None)

        now = self.latest() + 1_000_000
        for (name, peer), sockname in link_ends.items():
            ts_ns = self.at(name, now + self.rng.randrange(5_000_000))
            self.event(
                name,
                ts_ns,
                "connect",
                transport="tcp",
                sockname=sockname,
                peername=listeners[peer],
                peer=peer,
            )
            self.open_channel(name, peer, sockname, listeners[peer])
            self.event(
                peer,
                self.at(peer, ts_ns + FLOOD_LINK_LATENCY_NS),
                "accept",
                transport="tcp",
                sockname=listeners[peer],
                peername=sockname,
            )
            self.open_channel(peer, name, listeners[peer], sockname)
            self.send(name, peer, ts_ns, "netsim.hello", 200, None, hello)
        self.deliver_all()
        now = self.latest() + 1_000_000
        for name in names:
            self.event(name, self.at(name, now), "start")

        teardown = 2 * len(link_ends) + 2 * len(
            names
        )  # a close at each end of a link; a listener's close, stop
        done: set[str] = set()
        floods = 0
        while True:
            origin = names[floods % len(names)]
            hops = {origin: 0}

            def forward(
                node: str,
                source: str,
                msg_id: str,
                ts_ns: int,
                origin: str = origin,
                hops: dict[str, int] = hops,
            ) -> None:
                if node in hops:
                    return
                hops[node] = hops[source] + 1
                self.event(
                    node,
                    self.at(node, ts_ns),
                    "app",
                    data={"kind": "flood", "origin": origin, "hops": hops[node]},
                )
                if node not in done:
                    done.add(node)
                    self.event(node, self.at(node, ts_ns), "done")
                for peer in neighbours[node]:
                    if peer != source:
                        self.send(node, peer, ts_ns, "flood", 100, None, forward)

            now = self.latest() + 1_000_000
            for peer in neighbours[origin]:
                self.send(origin, peer, now, "flood", 100, None, forward)
            if origin not in done:
                done.add(origin)
                self.event(origin, self.at(origin, now), "done")
            self.deliver_all()
            floods += 1
            if events is None or sum(self.counts.values()) + teardown >= events:
                break

        now = self.latest() + 5_000_000
        for name, peer in link_ends:
            self.event(
                name, self.at(name, now), "close", reason="shutdown", **self.channel_fields[(name, peer)]
            )
            self.event(
                peer, self.at(peer, now), "close", reason="shutdown", **self.channel_fields[(peer, name)]
            )
        for name in names:
            self.event(
                name,
                self.at(name, now),
                "close",
                reason="shutdown",
                transport="tcp",
                sockname=listeners[name],
            )
            self.event(name, self.at(name, now), "stop", reason="shutdown")
        for writer in self.writers.values():
            writer.close()
        return {**self.counts, "floods": floods}


def generate_flood_parts(
    run_dir: Path, spec: str, seed: int, events: int | None
) -> tuple[dict[str, int], int]:
    """Write the part files and header of a flood run over ``spec`` under ``run_dir/nodes``.

    One flood when ``events`` is None, else floods until the trace holds about ``events`` events.
    Returns the events per kind (and ``floods``) and how many part files there are.
    """
    flood = _FloodRun(run_dir, spec, seed)
    counts = flood.run(events)
    return counts, len(flood.names)


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

    elif operation == "report":
        from netsim.trace.report import write_report

        def target() -> Any:
            return write_report(trace, work_dir / "report.html")

    elif operation == "report_one_process":
        from netsim.trace.report import split, write_report

        # The report as it is made where the trace is small or there is one CPU: every section from
        # one pass in this process (netsim.trace.report.split).
        split.SPLIT_MIN_BYTES = 1 << 62

        def target() -> Any:
            return write_report(trace, work_dir / "report.html")

    elif operation == "diagram":
        from netsim.trace.diagram import render_diagram

        def target() -> Any:
            return render_diagram(trace)

    elif operation == "merge":
        import orjson

        from netsim.runs.layout import HEADER_PART_NAME, NODE_DIR_NAME, PART_GLOB
        from netsim.trace.merge import merge_node_traces

        # As netsim.launch.finish.merge_parts does, without removing the parts afterwards.
        node_dir = trace.parent / NODE_DIR_NAME
        header = orjson.loads((node_dir / HEADER_PART_NAME).read_bytes())

        def target() -> Any:
            return merge_node_traces(sorted(node_dir.glob(PART_GLOB)), header, trace)

    elif operation == "export_sqlite":
        from netsim.trace.export import export_sqlite

        def target() -> Any:
            return export_sqlite(trace, work_dir / "trace.sqlite", overwrite=True)

    else:
        raise SystemExit(f"unknown operation {operation!r}")
    baseline = _peak_kib()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    try:
        target()
    except Exception as error:  # noqa: BLE001 - reported as the row's result, not a bench crash
        print(json.dumps({"failed": f"{type(error).__name__}: {error}"}))
        return
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_before
    # An operation that forks a helper (export_sqlite on a big trace) is charged the helper's peak too:
    # summed, an upper bound, since the pages the two share count twice.
    peak = _peak_kib() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"seconds": seconds, "cpu_seconds": cpu_seconds, "baseline_kib": baseline, "peak_kib": peak}
    print(json.dumps({**result, "ru_maxrss_kib": maxrss}))


def _cpu_seconds() -> float:
    """User and system CPU time of this process and of the children it waited for (export_sqlite's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    operations: tuple[str, ...]


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("50-nodes", "a merged trace of 50 nodes", OPERATIONS),
        Scenario("5000-nodes", "a flood run's parts", RUN_OPERATIONS),
        Scenario("5000-nodes-1M", "floods until the trace is big", RUN_OPERATIONS),
    )
}


def run_scenario(scenario: Scenario, args: argparse.Namespace, work_dir: Path, out: Any) -> None:
    from _common import KIB_PER_MIB, Spread, make_table, ratio

    trace = work_dir / TRACE_NAME
    started = time.perf_counter()
    if scenario.name == "50-nodes":
        counts = generate_trace(trace, args.events, args.seed)
        made = f"{args.events:,} events, 50 nodes"
    else:
        events = None if scenario.name == "5000-nodes" else args.events
        counts, parts = generate_flood_parts(work_dir, args.topology, args.seed, events)
        floods = counts.pop("floods")
        made = f"{parts:,} part files ({args.topology}, {floods} flood(s))"
    generated_s = time.perf_counter() - started
    operations = scenario.operations  # merge first, where there is one: the others read its trace
    results: dict[str, dict[str, Any]] = {}
    for operation in operations:
        runs = [measure(operation, trace, work_dir) for _ in range(args.repeat)]
        bad = next((run for run in runs if "seconds" not in run), None)
        if bad is not None:
            results[operation] = bad
            continue
        results[operation] = {
            "seconds": Spread.of([run["seconds"] for run in runs]),
            "cpu_seconds": Spread.of([run["cpu_seconds"] for run in runs]),
            "peak_kib": max(run["peak_kib"] for run in runs),
            "above_kib": max(run["peak_kib"] - run["baseline_kib"] for run in runs),
        }
    if not trace.exists():
        out.print(f"[red]{scenario.name}: no trace to report on: {results.get('merge')}[/]")
        return
    size = trace.stat().st_size
    total = sum(counts.values())
    mix = ", ".join(
        f"{kind} {count / total:.1%}" for kind, count in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    out.print(
        f"[bold]{scenario.name}[/]: {made}; trace {total:,} events, {size / 1e6:,.1f} MB "
        f"({size / total:.0f} B/event), generated in {generated_s:.1f} s (not timed below)"
    )
    out.print(f"mix: {mix}")

    json_floor = results.get("json.loads", {}).get("seconds")
    orjson_floor = results.get("orjson.loads", {}).get("seconds")
    rows = []
    for operation in operations:
        result = results[operation]
        if "unavailable" in result:
            rows.append((f"{operation}: not available", *["-"] * 9))
            continue
        if "failed" in result:
            rows.append((f"{operation}: failed ({result['failed'][:60]})", *["-"] * 9))
            continue
        seconds: Spread = result["seconds"]
        peak_mib = result["peak_kib"] / KIB_PER_MIB
        floor = operation in ("json.loads", "orjson.loads")
        rows.append(
            (
                operation if not floor else f"{operation} (floor)",
                seconds.format(2),
                result["cpu_seconds"].format(2),
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
        "CPU s",
        "events/s",
        "vs json.loads",
        "vs orjson.loads",
        "peak RSS MiB",
        "above baseline MiB",
        f"< {GOAL_SECONDS:g} s",
        f"< {GOAL_PEAK_MIB:g} MiB",
    )
    caption = (
        f"each operation in a fresh process, {args.repeat} run(s): median seconds (min-max), wall clock and "
        "CPU (user + system: steadier than the wall clock on a busy machine), max memory. "
        "peak RSS: the child's high-water mark (VmHWM) after the operation, plus the peak of any process "
        "it forked (export_sqlite's second half); above baseline: minus the child's own after its "
        "imports. events/s counts every event of the trace; merge reads the part files and writes "
        "the trace the other operations read."
    )
    title = f"{scenario.name}: trace tools over {total:,} events ({scenario.title})"
    out.print(make_table(title, columns, rows, caption))
    if args.keep:
        out.print(f"kept: {work_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events in the 50-nodes and 5000-nodes-1M traces"
    )
    parser.add_argument(
        "--topology", default="random:5000:0.002", help="the topology of the 5000-nodes scenarios"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs per operation (median time, max memory)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the traces (and the SQLite file) afterwards"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("OPERATION", "TRACE", "WORK_DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        operation, trace, work_dir = args.child
        run_child(operation, Path(trace), Path(work_dir))
        return
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")

    import tempfile

    from _common import child_pids, console, machine_line, temp_dir

    out = console()
    out.print(machine_line())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    out.print(f"open files: soft limit {soft:,}, hard limit {hard:,}")
    for name in chosen:
        with temp_dir("netsim-bench-trace-") as scratch:
            work_dir = (
                Path(tempfile.mkdtemp(prefix=f"netsim-bench-trace-{name}-")) if args.keep else Path(scratch)
            )
            run_scenario(SCENARIOS[name], args, work_dir, out)
    leftovers = child_pids()
    out.print(
        "no child process left behind" if not leftovers else f"[red]child processes left: {leftovers}[/]"
    )


if __name__ == "__main__":
    main()

"""Flood over a random graph, end to end: netsim's built-in ``flood`` app vs a hand-written raw-socket flood.

netsim side: ``netsim.run(topology, app="flood")`` on a connected ``random:N:P`` graph (the first seed
from --seed on whose graph networkx finds one component). Measured: time to all ready (the
``on_ready`` moment), summary["timing"], total wall time, messages, trace events, trace bytes and
bytes per event, and the flood itself from the trace's ts_ns (CLOCK_MONOTONIC, shared by all
processes): from the first ``send`` of a flood message to the last node's first receipt (its
``app`` record ``{"kind": "flood"}``). Every node must record the flood once.

Baseline, in the same run, on the same graph: one forked process per node (multiprocess, fork
context, as netsim), no tracing. Each binds a listener on the same address family as --transport,
reports its port to the parent over a socketpair, gets its neighbours' ports, connects to the
neighbours it is the lower index of (sending its 4-byte index first) and accepts the others, then
reports ready. On "go" the source sends a 12-byte length-prefixed frame to its neighbours; every node
forwards the first copy it gets to its other neighbours (selectors, TCP_NODELAY like netsim), notes
the CLOCK_MONOTONIC time and reports to the parent. Baseline and netsim alternate, --repeat times.

Run: python bench/flood.py [--nodes 300] [--p 0.03] [--seed 1] [--transport tcp] [--repeat 3] [--cpus 0]
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import socket
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import multiprocess
import networkx as nx
from _common import (
    child_pids,
    console,
    cpu_placement,
    format_cpus,
    format_placements,
    last_cpu,
    machine_line,
    make_table,
    parse_cpu_list,
    pin_to_cpus,
    pinning_line,
    ratio,
    spread,
    stop_processes,
    temp_dir,
)

import netsim
from netsim.topology import load_topology, topology_to_graph
from netsim.topology.model import Topology
from netsim.trace.reader import iter_events

# The raw baseline speaks the same address family as netsim's stream transports.
BASELINE_FAMILIES = {"tcp": socket.AF_INET, "tcp6": socket.AF_INET6, "unix": socket.AF_UNIX}
LOOPBACK = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}
SEED_TRIES = 50
CONTROL_TIMEOUT_S = 60.0

PORT = struct.Struct("!H")
INDEX = struct.Struct("!I")
NEIGHBOUR = struct.Struct("!IH")
LENGTH = struct.Struct("!I")
FLOOD_BODY = struct.Struct("!II")  # origin index, hops
REPORT = struct.Struct("!Q")  # CLOCK_MONOTONIC ns of the node's first receipt (the source: its first send)
FINAL = struct.Struct("!IIQQ")  # frames received, frames sent, first send ns, last receive ns


@dataclass
class Sample:
    """One flood, either side. Times in seconds, except *_ns (CLOCK_MONOTONIC)."""

    ready_s: float
    wall_s: float
    flood_s: float  # first flood send -> last node's first receipt
    all_delivered_s: float  # first flood send -> last flood frame received (duplicates included)
    reported_s: float  # baseline: "go" sent -> every node reported; netsim: summary running_s
    shutdown_s: float
    flood_sends: int
    nodes_reached: int
    placement: Counter[int]
    parent_cpu: int | None
    placement_read_s: float
    extra: dict[str, Any] = field(default_factory=dict)


# ---- the graph -------------------------------------------------------------------------------------


def pick_topology(nodes: int, p: float, seed: int) -> tuple[Topology, int, nx.Graph]:
    """The first random:N:P topology from ``seed`` on that is connected."""
    spec = f"random:{nodes}:{p}"
    for candidate in range(seed, seed + SEED_TRIES):
        topology = load_topology(spec, seed=candidate)
        graph = topology_to_graph(topology)
        if nx.is_connected(graph):
            return topology, candidate, graph
    raise SystemExit(f"{spec}: no connected graph for seeds {seed}..{seed + SEED_TRIES - 1}; raise --p")


# ---- netsim ----------------------------------------------------------------------------------------


def measure_netsim(topology: Topology, seed: int, transport: str, out_dir: str) -> Sample:
    seen: dict[str, Any] = {}

    def on_ready(nodes: list[Any]) -> None:
        # netsim sends START before it calls on_ready: do nothing slow here, the flood is starting.
        seen["ready_at"] = time.perf_counter()
        seen["pids"] = [node.pid for node in nodes]

    def on_progress(progress: Any) -> None:
        # The first progress report of the shutdown: the flood is over and the nodes are draining,
        # still alive. Reading /proc while 300 nodes start up would starve them of the parent's CPU.
        if progress.phase != "stopping" or "placement" in seen or "pids" not in seen:
            return
        sampling = time.perf_counter()
        seen["placement"] = cpu_placement(seen["pids"])
        seen["parent_cpu"] = last_cpu(os.getpid())
        seen["placement_read_s"] = time.perf_counter() - sampling

    started = time.perf_counter()
    result = netsim.run(
        topology,
        app="flood",
        transport=transport,
        seed=seed,
        out=out_dir,
        duration=60.0,
        startup_timeout=60.0,
        on_progress=on_progress,
        on_ready=on_ready,
    )
    wall_s = time.perf_counter() - started
    summary = result.summary.to_dict()
    try:
        if summary["ended_by"] != "done" or "ready_at" not in seen:
            raise SystemExit(
                f"netsim flood did not run cleanly: ended_by={summary['ended_by']!r}, "
                f"failures={summary['node_failures']}"
            )
        trace = analyse_trace(summary["trace"])
    finally:
        shutil.rmtree(result.run_dir, ignore_errors=True)
    timing = summary["timing"]
    return Sample(
        ready_s=seen["ready_at"] - started,
        wall_s=wall_s,
        flood_s=(trace["last_receipt_ns"] - trace["first_send_ns"]) / 1e9,
        all_delivered_s=(trace["last_flood_recv_ns"] - trace["first_send_ns"]) / 1e9,
        reported_s=timing["running_s"],
        shutdown_s=timing["shutdown_s"],
        flood_sends=trace["flood_sends"],
        nodes_reached=trace["nodes_reached"],
        placement=seen.get("placement", Counter()),
        parent_cpu=seen.get("parent_cpu"),
        placement_read_s=seen.get("placement_read_s", 0.0),
        extra={
            "startup_s": timing["startup_s"],
            "running_s": timing["running_s"],
            "shutdown_s": timing["shutdown_s"],
            "messages_sent": summary["messages_sent"],
            "events": summary["events"],
            "trace_events": trace["events"],
            "trace_bytes": trace["bytes"],
            "header_bytes": trace["header_bytes"],
            "flood_records": trace["flood_records"],
            "start_spread_s": (trace["last_start_ns"] - trace["first_start_ns"]) / 1e9,
            "send_to_last_start_s": (trace["last_start_ns"] - trace["first_send_ns"]) / 1e9,
        },
    )


def analyse_trace(trace_path: str) -> dict[str, Any]:
    first_send_ns: int | None = None
    start_ns: list[int] = []
    last_flood_recv_ns = 0
    flood_sends = 0
    receipts: dict[str, int] = {}  # node -> ts_ns of its flood record
    last_receipt_ns = 0
    flood_records = 0
    events = 0
    for event in iter_events(trace_path):
        events += 1
        kind = event["event"]
        if kind in ("send", "sendto") and event.get("msg_type") == "flood":
            flood_sends += 1
            if first_send_ns is None or event["ts_ns"] < first_send_ns:
                first_send_ns = event["ts_ns"]
        elif kind == "start":
            start_ns.append(event["ts_ns"])
        elif kind in ("recv", "recvfrom") and event.get("msg_type") == "flood":
            last_flood_recv_ns = max(last_flood_recv_ns, event["ts_ns"])
        elif kind == "app" and event.get("data", {}).get("kind") == "flood":
            flood_records += 1
            receipts.setdefault(event["node"], event["ts_ns"])
            # The source records the flood (hops 0) after sending it; every other record is a receipt.
            if event["data"].get("hops", 0) > 0:
                last_receipt_ns = max(last_receipt_ns, event["ts_ns"])
    if first_send_ns is None:
        raise SystemExit(f"{trace_path}: no flood send in the trace")
    with open(trace_path, "rb") as trace_file:
        header_bytes = len(trace_file.readline())
    return {
        "first_send_ns": first_send_ns,
        "last_receipt_ns": last_receipt_ns,
        "last_flood_recv_ns": last_flood_recv_ns,
        "first_start_ns": min(start_ns),
        "last_start_ns": max(start_ns),
        "flood_sends": flood_sends,
        "nodes_reached": len(receipts),
        "flood_records": flood_records,
        "events": events,
        "bytes": os.path.getsize(trace_path),
        "header_bytes": header_bytes,
    }


# ---- baseline: raw sockets -----------------------------------------------------------------------------


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return bytes(data)


def _frame(origin: int, hops: int) -> bytes:
    body = FLOOD_BODY.pack(origin, hops)
    return LENGTH.pack(len(body)) + body


def _flood_node(
    index: int,
    control: socket.socket,
    inherited: list[socket.socket],
    neighbours: list[int],
    family: int,
    unix_dir: str,
    source: int,
) -> None:
    """One baseline node: listen, link up, then forward the first flood frame it gets."""
    for other in inherited:
        other.close()
    listener = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        listener.bind(os.path.join(unix_dir, str(index)))
        port = 0
    else:
        listener.bind((LOOPBACK[family], 0))
        port = listener.getsockname()[1]
    listener.listen(max(128, len(neighbours) + 16))
    control.sendall(PORT.pack(port))

    (count,) = INDEX.unpack(recv_exact(control, INDEX.size))
    ports = dict(NEIGHBOUR.iter_unpack(recv_exact(control, count * NEIGHBOUR.size)))
    links: dict[int, socket.socket] = {}
    for peer in neighbours:
        if peer > index:
            sock = socket.socket(family, socket.SOCK_STREAM)
            if family == socket.AF_UNIX:
                sock.connect(os.path.join(unix_dir, str(peer)))
            else:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect((LOOPBACK[family], ports[peer]))
            sock.sendall(INDEX.pack(index))
            links[peer] = sock
    for _ in range(sum(peer < index for peer in neighbours)):
        sock, _address = listener.accept()
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        (peer,) = INDEX.unpack(recv_exact(sock, INDEX.size))
        links[peer] = sock
    control.sendall(b"R")

    selector = selectors.DefaultSelector()
    for peer, sock in links.items():
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, peer)
    selector.register(control, selectors.EVENT_READ, None)
    buffers = {peer: bytearray() for peer in links}
    seen = False
    received = sent = 0
    first_send_ns = last_recv_ns = 0

    def forward(frame: bytes, exclude: int | None) -> None:
        nonlocal sent, first_send_ns
        for peer, sock in links.items():
            if peer != exclude:
                if not first_send_ns:
                    first_send_ns = time.monotonic_ns()
                sock.sendall(frame)  # 12 bytes into an empty socket buffer: never blocks
                sent += 1

    running = True
    while running:
        for key, _mask in selector.select():
            peer = key.data
            if peer is None:
                command = control.recv(1)
                if command == b"G" and index == source and not seen:
                    seen = True
                    forward(_frame(index, 1), None)
                    control.sendall(REPORT.pack(first_send_ns))
                elif command in (b"S", b""):
                    running = False
                continue
            chunk = key.fileobj.recv(65536)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            buffer = buffers[peer]
            buffer += chunk
            while len(buffer) >= LENGTH.size:
                (length,) = LENGTH.unpack_from(buffer)
                if len(buffer) < LENGTH.size + length:
                    break
                origin, hops = FLOOD_BODY.unpack_from(buffer, LENGTH.size)
                del buffer[: LENGTH.size + length]
                received += 1
                last_recv_ns = time.monotonic_ns()
                if not seen:
                    seen = True
                    got_ns = last_recv_ns
                    forward(_frame(origin, hops + 1), peer)
                    control.sendall(REPORT.pack(got_ns))
    control.sendall(FINAL.pack(received, sent, first_send_ns, last_recv_ns))
    selector.close()
    for sock in links.values():
        sock.close()
    listener.close()
    control.close()


def measure_baseline(topology: Topology, family: int, unix_dir: str) -> Sample:
    index_of = {node.name: node.index for node in topology.nodes}
    neighbours: list[list[int]] = [[] for _ in topology.nodes]
    for link in topology.links:
        a, b = index_of[link.a], index_of[link.b]
        neighbours[a].append(b)
        neighbours[b].append(a)
    source = 0  # netsim's flood starts at the topology's first node too
    size = len(topology.nodes)
    context = multiprocess.get_context("fork")
    processes: list[Any] = []
    controls: list[socket.socket] = []
    started = time.perf_counter()
    try:
        for index in range(size):
            parent_end, child_end = socket.socketpair()
            process = context.Process(
                target=_flood_node,
                args=(index, child_end, list(controls), neighbours[index], family, unix_dir, source),
                daemon=True,
            )
            process.start()
            child_end.close()
            parent_end.settimeout(CONTROL_TIMEOUT_S)
            processes.append(process)
            controls.append(parent_end)
        ports = [PORT.unpack(recv_exact(control, PORT.size))[0] for control in controls]
        for index, control in enumerate(controls):
            entries = b"".join(NEIGHBOUR.pack(peer, ports[peer]) for peer in neighbours[index])
            control.sendall(INDEX.pack(len(neighbours[index])) + entries)
        for control in controls:
            if recv_exact(control, 1) != b"R":
                raise SystemExit("baseline: a node sent something other than ready")
        ready_s = time.perf_counter() - started

        go = time.perf_counter()
        controls[source].sendall(b"G")
        receipts = [REPORT.unpack(recv_exact(control, REPORT.size))[0] for control in controls]
        reported_s = time.perf_counter() - go
        # Sampled once every node has the flood, as on the netsim side: reading /proc while 300
        # processes are runnable takes the parent ~100 ms and would land in reported_s.
        sampling = time.perf_counter()
        placement = cpu_placement(process.pid for process in processes)
        parent_cpu = last_cpu(os.getpid())
        placement_read_s = time.perf_counter() - sampling

        stopping = time.perf_counter()
        for control in controls:
            control.sendall(b"S")
        finals = [FINAL.unpack(recv_exact(control, FINAL.size)) for control in controls]
        for process in processes:
            process.join(10.0)
        shutdown_s = time.perf_counter() - stopping
        wall_s = time.perf_counter() - started
    finally:
        stop_processes(processes)
        for control in controls:
            control.close()
        for entry in os.listdir(unix_dir):
            os.unlink(os.path.join(unix_dir, entry))
    first_send_ns = receipts[source]
    last_receipt_ns = max(ns for index, ns in enumerate(receipts) if index != source)
    last_recv_ns = max(final[3] for final in finals)
    return Sample(
        ready_s=ready_s,
        wall_s=wall_s,
        flood_s=(last_receipt_ns - first_send_ns) / 1e9,
        all_delivered_s=(last_recv_ns - first_send_ns) / 1e9,
        reported_s=reported_s,
        shutdown_s=shutdown_s,
        flood_sends=sum(final[1] for final in finals),
        nodes_reached=sum(1 for ns in receipts if ns),
        placement=placement,
        parent_cpu=parent_cpu,
        placement_read_s=placement_read_s,
        extra={"frames_received": sum(final[0] for final in finals)},
    )


# ---- report -------------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    topology: Topology,
    seed: int,
    graph: nx.Graph,
    netsim_samples: list[Sample],
    base_samples: list[Sample],
) -> None:
    out = console()
    out.print(f"[bold]bench/flood.py[/bold]: {machine_line()}")
    degrees = sorted(degree for _node, degree in graph.degree())
    out.print(
        f"netsim {netsim.__version__}; graph random:{args.nodes}:{args.p} seed {seed}"
        f"{'' if seed == args.seed else f' (seeds {args.seed}..{seed - 1} gave a disconnected graph)'}: "
        f"{len(topology.nodes)} nodes, {len(topology.links)} links, connected, degree "
        f"{degrees[0]}/{degrees[len(degrees) // 2]}/{degrees[-1]} (min/median/max), "
        f"source eccentricity {nx.eccentricity(graph, topology.nodes[0].name)} hops; "
        f"transport {args.transport}."
    )
    out.print(f"{args.repeat} repeat(s), baseline and netsim alternating; cells are median (min-max).")
    out.print(pinning_line(args.cpus is not None))
    out.print()

    def row(label: str, value: Any, digits: int = 0, scale: float = 1e3) -> list[str]:
        mine, theirs = spread(netsim_samples, value), spread(base_samples, value)
        return [
            label,
            mine.format(digits, scale),
            theirs.format(digits, scale),
            ratio(mine.median, theirs.median),
        ]

    rows = [
        row("time to all ready, ms", lambda s: s.ready_s),
        row("flood completion, ms", lambda s: s.flood_s, 1),
        row("all flood frames delivered, ms", lambda s: s.all_delivered_s, 1),
        row("shutdown, ms", lambda s: s.shutdown_s),
        row("total wall time, ms", lambda s: s.wall_s),
        row("flood messages sent", lambda s: s.flood_sends, 0, 1),
        row("nodes that got the flood", lambda s: s.nodes_reached, 0, 1),
    ]
    out.print(
        make_table(
            f"Flood over random:{args.nodes}:{args.p}: netsim (flood app, traced) vs raw sockets (no trace)",
            ["", "netsim", "baseline", "ratio"],
            rows,
            caption=(
                "ready: netsim.run() called -> on_ready | first fork -> every node has its links up.\n"
                "flood completion: first flood send -> last node's first receipt (CLOCK_MONOTONIC in the "
                "nodes; netsim: the trace's ts_ns).\n"
                "all delivered: first flood send -> last flood frame received, duplicates included.\n"
                "shutdown: netsim summary shutdown_s (includes the bench's placement read, below) | "
                "stop sent -> all joined.\n"
                "total: the whole netsim.run() call | first fork -> all joined."
            ),
        )
    )

    def extra(key: str, digits: int = 0, scale: float = 1.0) -> str:
        return spread(netsim_samples, lambda s: s.extra[key]).format(digits, scale)

    bytes_per_event = spread(
        netsim_samples, lambda s: (s.extra["trace_bytes"] - s.extra["header_bytes"]) / s.extra["trace_events"]
    )
    other = spread(
        netsim_samples,
        lambda s: s.wall_s - s.extra["startup_s"] - s.extra["running_s"] - s.extra["shutdown_s"],
    )
    rows = [
        ["startup_s (spawn, bind, addresses, links up, start barrier), ms", extra("startup_s", 0, 1e3)],
        ["running_s (from the start gate opening, after on_ready), ms", extra("running_s", 1, 1e3)],
        ["shutdown_s, ms", extra("shutdown_s", 0, 1e3)],
        ["rest of netsim.run() (plans, trace merge, summary), ms", other.format(0, 1e3)],
        ["start barrier spread: first -> last node 'start' event, ms", extra("start_spread_s", 1, 1e3)],
        ["first flood send -> last node 'start' event, ms", extra("send_to_last_start_s", 1, 1e3)],
        ["messages sent (flood + one netsim.hello per link)", extra("messages_sent")],
        ["events in the trace (summary / counted)", f"{extra('events')} / {extra('trace_events')}"],
        ["app records kind=flood (must equal N)", extra("flood_records")],
        ["trace size, bytes", extra("trace_bytes")],
        ["bytes per event (header line excluded)", bytes_per_event.format(1)],
    ]
    out.print(make_table("netsim run details", ["", "netsim"], rows))
    out.print(
        make_table(
            "Baseline details",
            ["", "baseline"],
            [
                [
                    "'go' sent -> every node reported it has the flood (parent's view), ms",
                    spread(base_samples, lambda s: s.reported_s).format(1, 1e3),
                ],
                [
                    "flood frames received (duplicates included)",
                    spread(base_samples, lambda s: s.extra["frames_received"]).format(0, 1),
                ],
            ],
        )
    )

    rows = [
        [
            "netsim",
            format_placements(sample.placement for sample in netsim_samples),
            format_cpus(sample.parent_cpu for sample in netsim_samples),
            spread(netsim_samples, lambda s: s.placement_read_s).format(1, 1e3),
        ],
        [
            "baseline",
            format_placements(sample.placement for sample in base_samples),
            ",".join(str(sample.parent_cpu) for sample in base_samples),
            spread(base_samples, lambda s: s.placement_read_s).format(1, 1e3),
        ],
    ]
    out.print(
        make_table(
            "CPU placement (the CPU each process last ran on; one entry per repeat)",
            ["", "nodes", "parent", "sampling cost, ms"],
            rows,
            caption=(
                "Sampled by the parent after the flood: netsim at the first progress report of its "
                "shutdown (nodes draining, counted in shutdown_s); baseline once every node reported."
            ),
        )
    )

    problems = []
    for side, samples in (("netsim", netsim_samples), ("baseline", base_samples)):
        for sample in samples:
            if sample.nodes_reached != len(topology.nodes):
                problems.append(f"{side}: {sample.nodes_reached}/{len(topology.nodes)} nodes got the flood")
    for sample in netsim_samples:
        if sample.extra["flood_records"] != len(topology.nodes):
            problems.append(
                f"netsim: {sample.extra['flood_records']} flood records, expected {len(topology.nodes)}"
            )
    expected_sends = 2 * len(topology.links) - (len(topology.nodes) - 1)
    for side, samples in (("netsim", netsim_samples), ("baseline", base_samples)):
        for sample in samples:
            if sample.flood_sends != expected_sends:
                problems.append(f"{side}: {sample.flood_sends} flood sends, expected {expected_sends}")
    out.print()
    out.print(
        "Check: every node got the flood once, and each side sent 2*links-(N-1) = "
        f"{expected_sends} flood messages: " + ("[bold]OK[/bold]" if not problems else "; ".join(problems))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=300, help="node count (default 300)")
    parser.add_argument("--p", type=float, default=0.03, help="link probability of random:N:P (default 0.03)")
    parser.add_argument("--seed", type=int, default=1, help="first graph seed to try (default 1)")
    parser.add_argument(
        "--transport", default="tcp", choices=sorted(BASELINE_FAMILIES), help="link transport (default tcp)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="floods per side (default 3)")
    parser.add_argument(
        "--cpus",
        default=None,
        help="pin the bench and all its processes to these CPUs, e.g. 0 or 0-1 (default: no pinning)",
    )
    args = parser.parse_args(argv)
    if args.nodes < 2 or args.repeat < 1:
        parser.error("--nodes needs at least 2 and --repeat at least 1")
    if args.cpus is not None:
        pin_to_cpus(parse_cpu_list(args.cpus))

    import netsim.launch.run  # noqa: F401  (imported now, not inside the first measurement)

    topology, seed, graph = pick_topology(args.nodes, args.p, args.seed)
    family = BASELINE_FAMILIES[args.transport]
    netsim_samples: list[Sample] = []
    base_samples: list[Sample] = []
    with temp_dir("netsim-bench-flood-") as out_dir, temp_dir("nsb-") as unix_dir:
        for _ in range(args.repeat):
            base_samples.append(measure_baseline(topology, family, unix_dir))
            netsim_samples.append(measure_netsim(topology, seed, args.transport, out_dir))
            print(
                f"  netsim: ready {netsim_samples[-1].ready_s * 1e3:,.0f} ms, flood "
                f"{netsim_samples[-1].flood_s * 1e3:.1f} ms; baseline: ready "
                f"{base_samples[-1].ready_s * 1e3:,.0f} ms, flood {base_samples[-1].flood_s * 1e3:.1f} ms",
                file=sys.stderr,
            )
    report(args, topology, seed, graph, netsim_samples, base_samples)
    leftover = child_pids()
    console().print(f"Leftover child processes: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())

"""Messages per second over one link, for every transport: netsim (codec + app + trace) vs raw sockets.

For each transport, these senders push N messages of the same size from one process to another:

- raw: a hand-written sender that sends each length-prefixed frame (the exact bytes netsim puts
  on the wire) with one blocking send call, as a socket tutorial writes it, and a receiver that
  parses the frames (or takes one datagram per message) and counts them, one blocking recv per read.
  No JSON, no trace. (Its stop after 0.5 s of silence is the kernel's SO_RCVTIMEO: a Python socket
  timeout would add a poll() before every recv, a syscall the plain script does not make.)
- raw NODELAY: the same with TCP_NODELAY set on the sender (tcp and tcp6 only: AF_UNIX streams have
  no Nagle algorithm to turn off, and a packet transport sends one packet per call either way). Each
  68-byte send is then a segment of its own and a wake-up of the receiver.
- raw+json (and raw+json NODELAY): the same, but the sender encodes each message with orjson and the
  receiver decodes each one, as a hand-written JSON-over-sockets script would.
- netsim: a two-node netsim run whose app sends the same messages in bursts, pausing while the link
  has a backlog (ctx.backlog, on_drained) as a blocking send() pauses the raw sender; every send and
  every receive is written to the trace. On udp and udp6 netsim hands the kernel a burst's datagrams
  in runs of up to 64 per call (UDP_SEGMENT) and reads a run in one (UDP_GRO); the raw senders send
  one datagram per call, as a tutorial's script does.

Each runs in two placements:

- unpinned: the scheduler places sender and receiver, as it does for a user's program. On a machine
  with few CPUs the two often share one, where a wake-up is cheap; the "same CPU" column says how often
  a sample found them on the same CPU.
- pinned: sender on cpu0, receiver on cpu1 (netsim's nodes are pinned in on_ready, before the start
  barrier opens), so that every configuration pays the same cross-CPU wake-ups.

Rates are end to end: messages received / (last receive - first send), on the shared monotonic
clock. A round runs every sender in both placements, side by side; each ratio is netsim's rate over a
baseline's of the same round and placement, and the table gives the median over the rounds. The goal
is judged on the unpinned placement against the plain raw sender (no NODELAY): netsim >= 0.5x raw and
>= 1.0x raw+json on every transport, tracing on.

Run: python bench/throughput.py [--messages 50000] [--transports tcp,udp,...] [--repeat 3]
                                [--placements unpinned,pinned] [--profile DIR]
(--profile DIR: no tables; one netsim run per transport and placement with each node under cProfile.)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import orjson
from _common import console as bench_console
from _common import last_cpu, machine_line, make_table

import netsim
from netsim import App
from netsim.topology.model import LinkSpec, NodeSpec, Topology
from netsim.trace.reader import iter_events
from netsim.transport import TRANSPORT_NAMES, get_transport
from netsim.wire.codec import encode_message
from netsim.wire.message import Message

BODY = "x" * 64
SENDER_CPU, RECEIVER_CPU = 0, 1
BURST = 256
GOAL_RAW = 0.5
GOAL_RAW_JSON = 1.0
PLACEMENTS = ("unpinned", "pinned")
LENGTH = struct.Struct("!I")
DGRAM_QLEN_PATH = "/proc/sys/net/unix/max_dgram_qlen"
# How often the bench looks at which CPU each of the two processes last ran on.
PLACEMENT_SAMPLE_S = 0.005
DEFAULT_MESSAGES = 50_000
# A raw receiver that hears nothing for this long stops (a udp run may lose its last datagrams).
SILENCE_TIMEVAL = struct.pack("ll", 0, 500_000)
# --profile DIR: each node of a netsim run writes its cProfile report (by own time) into DIR.
PROFILE_ENV = "NETSIM_BENCH_PROFILE"


@dataclass(frozen=True, slots=True)
class Sender:
    """One way of sending: netsim, or a hand-written baseline."""

    label: str
    encode: bool = False  # orjson per message on both sides (raw+json)
    nodelay: bool = False  # TCP_NODELAY on the raw sender


NETSIM = Sender("netsim")
RAW = Sender("raw")
RAW_NODELAY = Sender("raw NODELAY", nodelay=True)
RAW_JSON = Sender("raw+json", encode=True)
RAW_JSON_NODELAY = Sender("raw+json NODELAY", encode=True, nodelay=True)
BASELINES = (RAW, RAW_NODELAY, RAW_JSON, RAW_JSON_NODELAY)


def nodelay_applies(transport_name: str) -> str | None:
    """None if TCP_NODELAY means something on this transport, else why not (for the table)."""
    transport = get_transport(transport_name)
    if transport.framing != "stream":
        return "n/a: one packet per send"
    if transport.family == socket.AF_UNIX:
        return "n/a: AF_UNIX has no Nagle"
    return None


def baselines_for(transport_name: str) -> tuple[Sender, ...]:
    if nodelay_applies(transport_name) is None:
        return BASELINES
    return (RAW, RAW_JSON)


# ---- where the two processes ran ----------------------------------------------------------------


class PlacementSampler:
    """Samples, from a thread of the bench, whether two processes last ran on the same CPU."""

    def __init__(self) -> None:
        self.pids: tuple[int, int] | None = None
        self.same = self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PlacementSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(PLACEMENT_SAMPLE_S):
            if self.pids is None:
                continue
            cpus = [last_cpu(pid) for pid in self.pids]
            if None not in cpus:
                self.samples += 1
                self.same += cpus[0] == cpus[1]

    @property
    def same_fraction(self) -> float | None:
        return self.same / self.samples if self.samples else None


# ---- netsim side ------------------------------------------------------------------------------


class Blaster(App):
    """Node 'a' sends MESSAGES blast messages to 'b' as fast as the link takes them; 'b' counts them.

    'a' sends in bursts of up to BURST and pauses while the link has a backlog (the kernel refused
    some), going on in on_drained: the pacing a program on sockets gets from a blocking send().
    """

    messages = int(os.environ.get("NETSIM_BENCH_MESSAGES", str(DEFAULT_MESSAGES)))

    def on_start(self, ctx):
        self.sent = 0
        self.received = 0
        self.profile = None
        if os.environ.get(PROFILE_ENV):
            # --profile: this node's own cProfile, from its app's start to the end of its part.
            self.profile = cProfile.Profile()
            self.profile.enable()
        if ctx.name == "a":
            self.send_burst(ctx)

    def on_timer(self, ctx, name, data):
        self.send_burst(ctx)

    def on_drained(self, ctx, peer):
        self.send_burst(ctx)

    def send_burst(self, ctx):
        if self.sent == self.messages:
            return
        # The loop keeps its state in locals, as a sender's hot loop would.
        sent = self.sent
        burst_end = min(sent + BURST, self.messages)
        send, backlog = ctx.send, ctx.backlog
        while sent < burst_end:
            send("b", "blast", BODY)
            sent += 1
            if backlog("b"):
                break
        self.sent = sent
        if sent == self.messages:
            self.stop(ctx)
        elif not ctx.backlog("b"):
            # Let the loop hand this burst to the kernel, then send the next.
            ctx.set_timer(0, "burst")

    def on_message(self, ctx, message):
        self.received += 1
        if self.received == self.messages:
            self.stop(ctx)

    def stop(self, ctx):
        self.write_profile(ctx)
        ctx.stop()

    def on_stop(self, ctx):
        # A udp receiver that lost messages never counts to the end: its report is written here.
        self.write_profile(ctx)

    def write_profile(self, ctx):
        if self.profile is not None:
            self.profile.disable()
            path = Path(os.environ[PROFILE_ENV]) / f"{ctx.name}.txt"
            with open(path, "w") as report:
                pstats.Stats(self.profile, stream=report).sort_stats("tottime").print_stats(30)
            self.profile = None


def run_netsim(transport: str, messages: int, out: Path, pinned: bool) -> dict:
    os.environ["NETSIM_BENCH_MESSAGES"] = str(messages)
    Blaster.messages = messages
    topology = Topology(
        "pair", f"bench/{transport}", (NodeSpec("a", 0), NodeSpec("b", 1)), (LinkSpec("a", "b", transport),)
    )
    with PlacementSampler() as sampler:

        def ready(nodes):
            pids = {node.name: node.pid for node in nodes}
            if pinned:
                os.sched_setaffinity(pids["a"], {SENDER_CPU})
                os.sched_setaffinity(pids["b"], {RECEIVER_CPU})
            sampler.pids = (pids["a"], pids["b"])

        result = netsim.run(
            topology,
            app=f"{Path(__file__).resolve()}:Blaster",
            seed=1,
            out=out,
            duration=60,
            quiet=0.5,
            on_ready=ready,
        )
    first_send = last_receive = None
    received = 0
    for event in iter_events(result.run_dir):
        if event.get("msg_type") != "blast":
            continue
        if event["event"] in ("send", "sendto") and first_send is None:
            first_send = event["ts_ns"]
        elif event["event"] in ("recv", "recvfrom"):
            received += 1
            last_receive = event["ts_ns"]
    trace_bytes = (result.run_dir / "trace.jsonl").stat().st_size
    shutil.rmtree(result.run_dir)
    rate = received / ((last_receive - first_send) / 1e9) if received else 0.0
    return {
        "rate": rate,
        "received": received,
        "trace_bytes": trace_bytes,
        "same_cpu": sampler.same_fraction,
    }


# ---- raw side ---------------------------------------------------------------------------------


def socket_pair(transport_name: str, socket_dir: str, nodelay: bool):
    """(receiving socket, sending socket) connected the way a hand-written program would."""
    transport = get_transport(transport_name)
    family, kind = transport.family, transport.sock_type
    if family == socket.AF_UNIX:
        server_address = os.path.join(socket_dir, "server")
        client_address = os.path.join(socket_dir, "client")
    else:
        loopback = "127.0.0.1" if family == socket.AF_INET else "::1"
        server_address = client_address = (loopback, 0)
    server = socket.socket(family, kind)
    server.bind(server_address)
    client = socket.socket(family, kind)
    client.bind(client_address)
    if transport.connected:
        server.listen(1)
        if nodelay:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect(server.getsockname())
        receiver, _ = server.accept()
        server.close()
    else:
        client.connect(server.getsockname())
        receiver = server
    for sock in (receiver, client):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    return receiver, client


def raw_sender(sock: socket.socket, messages: int, framed: bool, encode: bool) -> int:
    """Send every message; returns the time just before the first send."""
    template = Message("a", "b", "a:1", "blast", BODY, None, 1)
    wire = encode_message(template)
    frame = LENGTH.pack(len(wire)) + wire
    send = sock.sendall if framed else sock.send
    first = time.monotonic_ns()
    # The receiver stops after 0.5 s of silence (a loaded machine can pause the sender that long): then
    # the send fails, and the run counts what arrived.
    with contextlib.suppress(OSError):
        for seq in range(messages):
            if encode:
                payload = orjson.dumps(
                    {"src": "a", "dst": "b", "id": f"a:{seq}", "type": "blast", "body": BODY, "lamport": seq}
                )
                send(LENGTH.pack(len(payload)) + payload if framed else payload)
            else:
                send(frame if framed else wire)
    sock.close()
    return first


def raw_receiver(sock: socket.socket, messages: int, framed: bool, decode: bool) -> tuple[int, int]:
    """Messages received and the time of the last one; stops at N or after 0.5 s of silence."""
    # The silence that ends the run is the kernel's receive timeout (SO_RCVTIMEO) on a blocking socket,
    # as a script that never sets a timeout reads: socket.settimeout() would add a poll() to every recv.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, SILENCE_TIMEVAL)
    received = 0
    last = 0
    if framed:
        buffer = bytearray()
        chunk = bytearray(256 * 1024)
        while received < messages:
            try:
                count = sock.recv_into(chunk)
            except BlockingIOError:
                break
            if count == 0:
                break
            buffer += chunk[:count]
            offset = 0
            while len(buffer) - offset >= 4:
                (length,) = LENGTH.unpack_from(buffer, offset)
                if len(buffer) - offset - 4 < length:
                    break
                payload = bytes(buffer[offset + 4 : offset + 4 + length])
                if decode:
                    orjson.loads(payload)
                offset += 4 + length
                received += 1
            del buffer[:offset]
            last = time.monotonic_ns()
    else:
        while received < messages:
            try:
                payload = sock.recv(65536)
            except BlockingIOError:
                break
            if not payload:
                break
            if decode:
                orjson.loads(payload)
            received += 1
            last = time.monotonic_ns()
    return received, last


def _fork(work, cpu: int | None, keep: socket.socket, drop: socket.socket) -> tuple[int, int]:
    """Run ``work(keep)`` in a forked child (on ``cpu`` if given); returns (pid, read end of its result).

    The child writes "ready" (one byte) once placed, then work's integers, 8 bytes each.
    """
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(result_read)
            drop.close()
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            os.write(result_write, b"r")
            values = work(keep)
            os.write(result_write, struct.pack(f"!{len(values)}Q", *values))
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(result_write)
    return pid, result_read


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise RuntimeError("a raw bench process ended without its result")
        data += chunk
    return data


def run_raw(transport_name: str, messages: int, sender: Sender, pinned: bool) -> dict:
    """One raw run: receiver and sender are both forked children, so that the bench's own affinity
    (which netsim's nodes inherit) never changes."""
    socket_dir = tempfile.mkdtemp(prefix="netsim-bench-")
    framed = get_transport(transport_name).framing == "stream"
    pids: list[int] = []
    try:
        receiving, sending = socket_pair(transport_name, socket_dir, sender.nodelay)
        with PlacementSampler() as sampler:
            receiver_pid, receiver_result = _fork(
                lambda sock: raw_receiver(sock, messages, framed, sender.encode),
                RECEIVER_CPU if pinned else None,
                receiving,
                sending,
            )
            pids.append(receiver_pid)
            # The receiver is placed and about to read before the first message is sent.
            _read_exactly(receiver_result, 1)
            sender_pid, sender_result = _fork(
                lambda sock: (raw_sender(sock, messages, framed, sender.encode),),
                SENDER_CPU if pinned else None,
                sending,
                receiving,
            )
            pids.append(sender_pid)
            sampler.pids = (sender_pid, receiver_pid)
            receiving.close()
            sending.close()
            _read_exactly(sender_result, 1)
            (first,) = struct.unpack("!Q", _read_exactly(sender_result, 8))
            received, last = struct.unpack("!QQ", _read_exactly(receiver_result, 16))
        os.close(sender_result)
        os.close(receiver_result)
        rate = received / ((last - first) / 1e9) if received else 0.0
        return {"rate": rate, "received": received, "same_cpu": sampler.same_fraction}
    finally:
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        shutil.rmtree(socket_dir, ignore_errors=True)


# ---- rounds and tables ----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def run_rounds(name: str, messages: int, repeat: int, placements: list[str], out: Path) -> dict:
    """``repeat`` rounds, each running every sender in every placement back to back.

    This VM's speed drifts over seconds to minutes; a ratio of runs made side by side is steadier than a
    ratio of medians taken minutes apart, so each ratio is the median of the rounds' own ratios.
    """
    senders = (*baselines_for(name), NETSIM)
    runs: dict[str, dict[str, list[dict]]] = {p: {s.label: [] for s in senders} for p in placements}
    for _ in range(repeat):
        for placement in placements:
            pinned = placement == "pinned"
            for sender in senders:
                if sender is NETSIM:
                    outcome = run_netsim(name, messages, out, pinned)
                else:
                    outcome = run_raw(name, messages, sender, pinned)
                runs[placement][sender.label].append(outcome)
    return runs


def summarize(runs: dict[str, list[dict]], messages: int) -> dict:
    ours = runs[NETSIM.label]
    summary: dict = {"rates": {}, "ratios": {}, "delivered": {}, "same_cpu": {}}
    for label, outcomes in runs.items():
        summary["rates"][label] = median([outcome["rate"] for outcome in outcomes])
        summary["delivered"][label] = median([outcome["received"] / messages for outcome in outcomes])
        fractions = [outcome["same_cpu"] for outcome in outcomes if outcome["same_cpu"] is not None]
        summary["same_cpu"][label] = median(fractions) if fractions else None
        if label != NETSIM.label:
            ratios = [
                mine["rate"] / theirs["rate"] if theirs["rate"] else 0.0
                for mine, theirs in zip(ours, outcomes, strict=True)
            ]
            summary["ratios"][label] = (median(ratios), min(ratios), max(ratios))
    summary["netsim_range"] = (min(o["rate"] for o in ours), max(o["rate"] for o in ours))
    middle = sorted(ours, key=lambda outcome: outcome["rate"])[len(ours) // 2]
    summary["trace_bytes_per_message"] = middle["trace_bytes"] / max(1, 2 * middle["received"])
    return summary


def _ratio_text(summary: dict, label: str) -> str:
    middle, low, high = summary["ratios"][label]
    return f"{middle:.2f}x ({low:.2f}-{high:.2f})" if low != high else f"{middle:.2f}x"


def _same_cpu_text(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"


def goal_misses(summary: dict) -> list[str]:
    """What the unpinned placement misses of the goal ([] if it meets it)."""
    misses = []
    for label, goal in ((RAW.label, GOAL_RAW), (RAW_JSON.label, GOAL_RAW_JSON)):
        if summary["ratios"][label][0] < goal:
            misses.append(f"{summary['ratios'][label][0]:.2f}x {label} < {goal}x")
    return misses


def table_rows(name: str, summary: dict, judge: bool) -> list[list[str]]:
    """One row for netsim, then one per baseline with netsim's ratio to it."""
    rates = summary["rates"]
    low, high = summary["netsim_range"]
    rows = [
        [
            name,
            NETSIM.label,
            f"{rates[NETSIM.label]:,.0f} ({low:,.0f}-{high:,.0f})",
            "",
            f"{summary['delivered'][NETSIM.label]:.1%}",
            _same_cpu_text(summary["same_cpu"][NETSIM.label]),
            f"{summary['trace_bytes_per_message']:.0f}",
            "",
        ]
    ]
    goals = {RAW.label: GOAL_RAW, RAW_JSON.label: GOAL_RAW_JSON} if judge else {}
    for sender in BASELINES:
        if sender.label not in rates:
            continue
        verdict = ""
        if sender.label in goals:
            passed = summary["ratios"][sender.label][0] >= goals[sender.label]
            verdict = f">= {goals[sender.label]}x: {'PASS' if passed else 'MISS'}"
        rows.append(
            [
                "",
                sender.label,
                f"{rates[sender.label]:,.0f}",
                _ratio_text(summary, sender.label),
                f"{summary['delivered'][sender.label]:.1%}",
                _same_cpu_text(summary["same_cpu"][sender.label]),
                "",
                verdict,
            ]
        )
    not_nodelay = nodelay_applies(name)
    if not_nodelay is not None:
        rows.append(["", "raw NODELAY", not_nodelay, "", "", "", "", ""])
    return rows


COLUMNS = (
    "transport",
    "sender",
    "msg/s",
    "netsim / sender",
    "delivered",
    "same CPU",
    "trace B/msg",
    "goal",
)


def profile_nodes(options: argparse.Namespace, placements: list[str]) -> None:
    """One netsim run per transport and placement with each node under cProfile (see Blaster.stop).

    cProfile costs each Python call a good deal, so these runs are slower than the table's: read the
    reports for where the calls go, not for rates.
    """
    out = Path(tempfile.mkdtemp(prefix="netsim-bench-runs-"))
    try:
        for name in options.transports.split(","):
            if get_transport(name).available() is not None:
                continue
            for placement in placements:
                directory = Path(options.profile) / f"{name}-{placement}"
                directory.mkdir(parents=True, exist_ok=True)
                os.environ[PROFILE_ENV] = str(directory.resolve())
                try:
                    outcome = run_netsim(name, options.messages, out, placement == "pinned")
                finally:
                    del os.environ[PROFILE_ENV]
                print(f"{name} {placement}: {outcome['rate']:,.0f} msg/s under cProfile -> {directory}/")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES)
    parser.add_argument("--transports", default=",".join(TRANSPORT_NAMES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--placements", default=",".join(PLACEMENTS), help="unpinned, pinned or both")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="instead of the tables: one netsim run per transport and placement, each node under cProfile; "
        "reports (by own time) in DIR/<transport>-<placement>/{a,b}.txt",
    )
    options = parser.parse_args()
    placements = [placement for placement in options.placements.split(",") if placement]
    unknown = set(placements) - set(PLACEMENTS)
    if unknown or not placements:
        sys.exit(f"--placements takes {' and '.join(PLACEMENTS)}, got {options.placements!r}")
    if "pinned" in placements and not {SENDER_CPU, RECEIVER_CPU} <= os.sched_getaffinity(0):
        sys.exit(f"pinned needs cpu{SENDER_CPU} and cpu{RECEIVER_CPU}; use --placements unpinned")
    if options.profile:
        profile_nodes(options, placements)
        return
    started = time.monotonic()
    console = bench_console()
    console.print(machine_line())
    # The kernel lets a unix-dgram receiver queue this many datagrams; at the default of 10 the two
    # nodes of a unix-dgram run take turns (bench/README.md says by how much).
    with contextlib.suppress(OSError), open(DGRAM_QLEN_PATH) as qlen:
        console.print(f"net.unix.max_dgram_qlen = {qlen.read().strip()}")
    out = Path(tempfile.mkdtemp(prefix="netsim-bench-runs-"))
    rows: dict[str, list[list[str]]] = {placement: [] for placement in placements}
    misses: dict[str, list[str]] = {}
    try:
        for name in options.transports.split(","):
            reason = get_transport(name).available()
            if reason is not None:
                for placement in placements:
                    rows[placement].append([name, f"skipped: {reason}", *[""] * (len(COLUMNS) - 2)])
                continue
            runs = run_rounds(name, options.messages, options.repeat, placements, out)
            for placement in placements:
                summary = summarize(runs[placement], options.messages)
                judge = placement == "unpinned"
                rows[placement] += table_rows(name, summary, judge)
                if judge:
                    misses[name] = goal_misses(summary)
            console.print(f"done: {name}", style="dim")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    size = f"{options.messages:,} messages of a {len(BODY)}-byte body over one link, {options.repeat} rounds"
    titles = {
        "unpinned": f"UNPINNED: the scheduler places sender and receiver (the goal is judged here); {size}",
        "pinned": f"PINNED: sender on cpu{SENDER_CPU}, receiver on cpu{RECEIVER_CPU}; {size}",
    }
    for placement in placements:
        console.print(make_table(titles[placement], COLUMNS, rows[placement]))
    console.print(
        "msg/s: median over the rounds (netsim's min-max in brackets). netsim / sender: the median of the "
        "rounds' ratios, netsim and that sender measured in the same round and placement (min-max). "
        "raw and raw+json send without TCP_NODELAY, as a tutorial's script does; their NODELAY rows set it "
        "(tcp, tcp6). same CPU: the share of samples that found sender and receiver on one CPU. On udp and "
        "udp6, delivered is what arrived of what was sent."
    )
    if misses:
        missed = {name: why for name, why in misses.items() if why}
        goal = f"netsim >= {GOAL_RAW}x raw and >= {GOAL_RAW_JSON}x raw+json, unpinned, tracing on"
        if missed:
            details = "; ".join(f"{name}: {', '.join(why)}" for name, why in missed.items())
            console.print(f"Goal ({goal}): MISS on {len(missed)} of {len(misses)} transports ({details})")
        else:
            console.print(f"Goal ({goal}): PASS on all {len(misses)} transports")
    console.print(f"took {time.monotonic() - started:.0f} s", style="dim")


if __name__ == "__main__":
    main()

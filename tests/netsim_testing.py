"""Helpers shared by the tests: trace loading and processes for real simulations; the oracle every real
run answers to (``trace verify`` passes, nothing is left behind); hand-made traces (a header and event
lines written to a file)."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import orjson

import netsim
from netsim.errors import NetsimError
from netsim.trace import SCHEMA
from netsim.trace.reader import TraceReader, resolve_trace_path
from netsim.trace.verify import verify_trace
from netsim.transport import TRANSPORTS

ROOT = Path(__file__).resolve().parents[1]

# netsim's pytest plugin: an installed netsim has pytest load it by its entry point; a session run from
# a checkout (PYTHONPATH) is told to load it, with these arguments.
PLUGIN = "netsim.testing.plugin"
PLUGIN_REGISTERED = any(entry.value == PLUGIN for entry in entry_points(group="pytest11"))
PLUGIN_ARGS: tuple[str, ...] = () if PLUGIN_REGISTERED else ("-p", PLUGIN)


def load_trace(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = (run_dir / "trace.jsonl").read_bytes().splitlines()
    return orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]


def child_pids(parent: int | None = None) -> set[int]:
    """The children of ``parent`` (this process by default)."""
    pids: set[int] = set()
    for children in glob.glob(f"/proc/{os.getpid() if parent is None else parent}/task/*/children"):
        try:
            with open(children) as handle:
                pids.update(int(pid) for pid in handle.read().split())
        except FileNotFoundError:  # it has just exited
            continue
    return pids


def node_pids() -> set[int]:
    """The node processes of the runs this process is running: the children of its fork servers."""
    return {pid for child in child_pids() for pid in child_pids(child)}


def processes_mentioning(marker: str) -> list[int]:
    """Every process whose command line contains ``marker`` (a run's --out directory, say)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


# -- the oracle for real runs -----------------------------------------------------------------------------

# ``verify_rejects`` of a run in which a node fails (crashes, hangs, exits) on purpose.
A_NODE_FAILS = {"exactly_once": "a node fails: what its neighbours still send it is never received"}

# How long the processes of a run made through the CLI may take to go: when its launcher is gone, the
# nodes notice by themselves, and the last of them removes the socket directory. netsim.run in this
# process reaps its nodes and removes its directory before it returns: those have no grace.
LEFTOVER_GRACE_S = 3.0


def stray_socket_dirs(before: set[str], *, mine: bool) -> set[str]:
    """Run socket directories made since ``before`` by this process (``mine``) or else by a launcher
    that has exited.

    A directory is ``/tmp/netsim-<launcher pid>-<random>``; a launcher still running (another test
    session's) owns its own and is not judged here.
    """
    stray = set()
    for path in set(glob.glob("/tmp/netsim-*-*")) - before:
        owner = os.path.basename(path).split("-")[1]
        if not owner.isdigit():
            continue
        owned_here = int(owner) == os.getpid()
        if owned_here if mine else not (owned_here or os.path.exists(f"/proc/{owner}")):
            stray.add(path)
    return stray


def address_in_use(address: Any, transport: str) -> bool:
    """True if an address a run traced is still held: an AF_UNIX path still there, or an inet address
    that can neither be bound again nor is refused on connect (a stream socket left in TIME_WAIT is
    refused, a listener left behind is not)."""
    if isinstance(address, str):
        # An unnamed socket ("") or one in the abstract namespace leaves no file.
        return address[:1] not in ("", "\0", "@") and os.path.lexists(address)
    kind = TRANSPORTS[transport]
    target = tuple(address)
    with socket.socket(kind.family, kind.sock_type) as probe:
        try:
            probe.bind(target)
            return False
        except OSError:
            if not kind.connected:
                return True
    with socket.socket(kind.family, kind.sock_type) as probe:
        probe.settimeout(1)
        if probe.connect_ex(target) == errno.ECONNREFUSED:
            return False
        # A probe from an ephemeral port to a free one can connect to itself (a TCP simultaneous open).
        with contextlib.suppress(OSError):
            return probe.getsockname()[:2] != probe.getpeername()[:2]
        return True


def traced_addresses(run_dir: Path) -> set[tuple[str, Any]]:
    """(transport, address) of every socket the run's trace shows bound: listeners, link sockets, and
    the local ends of connections."""
    found: set[tuple[str, Any]] = set()
    with TraceReader(resolve_trace_path(run_dir), strict=False) as reader:
        for event in reader:
            if event["event"] in ("bind", "connect", "accept") and event.get("transport") in TRANSPORTS:
                address = event.get("sockname")
                found.add((event["transport"], tuple(address) if isinstance(address, list) else address))
    return found


def run_problems(run_dir: Path, verify_rejects: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with a finished run directory: its trace fails ``trace verify``, or an address it
    traced is still taken.

    ``verify_rejects`` names the verify checks a test may break on purpose, each with why; every other
    check must pass. They may also pass: what breaks them often depends on timing (what a node had sent
    when it crashed, what it had flushed when it was SIGKILLed).
    """
    rejects = dict(verify_rejects or {})
    if not (run_dir / "trace.jsonl").exists():
        return [f"{run_dir.name}: no trace.jsonl (the run was neither finished nor recovered)"]
    try:
        report = verify_trace(run_dir)
    except NetsimError as error:
        return [f"{run_dir.name}: trace verify cannot read the trace: {error}"]
    problems = [
        f"{run_dir.name}: trace verify fails {check.name}: {check.problems}"
        for check in report.checks
        if not check.passed and check.name not in rejects
    ]
    names = {check.name for check in report.checks}
    problems += [f"no verify check is named {name!r}" for name in sorted(set(rejects) - names)]
    for transport, address in sorted(traced_addresses(run_dir), key=repr):
        if address_in_use(address, transport):
            problems.append(f"{run_dir.name}: {transport} address {address!r} is still in use")
    return problems


class Simulations:
    """The runs a test makes (``simulate``), and what must hold after them: every run's trace passes
    ``trace verify`` and nothing is left behind: no child process, socket directory, listening port or
    socket file. ``check()`` says what does not hold; the fixtures call it after the test, failed or not.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self._socket_dirs_before = set(glob.glob("/tmp/netsim-*-*"))
        # run directory or watched output directory -> the verify checks its runs break on purpose
        self._runs: dict[Path, Mapping[str, str]] = {}
        self._watched: dict[Path, Mapping[str, str]] = {}

    def __call__(
        self, topology: Any, *, verify_rejects: Mapping[str, str] | None = None, **options: Any
    ) -> netsim.RunResult:
        """``netsim.run(topology, **options)``, writing under the test's runs directory unless ``out``
        says otherwise; ``verify_rejects`` as in :func:`run_problems`."""
        out = Path(options.setdefault("out", self.out))
        before = run_dirs(out)
        try:
            return netsim.run(topology, **options)
        finally:
            # Also when the run raised: a launcher error still leaves a finished run directory.
            for run_dir in run_dirs(out) - before:
                self._runs[run_dir] = verify_rejects or {}

    def watch(self, out: Path, verify_rejects: Mapping[str, str] | None = None) -> Path:
        """Check, after the test, every run the test makes in ``out`` by other means (the CLI)."""
        self._watched[Path(out)] = verify_rejects or {}
        return Path(out)

    def check(self) -> list[str]:
        runs = dict(self._runs)
        for out, rejects in self._watched.items():
            runs.update({run_dir: rejects for run_dir in run_dirs(out) - runs.keys()})
        problems = [problem for run_dir in runs for problem in run_problems(run_dir, runs[run_dir])]
        problems += [f"child process {pid} left behind" for pid in sorted(child_pids())]
        dirs = stray_socket_dirs(self._socket_dirs_before, mine=True)
        deadline = time.monotonic() + LEFTOVER_GRACE_S
        while True:
            alive = [pid for out in self._watched for pid in processes_mentioning(str(out))]
            others = stray_socket_dirs(self._socket_dirs_before, mine=False)
            if not (alive or others) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        problems += [f"process {pid} of a run made through the CLI left behind" for pid in sorted(alive)]
        problems += [f"socket directory {path} left behind" for path in sorted(dirs | others)]
        return problems


def run_dirs(out: Path) -> set[Path]:
    return {path for path in out.iterdir() if path.is_dir()} if out.is_dir() else set()


# -- hand-made traces -------------------------------------------------------------------------------------


def trace_header(
    nodes: list[str],
    links: list[list[str]],
    *,
    name: str = "hand",
    source: str = "hand",
    app: str = "flood",
    **fields: Any,
) -> dict[str, Any]:
    """A header with every field netsim writes: the topology ``name`` of ``nodes`` and ``links``, each node
    running ``app``; ``fields`` replace the other defaults (run_id, transport, seed, start_ts_ns, ...)."""
    return {
        "type": "header",
        "schema": SCHEMA,
        "run_id": "hand-made",
        "netsim_version": "0.1.0",
        "topology": {"name": name, "source": source, "nodes": nodes, "links": links},
        "node_apps": {node: app for node in nodes},
        "app": app,
        "transport": "tcp",
        "seed": 1,
        "started_at": "2026-11-25T10:15:00+00:00",
        "start_ts_ns": 1_000_000_000,
        "clock": "CLOCK_MONOTONIC",
        **fields,
    }


def write_trace(path: Path, header: Any, events: Iterable[Any], *, tail: bytes = b"") -> Path:
    """A trace file: the header line, one JSON line per event, then ``tail`` as it is (a torn line, say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in [header, *events]) + tail)
    return path


def write_run(run_dir: Path, header: Any, events: Iterable[Any], *, tail: bytes = b"") -> Path:
    """A run directory holding just a hand-made ``trace.jsonl`` (see ``write_trace``)."""
    write_trace(run_dir / "trace.jsonl", header, events, tail=tail)
    return run_dir


# -- hand-made calls of socket programs ---------------------------------------------------------------

STREAM_OFFSET_TRANSPORTS = frozenset({"tcp", "tcp6", "unix", "unix-seqpacket"})
DIGEST_TRANSPORTS = frozenset({"udp", "udp6", "unix-dgram", "unix-seqpacket"})


def payload_digest(payload: bytes) -> str:
    """A call event's ``digest``: 16 hex digits of the payload's BLAKE2b hash."""
    return hashlib.blake2b(payload).hexdigest()[:16]


@dataclass
class TracedSocket:
    """One socket of a socket program, writing ``call`` events as docs/trace-format.md says netsim writes
    them: byte offsets on stream (and seqpacket) sockets, digests on datagram (and seqpacket) ones."""

    node: str
    sock: int
    transport: str
    sockname: Any
    peername: Any = None
    peer: str | None = None
    sent: int = 0
    received: int = 0

    def call(self, ts_ns: int, call: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "ts_ns": ts_ns,
            "node": self.node,
            "event": "call",
            "call": call,
            "sock": self.sock,
            "transport": self.transport,
            "sockname": self.sockname,
        }
        if self.peername is not None:
            event["peername"] = self.peername
        if self.peer is not None:
            event["peer"] = self.peer
        event.update(fields)
        return event

    def _moved(self, ts_ns: int, call: str, payload: bytes, offset: int, start_ns: int | None, **fields: Any):
        moved: dict[str, Any] = {"nbytes": len(payload)}
        if self.transport in STREAM_OFFSET_TRANSPORTS:
            moved["offset"] = offset
        if self.transport in DIGEST_TRANSPORTS:
            moved["digest"] = payload_digest(payload)
        moved["preview"] = payload[:48].decode("utf-8", "backslashreplace")
        moved["start_ns"] = ts_ns if start_ns is None else start_ns
        return self.call(ts_ns, call, **moved, **fields)

    def send(
        self, ts_ns: int, payload: bytes, *, start_ns: int | None = None, call: str = "send", to: Any = None
    ) -> dict[str, Any]:
        """A send (``sendall``, or ``sendto`` to ``to``) of ``payload`` returning at ``ts_ns``."""
        fields: dict[str, Any] = {}
        if to is not None:
            call, fields["peername"] = "sendto", to
            fields["args"] = {"address": to}
        event = self._moved(ts_ns, call, payload, self.sent, start_ns, **fields)
        self.sent += len(payload)
        return event

    def recv(
        self,
        ts_ns: int,
        payload: bytes,
        *,
        start_ns: int | None = None,
        call: str = "recv",
        source: Any = None,
    ) -> dict[str, Any]:
        """A receive of ``payload`` returning at ``ts_ns`` (``recvfrom`` from ``source``)."""
        fields: dict[str, Any] = {"args": {"bufsize": max(1, len(payload))}}
        if source is not None:
            call, fields["peername"] = "recvfrom", source
        event = self._moved(ts_ns, call, payload, self.received, start_ns, **fields)
        self.received += len(payload)
        return event


def program_events(start_ts_ns: int = 1_000_000_000) -> list[dict[str, Any]]:
    """A run of three socket programs, as netsim would trace it: n0 connects to n1 over tcp and sends a
    request in two sends, which n1 reads in three receives (the first before n0's ``sendall`` returns)
    and answers; n2 sends n1 three datagrams over udp: one arrives, one is lost, netsim drops one."""
    t = start_ts_ns
    hosts = {"n0": "127.0.0.2", "n1": "127.0.0.3", "n2": "127.0.0.4"}
    server_address = [hosts["n1"], 8000]
    client_address = [hosts["n0"], 40001]
    listener = TracedSocket("n1", 1, "tcp", server_address)
    client = TracedSocket("n0", 1, "tcp", client_address, server_address, "n1")
    served = TracedSocket("n1", 2, "tcp", server_address, client_address, "n0")
    datagrams = TracedSocket("n2", 1, "udp", [hosts["n2"], 9000])
    inbox = TracedSocket("n1", 3, "udp", [hosts["n1"], 9001])
    request, reply = b"GET /index HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\nhello"
    events = [
        {"ts_ns": t, "node": "n0", "event": "start"},
        {"ts_ns": t, "node": "n1", "event": "start"},
        {"ts_ns": t, "node": "n2", "event": "start"},
        listener.call(t + 1_000, "listen", args={"backlog": 5}),
        client.call(t + 10_000, "connect", args={"address": server_address}, start_ns=t + 9_000),
        listener.call(
            t + 11_000, "accept", result={"sock": 2, "address": client_address}, start_ns=t + 2_000
        ),
        client.send(t + 20_000, request[:4], start_ns=t + 19_000, call="sendall"),
        served.recv(t + 30_000, request[:10], start_ns=t + 12_000),  # before the second send returns
        client.send(t + 31_000, request[4:], start_ns=t + 25_000, call="sendall"),
        served.recv(t + 40_000, request[10:20], start_ns=t + 35_000),
        served.recv(t + 41_000, request[20:], start_ns=t + 40_500),
        served.send(t + 50_000, reply, start_ns=t + 49_000, call="sendall"),
        client.recv(t + 60_000, reply, start_ns=t + 32_000),
        datagrams.send(t + 70_000, b"ping 1", to=[hosts["n1"], 9001]),
        inbox.recv(t + 80_000, b"ping 1", source=[hosts["n2"], 9000], start_ns=t + 1_000),
        datagrams.send(t + 90_000, b"ping 2", to=[hosts["n1"], 9001]),
        {
            "ts_ns": t + 99_000,
            "node": "n2",
            "event": "drop",
            "sock": 1,
            "transport": "udp",
            "peer": "n1",
            "nbytes": 6,
            "digest": payload_digest(b"ping 3"),
            "reason": "loss",
        },
        datagrams.send(t + 100_000, b"ping 3", to=[hosts["n1"], 9001], start_ns=t + 98_000),
        client.call(t + 200_000, "close"),
        served.call(t + 201_000, "recv", nbytes=0, offset=len(request), start_ns=t + 42_000),
        served.call(t + 202_000, "close"),
    ]
    for name in ("n0", "n1", "n2"):
        events.append({"ts_ns": t + 300_000, "node": name, "event": "stop", "reason": "shutdown"})
    # The datagrams' sender gives its peer when it knows it; the receiver names the node that sent.
    for event in events:
        if event.get("call") == "sendto":
            event["peer"] = "n1"
        elif event.get("call") == "recvfrom":
            event["peer"] = "n2"
    return events


def write_program_run(run_dir: Path) -> Path:
    """A run directory whose trace is ``program_events`` under a header of three nodes running programs."""
    header = trace_header(
        ["n0", "n1", "n2"],
        [["n0", "n1", "tcp"], ["n1", "n2", "udp"]],
        name="programs",
        node_apps={},
        node_cmds={},
        app="client.py",
        node_hosts={"n0": "127.0.0.2", "n1": "127.0.0.3", "n2": "127.0.0.4"},
    )
    return write_run(run_dir, header, program_events())

"""Helpers shared by the tests: trace loading, invariant checks and leftovers for real simulations;
hand-made traces (a header and event lines written to a file); a stand-in for the ``netsim trace`` group."""

from __future__ import annotations

import glob
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import typer

from netsim.trace import SCHEMA
from netsim.transport import TRANSPORTS

ROOT = Path(__file__).resolve().parents[1]
SEND = {"send", "sendto"}
RECEIVE = {"recv", "recvfrom"}


def load_trace(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = (run_dir / "trace.jsonl").read_bytes().splitlines()
    return orjson.loads(lines[0]), [orjson.loads(line) for line in lines[1:]]


def mirror_problems(events: list[dict[str, Any]]) -> list[str]:
    """Each message's receive must see (peername, sockname) = the send's (sockname, peername)."""
    sends = {event["msg_id"]: event for event in events if event["event"] in SEND}
    problems = []
    for event in events:
        if event["event"] not in RECEIVE:
            continue
        sent = sends.get(event["msg_id"])
        if sent is None:
            problems.append(f"receive without send: {event}")
            continue
        if _norm(sent["sockname"]) != _norm(event["peername"]) or _norm(sent["peername"]) != _norm(
            event["sockname"]
        ):
            problems.append(f"not mirrored: send {sent} / receive {event}")
    return problems


def stream_link_mirror_problems(events: list[dict[str, Any]]) -> list[str]:
    """Every connect (sockname S, peername P) has an accept at the peer with (P, S)."""
    accepts = Counter((_norm(e["sockname"]), _norm(e["peername"])) for e in events if e["event"] == "accept")
    problems = []
    for event in events:
        if event["event"] == "connect" and TRANSPORTS[event["transport"]].connected:
            key = (_norm(event["peername"]), _norm(event["sockname"]))
            if accepts[key] != 1:
                problems.append(f"connect {event} has {accepts[key]} mirrored accepts")
    return problems


def delivery_counts(events: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    sent = Counter(e["msg_id"] for e in events if e["event"] in SEND)
    received = Counter(e["msg_id"] for e in events if e["event"] in RECEIVE)
    return sent, received


def exactly_once_problems(events: list[dict[str, Any]]) -> list[str]:
    """On reliable transports every sent message is received exactly once, and nothing else is."""
    sent, received = delivery_counts(events)
    reliable = {e["msg_id"] for e in events if e["event"] in SEND and TRANSPORTS[e["transport"]].reliable}
    problems = [f"{msg_id} sent {count} times" for msg_id, count in sent.items() if count != 1]
    problems += [
        f"{msg_id} received {received[msg_id]} times" for msg_id in reliable if received[msg_id] != 1
    ]
    problems += [f"{msg_id} received but never sent" for msg_id in received if msg_id not in sent]
    return problems


def _norm(address: Any) -> Any:
    return tuple(address[:2]) if isinstance(address, list) else address


def child_pids() -> set[int]:
    pids: set[int] = set()
    for children in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with open(children) as handle:
            pids.update(int(pid) for pid in handle.read().split())
    return pids


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


def socket_dirs() -> set[str]:
    """This process's run socket directories (others may be running netsim at the same time)."""
    return set(glob.glob(f"/tmp/netsim-{os.getpid()}-*"))


def listening(address: Any, transport: str) -> bool:
    """True if something still accepts connections (or datagrams) at a traced listener address."""
    kind = TRANSPORTS[transport]
    if isinstance(address, str):
        return os.path.exists(address)
    if not kind.connected:
        probe = socket.socket(kind.family, kind.sock_type)
        try:
            probe.bind(tuple(address))
            return False
        except OSError:
            return True
        finally:
            probe.close()
    with socket.socket(kind.family, kind.sock_type) as probe:
        probe.settimeout(1)
        return probe.connect_ex(tuple(address)) == 0


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


def trace_group(register: Callable[[typer.Typer], None]) -> typer.Typer:
    """A stand-in for the ``netsim trace`` group holding the commands ``register`` adds."""
    app = typer.Typer()

    @app.callback()
    def group() -> None:
        """A stand-in for the `netsim trace` group."""
        # A callback keeps the commands subcommands even when there is only one.

    register(app)
    return app

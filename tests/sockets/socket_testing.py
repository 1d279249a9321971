"""What the socket-program tests share: where their programs are, a run's ``call`` events grouped by
node and socket, and what each node printed, read back as Python values."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from netsim_testing import ROOT

from netsim.runtime.socket_calls import address_json
from netsim.trace import iter_events, read_header
from netsim.transport import get_transport

EXAMPLES = ROOT / "examples"
CLIENT_SERVER = EXAMPLES / "client_server.gml"
PROGRAMS = Path(__file__).with_name("socket_programs.py")


def program(name: str) -> str:
    """The app spec of the test program ``name`` in socket_programs.py."""
    return f"{PROGRAMS}:{name}"


def example(file: str, name: str = "main") -> str:
    return f"{EXAMPLES / file}:{name}"


def require(transport: str) -> None:
    """Skip the test where the kernel lacks ``transport`` (IPv6 turned off, say)."""
    reason = get_transport(transport).available()
    if reason is not None:
        pytest.skip(f"{transport} is not available here: {reason}")


class RunCalls:
    """A run's trace, read once: its header, its events, and its ``call`` events by (node, sock)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.header = read_header(run_dir)
        self.events = list(iter_events(run_dir))
        self.calls = [event for event in self.events if event["event"] == "call"]
        self.by_socket: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for call in self.calls:
            self.by_socket[(call["node"], call["sock"])].append(call)

    def of(self, node: str, call: str | None = None, sock: int | None = None) -> list[dict[str, Any]]:
        return [
            event
            for event in self.calls
            if event["node"] == node
            and (call is None or event["call"] == call)
            and (sock is None or event["sock"] == sock)
        ]

    def one(self, node: str, call: str, sock: int | None = None, **fields: Any) -> dict[str, Any]:
        found = [
            event
            for event in self.of(node, call, sock)
            if all(event.get(key) == value for key, value in fields.items())
        ]
        assert len(found) == 1, f"{node} {call} {fields}: {len(found)} events: {found}"
        return found[0]

    def kinds(self, kind: str, node: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind and (node is None or e["node"] == node)]

    def host(self, node: str) -> str:
        return self.header["node_hosts"][node]

    def log(self, node: str) -> list[str]:
        """What ``node`` printed: its log's lines after netsim's first one."""
        (path,) = (self.run_dir / "nodes").glob(f"*-{node}.log")
        return path.read_text().splitlines()[1:]

    def shown(self, node: str) -> dict[str, list[Any]]:
        """The values ``node`` printed as ``show(label, value)`` lines: label -> values, in order."""
        values: dict[str, list[Any]] = defaultdict(list)
        for line in self.log(node):
            label, sep, text = line.partition(" ")
            if sep and label.isidentifier():
                values[label].append(ast.literal_eval(text))
        return values


def as_json(address: Any) -> Any:
    """An address as Python gave it to a program, written as the trace writes addresses."""
    return address_json(address)

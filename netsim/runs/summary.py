"""The run summary: what ``summary.json`` holds, typed, and how it is written and read back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
import orjson

from netsim.errors import InputError
from netsim.runs.layout import SUMMARY_FILE_NAME


class TopologyRef(msgspec.Struct, kw_only=True):
    """Which topology ran: its name and where it came from (a file or a generator spec)."""

    name: str | None
    source: str | None


class NodeFailure(msgspec.Struct, kw_only=True):
    """A node that failed the run; ``name`` is None for a failure of the run as a whole (start-up, or
    a host of a run over many hosts that was lost)."""

    name: str | None
    exit_code: int | None
    error: str
    log: str | msgspec.UnsetType = msgspec.UNSET


class RunTiming(msgspec.Struct, kw_only=True):
    startup_s: float
    running_s: float
    shutdown_s: float


class RunSummary(msgspec.Struct, kw_only=True):
    """What ``summary.json`` holds, field for field and in its order.

    ``exit_status`` is ``ok`` or ``failed``; ``ended_by`` says how the run ended (``done``, ``quiet``,
    ``duration``, ``failure``, ``interrupted`` with the ``signal``, ``launcher-error``, or
    ``launcher-died`` for a run finished by ``netsim runs recover``). A recovered run has no
    ``shaped_links``, ``duration_s`` or ``timing``: its launcher died before it could measure them.
    Only a run with a workload has ``workload``, and only a run over many hosts ``cluster``.
    """

    run_id: str
    run_dir: str
    trace: str
    topology: TopologyRef
    app: str | None
    transport: str | None
    seed: int | None
    nodes: int
    links: int
    shaped_links: int | msgspec.UnsetType = msgspec.UNSET
    messages_sent: int
    messages_received: int
    bytes_sent: int
    bytes_received: int
    errors: int
    events: int
    duration_s: float | msgspec.UnsetType = msgspec.UNSET
    exit_status: str
    ended_by: str
    signal: str | None = None
    node_failures: list[NodeFailure]
    faults: list[dict[str, Any]]
    timing: RunTiming | msgspec.UnsetType = msgspec.UNSET
    started_at: str | None
    netsim_version: str | None
    warnings: list[str]
    # A workload's verdict (netsim.workloads.results): valid, ops, msgs_per_op, explanation, stats.
    workload: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    # A run over many hosts (netsim.launch.cluster): the engine and its address, the placement mode, the
    # links that crossed hosts, and each host (name, address, nodes, clock offset and its error bound).
    cluster: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET

    @property
    def ok(self) -> bool:
        return self.exit_status == "ok"

    @property
    def traffic(self) -> str:
        """What crossed the links, in a few words: messages, or for socket programs (which send bytes,
        not messages) bytes."""
        if self.messages_sent or self.messages_received or not (self.bytes_sent or self.bytes_received):
            return f"{self.messages_sent} messages sent, {self.messages_received} received"
        return f"{self.bytes_sent} bytes sent, {self.bytes_received} received"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``summary.json`` holds (fields a recovered run lacks are left out)."""
        return msgspec.to_builtins(self)


def write_summary(run_dir: Path, summary: RunSummary) -> None:
    """Write ``summary.json`` under a temporary name and rename it into place: a reader never sees half."""
    path = run_dir / SUMMARY_FILE_NAME
    temporary = path.with_name(path.name + ".writing")
    temporary.write_bytes(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(temporary, path)


def read_summary(run_dir: str | os.PathLike[str]) -> RunSummary:
    """A finished run's ``summary.json``; an InputError names the file and what is wrong with it."""
    path = Path(run_dir) / SUMMARY_FILE_NAME
    try:
        return msgspec.json.decode(path.read_bytes(), type=RunSummary)
    except OSError as error:
        raise InputError(
            f"{path}: cannot read: {error.strerror or error}",
            hint="pass a finished run's directory (see `netsim runs list`)",
        ) from None
    except msgspec.DecodeError as error:
        raise InputError(f"{path}: not a netsim run summary: {error}") from None

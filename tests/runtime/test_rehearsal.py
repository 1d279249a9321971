"""The fork server's rehearsal of a node's start-up: it goes as a run's start-up does, over every
transport, and leaves nothing behind (no descriptor, no file, no process)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from netsim_testing import child_pids, load_trace

from netsim.launch.forkserver import REHEARSE_FROM_NODES
from netsim.launch.immortal import immortal_count
from netsim.runtime.rehearsal import NAMES, rehearse
from netsim.runtime.rehearsal import _start_up as start_up
from netsim.trace.merge import part_events
from netsim.transport import get_transport
from netsim.vocabulary import TRANSPORT_NAMES, TRANSPORT_TRAITS

APPS = Path(__file__).with_name("runtime_apps.py")
AVAILABLE = [name for name in TRANSPORT_NAMES if get_transport(name).available() is None]


def steps(path: Path) -> list[str]:
    """A node's events, as event/msg_type, without its binds."""
    return [
        event["event"] + (f"/{event['msg_type']}" if "msg_type" in event else "")
        for event in part_events(path)
        if event["event"] not in ("bind", "listen")
    ]


@pytest.mark.parametrize("transport", AVAILABLE)
def test_a_rehearsal_goes_as_a_runs_start_up(tmp_path: Path, transport: str) -> None:
    start_up(transport, str(tmp_path))
    a, b = (steps(tmp_path / f"{name}.jsonl") for name in NAMES)
    send, receive = ("send", "recv") if TRANSPORT_TRAITS[transport].connected else ("sendto", "recvfrom")
    if TRANSPORT_TRAITS[transport].connected:
        # The initiator connects and proves the link; the other end accepts and answers its hello.
        assert a[:3] == ["connect", f"{send}/netsim.hello", f"{receive}/netsim.hello"]
        assert b[0] == "accept" and sorted(b[1:3]) == sorted(
            [f"{receive}/netsim.hello", f"{send}/netsim.hello"]
        )
    else:
        assert a[0] == b[0] == "connect"
    # Both start when the gate opens, each sends one message and receives the other's; then all closes.
    for node in (a, b):
        assert "start" in node and "error" not in node
        after = node[node.index("start") + 1 :]
        assert sorted(after) == sorted([f"{send}/rehearsal", f"{receive}/rehearsal", "close", "close"])
    assert (tmp_path / "a.log").read_text() == "node 'a' rehearses\n"


def test_a_rehearsal_leaves_no_descriptor_file_or_process() -> None:
    descriptors = sorted(os.listdir("/proc/self/fd"))
    temporary = set(os.listdir(tempfile.gettempdir()))
    children = child_pids()
    rehearse(AVAILABLE, rehearsals=2)
    assert sorted(os.listdir("/proc/self/fd")) == descriptors
    left = {name for name in set(os.listdir(tempfile.gettempdir())) - temporary if "rehearsal" in name}
    assert left == set()
    assert child_pids() == children


def rehearsal_seen_in(simulate, spec: str, **options) -> dict:
    """What the fork server of a run of ``spec`` did before forking, as its node n0 saw it."""
    result = simulate(spec, app=f"{APPS}:RecordsRehearsal", seed=1, **options)
    assert result.ok, result.summary.node_failures
    _, events = load_trace(result.run_dir)
    (record,) = [e for e in events if e["event"] == "app" and e["data"]["kind"] == "rehearsed"]
    return record["data"]


@pytest.mark.timeout(120)
def test_the_fork_server_of_a_large_run_rehearses_and_makes_its_heap_immortal(simulate) -> None:
    seen = rehearsal_seen_in(simulate, f"ring:{REHEARSE_FROM_NODES}", transport="udp")
    assert seen["transports"] == ["udp"]
    # Where the interpreter has immortal objects (CPython 3.12 and later); not on 3.11.
    assert seen["immortal"] is (immortal_count() is not None)


@pytest.mark.timeout(60)
def test_the_fork_server_of_a_small_run_does_not_rehearse(simulate) -> None:
    seen = rehearsal_seen_in(simulate, "ring:4")
    assert seen["transports"] == []
    assert seen["immortal"] is False

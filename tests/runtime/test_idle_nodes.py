"""A node with nothing to do (a timer pending, or waiting at the start barrier) sleeps: it costs no CPU."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from netsim_testing import load_trace

APPS = Path(__file__).with_name("runtime_apps.py")
# A node that waits 2 s in epoll_wait uses a few milliseconds of CPU for its start-up's tail and its
# status messages; one that busy-polls uses a large share of a CPU for the whole wait (hundreds of ms).
MAX_CPU_SHARE_WHILE_WAITING = 0.05


@pytest.mark.timeout(60)
def test_nodes_waiting_on_a_timer_use_no_cpu(simulate):
    result = simulate("ring:6", app=f"{APPS}:WaitsOnATimer", seed=1)
    assert result.ok
    _, events = load_trace(result.run_dir)
    waits = {event["node"]: event["data"] for event in events if event["event"] == "app"}
    assert len(waits) == 6
    shares = {node: data["cpu_s"] / data["wait_s"] for node, data in waits.items()}
    busy = {node: f"{share:.1%}" for node, share in shares.items() if share > MAX_CPU_SHARE_WHILE_WAITING}
    assert not busy, f"nodes used this share of a CPU while they only waited on a timer: {busy}"


# Binding, connecting and the hellos cost a node a few milliseconds of CPU; a node that
# polls while it waits at the barrier uses a large share of a CPU for the whole wait.
BARRIER_WAIT_S = 2.0
MAX_CPU_BEFORE_START_S = 0.1


@pytest.mark.timeout(60)
def test_nodes_waiting_at_the_start_barrier_use_no_cpu(simulate):
    def hold_the_barrier(nodes):
        # on_ready runs before the barrier opens: every node is up, and waits for it.
        time.sleep(BARRIER_WAIT_S)

    result = simulate("ring:6", app=f"{APPS}:RecordsCpuAtStart", seed=1, on_ready=hold_the_barrier)
    assert result.ok
    _, events = load_trace(result.run_dir)
    used = {event["node"]: event["data"]["cpu_s"] for event in events if event["event"] == "app"}
    assert len(used) == 6
    busy = {node: f"{cpu_s:.2f} s" for node, cpu_s in used.items() if cpu_s > MAX_CPU_BEFORE_START_S}
    assert not busy, f"nodes used this much CPU while they waited {BARRIER_WAIT_S:g} s at the barrier: {busy}"

"""A node with a timer pending and nothing else to do sleeps until the timer: it costs no CPU."""

from __future__ import annotations

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

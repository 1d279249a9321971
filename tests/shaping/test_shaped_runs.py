"""Link conditions on real sockets: measured delays and seeded, reproducible losses."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from netsim_testing import load_trace

import netsim
from netsim.topology.model import LinkSpec, NodeSpec, Topology

APPS = Path(__file__).with_name("shaping_apps.py")


def pair(transport: str, **attrs) -> Topology:
    return Topology(
        "pair", "pair", (NodeSpec("a", 0), NodeSpec("b", 1)), (LinkSpec("a", "b", transport, attrs),)
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["tcp", "udp", "unix-seqpacket"])
def test_round_trip_on_a_50ms_link_is_about_100ms(transport, simulate):
    result = simulate(pair(transport, latency_ms=50), app="echo", seed=1)
    assert result.summary.ended_by == "done", result.summary
    _, events = load_trace(result.run_dir)
    rtts_ms = [
        e["data"]["rtt_ns"] / 1e6 for e in events if e["event"] == "app" and e["data"]["kind"] == "rtt"
    ]
    assert len(rtts_ms) == 6
    # Never early. Late by timer granularity and scheduling: a shared VM can take a node's CPU for
    # a few tens of milliseconds now and then, so one round trip may be late by that much, not most.
    assert all(rtt >= 100 for rtt in rtts_ms), rtts_ms
    assert sorted(rtts_ms)[len(rtts_ms) // 2] < 130, rtts_ms
    assert max(rtts_ms) < 200, rtts_ms
    delays = [e["delay_ns"] for e in events if e["event"] == "delay"]
    assert len(delays) == 12 and set(delays) == {50_000_000}


def dropped_ids(result) -> list[str]:
    _, events = load_trace(result.run_dir)
    return [e["msg_id"] for e in events if e["event"] == "drop"]


@pytest.mark.timeout(90)
def test_loss_drops_about_30_percent_and_the_same_seed_drops_the_same_messages(simulate):
    topology = pair("unix-dgram", loss=0.3)
    first = simulate(topology, app=f"{APPS}:Burst", seed=11)
    second = simulate(topology, app=f"{APPS}:Burst", seed=11)
    other_seed = simulate(topology, app=f"{APPS}:Burst", seed=12)
    drops = dropped_ids(first)
    # Binomial(2000, 0.3): mean 600, sd 20.5; 5 sd either side cannot fail by chance.
    assert abs(len(drops) - 600) <= 5 * math.sqrt(2000 * 0.3 * 0.7), len(drops)
    assert dropped_ids(second) == drops
    assert dropped_ids(other_seed) != drops
    _, events = load_trace(first.run_dir)
    received = {e["msg_id"] for e in events if e["event"] == "recvfrom" and e.get("msg_type") == "n"}
    assert len(received) == 2000 - len(drops) and not received & set(drops)
    assert all(e["reason"] == "loss" for e in events if e["event"] == "drop")
    # Messages that were not dropped were all delivered once (unix-dgram is reliable): the simulate
    # fixture's trace verify.


@pytest.mark.timeout(60)
def test_geo_latency_from_coordinates(simulate):
    new_york = {"Latitude": 40.71427, "Longitude": -74.00597}
    seattle = {"Latitude": 47.60621, "Longitude": -122.33207}
    topology = Topology(
        "geo",
        "geo",
        (NodeSpec("ny", 0, attrs=new_york), NodeSpec("sea", 1, attrs=seattle)),
        (LinkSpec("ny", "sea"),),
    )
    result = simulate(topology, app="echo", seed=1, conditions={"latency": "geo"})
    _, events = load_trace(result.run_dir)
    [delay_ms] = {e["delay_ns"] / 1e6 for e in events if e["event"] == "delay"}
    assert delay_ms == pytest.approx(19.4, abs=0.3)  # 3,875 km of fibre
    rtts_ms = [e["data"]["rtt_ns"] / 1e6 for e in events if e["event"] == "app"]
    assert statistics.median(rtts_ms) >= 2 * delay_ms


def test_bad_condition_names_the_edge(runs_dir):
    with pytest.raises(netsim.errors.TopologyError, match=r"edge a -> b: loss=1.5"):
        netsim.run(pair("udp", loss=1.5), app="echo", out=runs_dir)
    with pytest.raises(netsim.errors.TopologyError, match="datagram transports only"):
        netsim.run(pair("tcp", reorder=0.2), app="echo", out=runs_dir)

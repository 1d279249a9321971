"""The example app the README shows runs as documented."""

from __future__ import annotations

from netsim_testing import ROOT, load_trace


def test_token_ring_example(simulate):
    result = simulate("ring:12", app=f"{ROOT / 'examples' / 'token_ring.py'}:TokenRing", seed=2)
    assert result.summary.ended_by == "done", result.summary
    _, events = load_trace(result.run_dir)
    hops = [e["data"]["hops"] for e in events if e["event"] == "app"]
    assert hops == list(range(1, 37)), "36 hops, in order: 3 laps of 12 nodes"

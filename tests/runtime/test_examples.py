"""The example app the README shows runs as documented."""

from __future__ import annotations

from netsim_testing import ROOT, exactly_once_problems, load_trace

import netsim


def test_token_ring_example(runs_dir, no_leftovers):
    result = netsim.run(
        "ring:12", app=f"{ROOT / 'examples' / 'token_ring.py'}:TokenRing", out=runs_dir, seed=2
    )
    assert result.summary.ended_by == "done", result.summary
    _, events = load_trace(result.run_dir)
    hops = [e["data"]["hops"] for e in events if e["event"] == "app"]
    assert hops == list(range(1, 37)), "36 hops, in order: 3 laps of 12 nodes"
    assert exactly_once_problems(events) == []

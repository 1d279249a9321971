"""Start-up grows with the node count, not with its square.

A quadratic step (a scan of every node per message, a per-call selector, every child inheriting
something of every earlier one) is invisible at 10 nodes and costs seconds at 1,000. Timing is noisy
on a shared machine, so the test compares two runs of the same machine, minutes apart at most, and
allows a generous multiple of linear growth: a run four times the size may take up to
``LINEAR_SLACK`` times four times as long (a quadratic step would take sixteen times as long).
"""

from __future__ import annotations

from pathlib import Path

import pytest

APPS = Path(__file__).with_name("runtime_apps.py")
SMALL, LARGE = 100, 400
LINEAR_SLACK = 2.0
# Each size runs this many times and keeps its quickest start-up: a burst of load on the machine
# then delays one run of a size, not the comparison.
RUNS = 2


def quickest_startup_s(simulate, nodes: int) -> float:
    startups = []
    for _ in range(RUNS):
        result = simulate(f"ring:{nodes}", app=f"{APPS}:StopsAtStart", seed=1)
        assert result.ok, result.summary.node_failures
        assert result.summary.timing is not None
        startups.append(result.summary.timing.startup_s)
    return min(startups)


@pytest.mark.timeout(300)
def test_start_up_grows_linearly_with_the_node_count(simulate):
    small = quickest_startup_s(simulate, SMALL)
    large = quickest_startup_s(simulate, LARGE)
    allowed = small * (LARGE / SMALL) * LINEAR_SLACK
    assert large <= allowed, (
        f"{LARGE} nodes took {large:.2f} s to start, {large / small:.1f}x the {small:.2f} s of {SMALL} "
        f"nodes: more than {LINEAR_SLACK:g}x linear growth ({allowed:.2f} s)"
    )

"""A stop signal that lands while a message is handed to the kernel waits for the message's send
record: the node acts on it at its loop's next turn, so the trace never holds a receive with no send."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import os, signal
    from netsim.runtime import lifeline

    lifeline.stop_on_signals()
    events = []

    @lifeline.handoff
    def hand_off():
        os.kill(os.getpid(), signal.SIGTERM)  # as if it came just after the kernel took a message
        events.append("recorded")  # the send record: still written

    def outside():
        os.kill(os.getpid(), signal.SIGTERM)
        events.append("not reached")

    try:
        hand_off()
        events.append("returned")
        lifeline.raise_deferred_signal()
    except lifeline.NodeTerminated as stop:
        events.append(f"terminated at the safe point by {stop.signum}")
    lifeline.stop_on_signals()
    try:
        outside()
    except lifeline.NodeTerminated:
        events.append("terminated at once outside a hand-off")
    signal.alarm(0)
    print("|".join(events))
    """
)


@pytest.mark.timeout(30)
def test_a_stop_signal_during_a_handoff_waits_for_the_loop() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=20, check=True
    )
    assert result.stdout.strip().split("|") == [
        "recorded",
        "returned",
        f"terminated at the safe point by {int(signal.SIGTERM)}",
        "terminated at once outside a hand-off",
    ]

"""The app bench/launch.py runs: a module of its own, so that the fork server imports netsim and this
file only. Every node is forked from a server that has imported its app's module; an app defined in
the bench script would bring the bench's imports (multiprocess, rich and with them threading, whose
after-fork hook alone copies ~360 KiB into each node) into the memory measured per node."""

from __future__ import annotations

from typing import Any

import netsim


class StopAtStart(netsim.App):
    """Stops as soon as the run starts, so that the run ends right after start-up."""

    def on_start(self, ctx: Any) -> None:
        ctx.stop()

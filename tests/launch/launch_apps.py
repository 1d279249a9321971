"""Apps the launch tests run by file path (``path/to/launch_apps.py:Class``)."""

from __future__ import annotations

import os

from netsim import App


class CountsDescriptors(App):
    """Records how many file descriptors its node process holds when it starts and each time a link
    comes up, and stops once every link is up: a restarted node's process starts before its
    neighbours have connected to it again (a send to a neighbour whose link is down returns None)."""

    def on_start(self, ctx):
        self._record(ctx)
        self.waiting = {peer for peer in ctx.neighbours if ctx.send(peer, "probe") is None}
        if not self.waiting:
            ctx.stop()

    def on_link_up(self, ctx, peer):
        self._record(ctx)
        self.waiting.discard(peer)
        if not self.waiting:
            ctx.stop()

    @staticmethod
    def _record(ctx):
        # Listing the directory opens one more descriptor, which the listing shows.
        ctx.record(kind="descriptors", count=len(os.listdir("/proc/self/fd")) - 1, pid=os.getpid())


class ReportsModules(App):
    """Records which of a few modules its node process has loaded when it starts, then stops."""

    WATCHED = ("threading", "subprocess", "logging")

    def on_start(self, ctx):
        import sys

        ctx.record(kind="modules", loaded=[name for name in self.WATCHED if name in sys.modules])
        ctx.stop()

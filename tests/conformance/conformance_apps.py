"""Apps the conformance suite runs by file path (``path/to/conformance_apps.py:Class``)."""

from __future__ import annotations

from netsim import App
from netsim.errors import MessageTooLarge


class OversizeApp(App):
    """Each node tries one message just over its link's limit, then one that fits, then stops."""

    def on_start(self, ctx):
        peer = ctx.neighbours[0]
        try:
            ctx.send(peer, "too-big", "x" * 70_000)
        except MessageTooLarge as error:
            ctx.record(kind="refused", error=str(error))
        ctx.send(peer, "fits", "x" * 100)
        ctx.stop()

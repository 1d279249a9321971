"""Apps the launch tests run by file path (``path/to/launch_apps.py:Class``)."""

from __future__ import annotations

import os

from netsim import App


class CountsDescriptors(App):
    """Records how many file descriptors its node process holds once every link is up, then stops."""

    def on_start(self, ctx):
        # Listing the directory opens one more descriptor, which the listing shows.
        ctx.record(kind="descriptors", count=len(os.listdir("/proc/self/fd")) - 1)
        ctx.stop()

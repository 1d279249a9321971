"""The states a node goes through, in order: set-up, its app running, draining, closing.

``setup``: binding, connecting and greeting its links until the start barrier opens. ``running``: the
app's callbacks are called. ``draining``: the app has stopped; what it sent is still delivered, and
links are read to EOF once every node has quiesced. ``closing``: sockets close, the process ends.
"""

from __future__ import annotations

SETUP, RUNNING, DRAINING, CLOSING = "setup", "running", "draining", "closing"

"""The transport names netsim knows, in one place so topology validation needs no socket code."""

from __future__ import annotations

TRANSPORT_NAMES: tuple[str, ...] = ("tcp", "tcp6", "udp", "udp6", "unix", "unix-dgram", "unix-seqpacket")
DEFAULT_TRANSPORT = "tcp"

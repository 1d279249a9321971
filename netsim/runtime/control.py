"""Messages between the launcher and its node processes, over each node's control pipe.

The node owns this protocol (it is the node's interface to whoever runs it); the launcher is its client.

JSON over multiprocess ``Connection.send_bytes``: the pipe is private to the run, but nothing that
crosses a socket is unpickled, here or anywhere in netsim.

Node -> launcher: ``bound`` (its real addresses), ``ready`` (all links up), ``status`` (counters,
idle or busy), ``done`` (its app finished), ``quiesced`` (app stopped, nothing held back),
``drained`` (every link read to EOF), ``crashed`` (traceback), ``closed``.
Launcher -> node: ``addresses`` (the neighbours' addresses), ``start``, ``drain``, ``shut``, ``close``,
``moved`` (a restarted neighbour's new addresses), and the faults ``block`` / ``unblock`` (a link
drops everything) and ``conditions`` (a link's new conditions).
"""

from __future__ import annotations

from typing import Any

import orjson
from multiprocess.connection import Connection

BOUND = "bound"
READY = "ready"
STATUS = "status"
DONE = "done"
QUIESCED = "quiesced"
DRAINED = "drained"
CRASHED = "crashed"
CLOSED = "closed"

ADDRESSES = "addresses"
START = "start"
DRAIN = "drain"
# Sent once every node has quiesced: only then do nodes half-close their links, so no node that is
# still running ever mistakes a neighbour's orderly EOF for a failure.
SHUT = "shut"
CLOSE = "close"
# Faults: block / unblock a peer's link (reason: "partition" or "link-down"); new link conditions.
BLOCK = "block"
UNBLOCK = "unblock"
CONDITIONS = "conditions"
# A restarted peer could not bind where it was (someone took the port while it was dead): its new
# listener address for the link's transport, and its new datagram link address for this node.
MOVED = "moved"
# Before a scheduled SIGKILL: the node flushes its trace, answers ``frozen`` and stops itself, so the
# kill loses nothing of the trace while the node still says no goodbye to its peers.
FREEZE = "freeze"
FROZEN = "frozen"


def send_control(conn: Connection, kind: str, **fields: Any) -> None:
    conn.send_bytes(orjson.dumps({"kind": kind, **fields}))


def receive_control(conn: Connection) -> dict[str, Any]:
    return orjson.loads(conn.recv_bytes())

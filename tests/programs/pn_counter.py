"""Maelstrom's pn-counter workload as a state-based CRDT gossiped between nodes (no service):
add {delta} -> add_ok (delta may be negative), read -> read_ok {value}.

Each node keeps two maps, node -> sum of that node's positive deltas and node -> sum of (the absolute
values of) its negative deltas, and adds its own deltas to its own entries only. Every GOSSIP_INTERVAL
seconds it sends both maps to every other node ("replicate", no reply expected); a node merges what it
receives by taking the larger value per entry. Sending the whole state again and again stands in for
retries: whatever a partition lost, the next round carries. A read is the local sum of increments minus
the sum of decrements, so it converges once gossip gets through.
"""

from maelstrom import Node

GOSSIP_INTERVAL = 0.2

node = Node()
increments = {}
decrements = {}


@node.handler("add")
def add(request):
    delta = request["body"]["delta"]
    if not isinstance(delta, int):
        raise TypeError(f"delta {delta!r} is not an integer")
    totals = increments if delta >= 0 else decrements
    totals[node.node_id] = totals.get(node.node_id, 0) + abs(delta)
    node.reply(request, {"type": "add_ok"})


@node.handler("read")
def read(request):
    node.reply(request, {"type": "read_ok", "value": sum(increments.values()) - sum(decrements.values())})


@node.handler("replicate")
def replicate(request):
    for mine, theirs in (
        (increments, request["body"]["increments"]),
        (decrements, request["body"]["decrements"]),
    ):
        for peer, total in theirs.items():
            mine[peer] = max(mine.get(peer, 0), total)


def replicate_round():
    if increments or decrements:
        for peer in node.peers():
            node.send(peer, {"type": "replicate", "increments": increments, "decrements": decrements})


node.every(GOSSIP_INTERVAL, replicate_round)
node.run()

"""MUTANT of broadcast.py, deliberately wrong: a message is gossiped to each neighbour once, when the
node first learns it, with no acknowledgement and no retry, so a gossip lost to a partition (or sent
before the topology arrived) is never sent again and those nodes never learn the value.

Otherwise as broadcast.py: topology -> topology_ok, broadcast {message} -> broadcast_ok,
read -> read_ok {messages}, "gossip" {messages} between nodes.
"""

from maelstrom import Node

node = Node()
messages = {}  # every message this node knows, in the order it learnt them
neighbours = []


def learn(values, source=None):
    new = [value for value in values if value not in messages]
    messages.update(dict.fromkeys(new))
    if new:
        for peer in neighbours:
            if peer != source:
                node.send(peer, {"type": "gossip", "messages": new})  # fire and forget


@node.handler("topology")
def topology(request):
    neighbours[:] = [
        peer for peer in request["body"]["topology"].get(node.node_id, []) if peer != node.node_id
    ]
    node.reply(request, {"type": "topology_ok"})


@node.handler("broadcast")
def broadcast(request):
    learn([request["body"]["message"]])
    node.reply(request, {"type": "broadcast_ok"})


@node.handler("read")
def read(request):
    node.reply(request, {"type": "read_ok", "messages": list(messages)})


@node.handler("gossip")
def gossip(request):
    learn(request["body"]["messages"], source=request["src"])


node.run()

"""Maelstrom's broadcast workload: topology -> topology_ok, broadcast {message} -> broadcast_ok,
read -> read_ok {messages}.

Every GOSSIP_INTERVAL seconds the node sends each neighbour (from the topology message) a "gossip"
{messages} with the messages that neighbour has not acknowledged yet, and forgets them for that
neighbour only on its "gossip_ok". Unanswered gossip (a partition, a crashed or unreachable peer) is
simply sent again on the next tick, so values cross a partition once it heals. A message learnt from a
peer is not gossiped back to it.
"""

import itertools

from maelstrom import Node

GOSSIP_INTERVAL = 0.2
BATCH = 500  # messages per gossip at most, to keep each one well inside a datagram

node = Node()
messages = {}  # every message this node knows, in the order it learnt them (a dict as an ordered set)
unacked = {}  # neighbour -> messages it has not acknowledged


def learn(values, source=None):
    for value in values:
        if value not in messages:
            messages[value] = None
            for peer, pending in unacked.items():
                if peer != source:
                    pending.add(value)


@node.handler("topology")
def topology(request):
    neighbours = request["body"]["topology"].get(node.node_id, [])
    unacked.clear()
    unacked.update({peer: set(messages) for peer in neighbours if peer != node.node_id})
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
    node.reply(request, {"type": "gossip_ok"})


def gossip_round():
    for peer, pending in unacked.items():
        if pending:
            batch = list(itertools.islice(pending, BATCH))

            def acknowledged(reply, pending=pending, batch=batch):
                if reply["type"] == "gossip_ok":
                    pending.difference_update(batch)

            node.rpc(peer, {"type": "gossip", "messages": batch}, acknowledged)


node.every(GOSSIP_INTERVAL, gossip_round)
node.run()

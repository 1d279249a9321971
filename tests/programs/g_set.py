"""Maelstrom's g-set workload: add {element} -> add_ok, read -> read_ok {value}.

Each node replicates its elements to every other node (node_ids from init) as in broadcast.py: every
GOSSIP_INTERVAL seconds it sends each peer a "replicate" {elements} with what that peer has not
acknowledged ("replicate_ok") yet, so elements cross partitions once they heal.
"""

import itertools

from maelstrom import Node

GOSSIP_INTERVAL = 0.2
BATCH = 500

node = Node()
elements = {}  # the set, in the order elements were learnt
unacked = {}  # peer -> elements it has not acknowledged


@node.on_init
def start():
    unacked.update({peer: set() for peer in node.peers()})


def learn(values, source=None):
    for value in values:
        if value not in elements:
            elements[value] = None
            for peer, pending in unacked.items():
                if peer != source:
                    pending.add(value)


@node.handler("add")
def add(request):
    learn([request["body"]["element"]])
    node.reply(request, {"type": "add_ok"})


@node.handler("read")
def read(request):
    node.reply(request, {"type": "read_ok", "value": list(elements)})


@node.handler("replicate")
def replicate(request):
    learn(request["body"]["elements"], source=request["src"])
    node.reply(request, {"type": "replicate_ok"})


def replicate_round():
    for peer, pending in unacked.items():
        if pending:
            batch = list(itertools.islice(pending, BATCH))

            def acknowledged(reply, pending=pending, batch=batch):
                if reply["type"] == "replicate_ok":
                    pending.difference_update(batch)

            node.rpc(peer, {"type": "replicate", "elements": batch}, acknowledged)


node.every(GOSSIP_INTERVAL, replicate_round)
node.run()

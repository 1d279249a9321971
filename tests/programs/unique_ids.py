"""Maelstrom's unique-ids workload: generate -> generate_ok {id}, ids unique across nodes and restarts.

An id is the node id and a counter. With NETSIM_STATE_DIR set, the counter survives restarts: the node
leases blocks of LEASE values by writing the block's end to a file there (atomically, before handing
out any of them), and a restarted node starts after the last lease. Without it, each run of the program
draws a random 64-bit epoch that goes into its ids: "n0-<epoch>-<counter>".
"""

import os
import secrets

from maelstrom import Node

LEASE = 1000

node = Node()
state_dir = os.environ.get("NETSIM_STATE_DIR")
counter = 0
leased = 0  # ids below this are ours to hand out (with a state directory)
epoch = f"{secrets.randbits(64):016x}"


def lease_file():
    return os.path.join(state_dir, f"unique-ids-{node.node_id}")


@node.on_init
def load_lease():
    global counter, leased
    if state_dir and os.path.exists(lease_file()):
        with open(lease_file()) as file:
            counter = leased = int(file.read())


@node.handler("generate")
def generate(request):
    global counter, leased
    if state_dir:
        if counter >= leased:
            leased = counter + LEASE
            with open(lease_file() + ".new", "w") as file:
                file.write(str(leased))
            os.replace(lease_file() + ".new", lease_file())
        unique = f"{node.node_id}-{counter}"
    else:
        unique = f"{node.node_id}-{epoch}-{counter}"
    counter += 1
    node.reply(request, {"type": "generate_ok", "id": unique})


node.run()

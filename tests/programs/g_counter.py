"""Maelstrom's g-counter workload on the seq-kv service, the Gossip Glomers way: add {delta} -> add_ok,
read -> read_ok {value}.

All nodes share one seq-kv key, "counter". add reads it (a missing key counts as 0) and swaps in the
sum with cas (create_if_not_exists); on error 22 (another node got there first) or 20 it reads again
and retries after a short random pause. A failed read is answered with error 11 (the add did not
happen); a failed cas, e.g. a timeout, is passed on to the client (the add may have happened, so it is
not retried). read first writes a fresh value to a key of this node's own, which brings seq-kv's view
for this node up to date, then reads "counter".
"""

import random

from maelstrom import CRASH, KEY_DOES_NOT_EXIST, PRECONDITION_FAILED, TEMPORARILY_UNAVAILABLE, Node

KEY = "counter"

node = Node()
syncs = 0


@node.handler("add")
def add(request):
    delta = request["body"]["delta"]
    if not isinstance(delta, int):
        raise TypeError(f"delta {delta!r} is not an integer")
    add_delta(request, delta)


def add_delta(request, delta):
    def got(reply):
        if reply["type"] == "read_ok":
            current = reply["value"]
        elif reply.get("code") == KEY_DOES_NOT_EXIST:
            current = 0
        else:
            node.error(request, TEMPORARILY_UNAVAILABLE, f"seq-kv read failed: {reply.get('text')}")
            return
        cas = {
            "type": "cas",
            "key": KEY,
            "from": current,
            "to": current + delta,
            "create_if_not_exists": True,
        }
        node.rpc("seq-kv", cas, swapped)

    def swapped(reply):
        if reply["type"] == "cas_ok":
            node.reply(request, {"type": "add_ok"})
        elif reply.get("code") in (PRECONDITION_FAILED, KEY_DOES_NOT_EXIST):
            node.after(random.uniform(0.005, 0.05), lambda: add_delta(request, delta))
        else:
            node.error(request, reply.get("code", CRASH), f"seq-kv cas failed: {reply.get('text')}")

    node.rpc("seq-kv", {"type": "read", "key": KEY}, got)


@node.handler("read")
def read(request):
    global syncs
    syncs += 1

    def synced(reply):
        node.rpc("seq-kv", {"type": "read", "key": KEY}, answer)

    def answer(reply):
        if reply["type"] == "read_ok":
            node.reply(request, {"type": "read_ok", "value": reply["value"]})
        elif reply.get("code") == KEY_DOES_NOT_EXIST:
            node.reply(request, {"type": "read_ok", "value": 0})
        else:
            node.error(request, TEMPORARILY_UNAVAILABLE, f"seq-kv read failed: {reply.get('text')}")

    node.rpc("seq-kv", {"type": "write", "key": f"sync-{node.node_id}", "value": syncs}, synced)


node.run()

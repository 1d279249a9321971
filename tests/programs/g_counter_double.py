"""MUTANT of g_counter.py, deliberately wrong: add swaps in current + 2 * delta instead of
current + delta, so every add counts its delta twice and reads run ahead of the true total.
Everything else is as g_counter.py: one seq-kv key "counter", a cas loop with create_if_not_exists
retried on error 22, and a read that syncs through a key of its own first.
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
            "to": current + 2 * delta,
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

"""Maelstrom's kafka workload on the lin-kv service: send {key, msg} -> send_ok {offset},
poll {offsets} -> poll_ok {msgs}, commit_offsets {offsets} -> commit_offsets_ok,
list_committed_offsets {keys} -> list_committed_offsets_ok {offsets}.

Each log is one lin-kv value, the list of its messages under "log-KEY"; a message's offset is its
index there. send reads the list (missing: empty) and appends with cas (create_if_not_exists), so
allocating the offset and storing the message are one atomic step; on error 22 or 20 it reads again
and retries. poll reads the logs it is asked about and returns at most POLL_LIMIT messages per key from
the offset given. Committed offsets live under "committed-KEY" and only move up (a cas loop raises
them to the commit's offset; a lower commit than the current one changes nothing).
A failed read is answered with error 11; a failed cas or write (e.g. a timeout: it may have happened)
is passed on to the client.
"""

import random

from maelstrom import CRASH, KEY_DOES_NOT_EXIST, PRECONDITION_FAILED, TEMPORARILY_UNAVAILABLE, Node

POLL_LIMIT = 100

node = Node()


def value_of(reply, missing):
    """The value of a read_ok, ``missing`` for error 20; None (and the caller gives up) otherwise."""
    if reply["type"] == "read_ok":
        return reply["value"]
    return missing if reply.get("code") == KEY_DOES_NOT_EXIST else None


@node.handler("send")
def send(request):
    append(request, request["body"]["key"], request["body"]["msg"])


def append(request, key, msg):
    def got(reply):
        log = value_of(reply, [])
        if log is None:
            node.error(request, TEMPORARILY_UNAVAILABLE, f"lin-kv read failed: {reply.get('text')}")
            return
        cas = {
            "type": "cas",
            "key": f"log-{key}",
            "from": log,
            "to": [*log, msg],
            "create_if_not_exists": True,
        }
        node.rpc("lin-kv", cas, lambda reply: appended(reply, len(log)))

    def appended(reply, offset):
        if reply["type"] == "cas_ok":
            node.reply(request, {"type": "send_ok", "offset": offset})
        elif reply.get("code") in (PRECONDITION_FAILED, KEY_DOES_NOT_EXIST):
            node.after(random.uniform(0, 0.02), lambda: append(request, key, msg))
        else:
            node.error(request, reply.get("code", CRASH), f"lin-kv cas failed: {reply.get('text')}")

    node.rpc("lin-kv", {"type": "read", "key": f"log-{key}"}, got)


@node.handler("poll")
def poll(request):
    offsets = request["body"]["offsets"]
    if not all(isinstance(offset, int) for offset in offsets.values()):
        raise TypeError(f"offsets {offsets!r} are not all integers")
    keys = list(offsets)

    def got(replies):
        msgs = {}
        for key, reply in zip(keys, replies, strict=True):
            log = value_of(reply, [])
            if log is None:
                node.error(request, TEMPORARILY_UNAVAILABLE, f"lin-kv read failed: {reply.get('text')}")
                return
            start = max(offsets[key], 0)
            msgs[key] = [[offset, log[offset]] for offset in range(start, min(len(log), start + POLL_LIMIT))]
        node.reply(request, {"type": "poll_ok", "msgs": msgs})

    node.rpc_all([("lin-kv", {"type": "read", "key": f"log-{key}"}) for key in keys], got)


@node.handler("commit_offsets")
def commit_offsets(request):
    pending = dict(request["body"]["offsets"])
    if not pending:
        node.reply(request, {"type": "commit_offsets_ok"})
        return

    def done(key):
        pending.pop(key, None)
        if not pending:
            node.reply(request, {"type": "commit_offsets_ok"})

    for key, offset in list(pending.items()):
        raise_to(request, key, offset, done)


def raise_to(request, key, offset, done):
    """Move committed-KEY up to ``offset`` (never down: clients commit concurrently) with a cas loop."""

    def got(reply):
        current = value_of(reply, missing=-1)
        if current is None:
            node.error(request, TEMPORARILY_UNAVAILABLE, f"lin-kv read failed: {reply.get('text')}")
        elif current >= offset:
            done(key)
        else:
            cas = {"type": "cas", "key": f"committed-{key}", "from": current, "to": offset}
            if current < 0:
                cas["create_if_not_exists"] = True
            node.rpc("lin-kv", cas, swapped)

    def swapped(reply):
        if reply["type"] == "cas_ok":
            done(key)
        elif reply.get("code") in (PRECONDITION_FAILED, KEY_DOES_NOT_EXIST):
            node.after(random.uniform(0, 0.02), lambda: raise_to(request, key, offset, done))
        else:
            node.error(request, reply.get("code", CRASH), f"lin-kv cas failed: {reply.get('text')}")

    node.rpc("lin-kv", {"type": "read", "key": f"committed-{key}"}, got)


@node.handler("list_committed_offsets")
def list_committed_offsets(request):
    keys = request["body"]["keys"]

    def got(replies):
        offsets = {}
        for key, reply in zip(keys, replies, strict=True):
            offset = value_of(reply, missing=-1)
            if offset is None:
                node.error(request, TEMPORARILY_UNAVAILABLE, f"lin-kv read failed: {reply.get('text')}")
                return
            if offset >= 0:
                offsets[key] = offset
        node.reply(request, {"type": "list_committed_offsets_ok", "offsets": offsets})

    node.rpc_all([("lin-kv", {"type": "read", "key": f"committed-{key}"}) for key in keys], got)


node.run()

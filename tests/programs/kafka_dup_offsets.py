"""MUTANT of kafka.py, deliberately wrong: send reads the key's log and then writes it back with the
message appended (a plain lin-kv write, no cas), answering with the length it read as the offset. Two
sends to one key that overlap both read the same log, so both get the same offset, and the write that
lands second drops the other's message.
Everything else (poll, commit_offsets, list_committed_offsets) is as kafka.py.
"""

from maelstrom import CRASH, KEY_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE, Node

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
        write = {"type": "write", "key": f"log-{key}", "value": [*log, msg]}
        node.rpc("lin-kv", write, lambda reply: written(reply, len(log)))

    def written(reply, offset):
        if reply["type"] == "write_ok":
            node.reply(request, {"type": "send_ok", "offset": offset})
        else:
            node.error(request, reply.get("code", CRASH), f"lin-kv write failed: {reply.get('text')}")

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
    offsets = request["body"]["offsets"]

    def written(replies):
        for reply in replies:
            if reply["type"] != "write_ok":
                node.error(request, reply.get("code", CRASH), f"lin-kv write failed: {reply.get('text')}")
                return
        node.reply(request, {"type": "commit_offsets_ok"})

    writes = [
        ("lin-kv", {"type": "write", "key": f"committed-{key}", "value": offset})
        for key, offset in offsets.items()
    ]
    node.rpc_all(writes, written)


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

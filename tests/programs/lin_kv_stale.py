"""MUTANT of lin_kv.py, deliberately wrong: it serves stale reads. The first value lin-kv returns for a
key is cached, and every later read of that key is answered from the cache without asking lin-kv, so
writes and cas (still relayed to lin-kv, as in lin_kv.py) are never seen by reads through this node.
"""

from maelstrom import Node

node = Node()
cache = {}  # key -> the first value read for it, served forever


def relay(request, remember=None):
    body = {field: value for field, value in request["body"].items() if field != "msg_id"}

    def answer(reply):
        if remember is not None and reply["type"] == "read_ok":
            remember(reply["value"])
        node.reply(
            request,
            {field: value for field, value in reply.items() if field not in ("msg_id", "in_reply_to")},
        )

    node.rpc("lin-kv", body, answer, timeout=5.0)


@node.handler("read")
def read(request):
    key = request["body"]["key"]
    if key in cache:
        node.reply(request, {"type": "read_ok", "value": cache[key]})
    else:
        relay(request, remember=lambda value: cache.setdefault(key, value))


for kind in ("write", "cas"):
    node.handler(kind)(relay)

node.run()

"""Maelstrom's lin-kv workload as a proxy for the lin-kv service: read {key}, write {key, value} and
cas {key, from, to} from clients go to lin-kv as they are, and lin-kv's reply, read_ok / write_ok /
cas_ok or an error (20 key-does-not-exist, 22 precondition-failed, ...), goes back to the client as
it is. A request lin-kv does not answer within 5 s is answered with error 0 (timeout).
"""

from maelstrom import Node

node = Node()


def relay(request):
    body = {field: value for field, value in request["body"].items() if field != "msg_id"}

    def answer(reply):
        node.reply(
            request,
            {field: value for field, value in reply.items() if field not in ("msg_id", "in_reply_to")},
        )

    node.rpc("lin-kv", body, answer, timeout=5.0)


for kind in ("read", "write", "cas"):
    node.handler(kind)(relay)

node.run()

"""MUTANT of unique_ids.py, deliberately wrong: ids are node id + counter, but the counter starts at 0
every time the program starts and is never persisted, so a restarted node hands out the ids it gave
before its restart again ("n0-0", "n0-1", ...)."""

from maelstrom import Node

node = Node()
counter = 0


@node.handler("generate")
def generate(request):
    global counter
    unique = f"{node.node_id}-{counter}"
    counter += 1
    node.reply(request, {"type": "generate_ok", "id": unique})


node.run()

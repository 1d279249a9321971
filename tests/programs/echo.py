"""Maelstrom's echo workload: answers echo {echo} with echo_ok carrying the same echo."""

from maelstrom import Node

node = Node()


@node.handler("echo")
def echo(request):
    node.reply(request, {"type": "echo_ok", "echo": request["body"]["echo"]})


node.run()

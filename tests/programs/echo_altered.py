"""MUTANT of echo.py, deliberately wrong: echo_ok does not carry the text it was sent but that text with
"!" appended (a non-string echo comes back as its string form plus "!")."""

from maelstrom import Node

node = Node()


@node.handler("echo")
def echo(request):
    node.reply(request, {"type": "echo_ok", "echo": f"{request['body']['echo']}!"})


node.run()

"""Python apps that answer a workload's Maelstrom bodies, as a program would (run by file path)."""

from __future__ import annotations

from netsim import App


class EchoApp(App):
    """Answers echo with echo_ok, citing the request's msg_id as a Maelstrom node does."""

    def on_message(self, ctx, message):
        body = message.body
        if isinstance(body, dict) and body.get("type") == "echo":
            reply = {"type": "echo_ok", "echo": body["echo"], "in_reply_to": body["msg_id"]}
            ctx.send(message.src, "echo_ok", reply)


class ShoutingEchoApp(App):
    """Echoes the text in capitals: a wrong echo, answered with netsim's own in_reply_to."""

    def on_message(self, ctx, message):
        body = message.body
        if isinstance(body, dict) and body.get("type") == "echo":
            ctx.reply(message, "echo_ok", {"type": "echo_ok", "echo": body["echo"].upper()})

"""A Maelstrom node as people write them: answers init and echo; at init, n0 also greets its
neighbours (named in argv) and writes each reply on its stderr."""

import json
import sys

node_id = None
next_id = 0


def send(dest, body):
    global next_id
    next_id += 1
    body = {**body, "msg_id": next_id}
    print(json.dumps({"src": node_id, "dest": dest, "body": body}), flush=True)


for line in sys.stdin:
    message = json.loads(line)
    body = message["body"]
    if body["type"] == "init":
        node_id = body["node_id"]
        reply = {"type": "init_ok", "in_reply_to": body["msg_id"]}
        print(json.dumps({"src": node_id, "dest": message["src"], "body": reply}), flush=True)
        if node_id == "n0":
            for peer in sys.argv[1:]:
                send(peer, {"type": "echo", "echo": f"hello {peer}"})
    elif body["type"] == "echo":
        reply = {"type": "echo_ok", "echo": body["echo"], "in_reply_to": body["msg_id"]}
        send(message["src"], reply)
    elif body["type"] == "echo_ok":
        print(f"{node_id} got echo_ok from {message['src']}: {body['echo']}", file=sys.stderr, flush=True)
    elif body["type"] == "error":
        print(f"{node_id} got error {body['code']}: {body['text']}", file=sys.stderr, flush=True)

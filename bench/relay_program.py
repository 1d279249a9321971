"""A Maelstrom node that passes every message it gets on to n2, written as such programs usually are:
read a line, write a line, flush."""

import json
import sys

node_id = None
for line in sys.stdin:
    message = json.loads(line)
    body = message["body"]
    if body["type"] == "init":
        node_id = body["node_id"]
        reply = {"type": "init_ok", "in_reply_to": body["msg_id"]}
        print(json.dumps({"src": node_id, "dest": message["src"], "body": reply}), flush=True)
    elif body["type"] == "relay":
        print(json.dumps({"src": node_id, "dest": "n2", "body": body}), flush=True)

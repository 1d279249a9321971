"""A Maelstrom node that answers init and then waits: the smallest program a node can run."""

import json
import sys

for line in sys.stdin:
    message = json.loads(line)
    body = message["body"]
    if body["type"] == "init":
        reply = {"type": "init_ok", "in_reply_to": body["msg_id"]}
        print(json.dumps({"src": body["node_id"], "dest": message["src"], "body": reply}), flush=True)

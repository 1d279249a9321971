"""A node program that writes what is not a message before and after its valid ones, and says on its
stderr whether netsim gave it a state directory."""

import json
import os
import sys

for line in sys.stdin:
    message = json.loads(line)
    body = message["body"]
    if body["type"] == "init":
        node_id = body["node_id"]
        print("starting up (a log line on stdout, not a message)", flush=True)
        reply = {"type": "init_ok", "in_reply_to": body["msg_id"]}
        print(json.dumps({"src": node_id, "dest": message["src"], "body": reply}), flush=True)
        state_dir = os.environ.get("NETSIM_STATE_DIR", "")
        print(f"state dir {state_dir} exists: {os.path.isdir(state_dir)}", file=sys.stderr, flush=True)
        if node_id == "n0":
            print("[1, 2, 3]", flush=True)
            print(json.dumps({"src": node_id, "body": {"type": "x"}}), flush=True)
            print(json.dumps({"src": node_id, "dest": "n1", "body": {"msg_id": 1}}), flush=True)
            ping = {"type": "ping", "msg_id": 2}
            print(json.dumps({"src": node_id, "dest": "n1", "body": ping}), flush=True)
    elif body["type"] == "ping":
        print(f"{message['dest']} got ping from {message['src']}", file=sys.stderr, flush=True)

"""A small Maelstrom node library for the workload programs next to it, in the manner of Maelstrom's own
demo libraries (stdlib only).

A program makes a ``Node``, registers a handler per request type and calls ``run()``. The node answers
``init`` itself, replies ``error`` 10 (not-supported) to requests of a type it has no handler for, and
replies ``error`` 12 (malformed-request) or 13 (crash) when a handler raises, so a body it does not
understand never ends the program. ``rpc`` sends a request and keeps its callback in a table by
``msg_id`` until the reply (matched by ``in_reply_to``) arrives, or calls it with an ``error`` 0 (timeout)
body when none does. Timers (``after``, ``every``) and stdin share one ``select`` loop; the program
ends when stdin closes. Messages go out one JSON line each, flushed; diagnostics go to stderr.
"""

import heapq
import itertools
import json
import os
import select
import sys
import time
import traceback

# Maelstrom's error codes (doc/protocol.md) that the programs use.
TIMEOUT = 0
TEMPORARILY_UNAVAILABLE = 11
NOT_SUPPORTED = 10
MALFORMED_REQUEST = 12
CRASH = 13
KEY_DOES_NOT_EXIST = 20
PRECONDITION_FAILED = 22


class Node:
    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.handlers = {}
        self.callbacks = {}  # msg_id of a request this node sent -> function called with the reply body
        self.timers = []  # heap of (when, sequence number, function)
        self.sequence = itertools.count()
        self.next_msg_id = 0
        self.init_hooks = []  # functions run at init, once node_id and node_ids are known
        self.handlers["init"] = self.init

    def handler(self, kind):
        """Decorator: the function handles requests whose body type is ``kind``."""

        def register(function):
            self.handlers[kind] = function
            return function

        return register

    def on_init(self, function):
        """Decorator: the function runs at init, before init_ok goes out."""
        self.init_hooks.append(function)
        return function

    def log(self, text):
        print(f"{self.node_id}: {text}", file=sys.stderr, flush=True)

    def peers(self):
        return [node for node in self.node_ids if node != self.node_id]

    def send(self, dest, body):
        sys.stdout.write(json.dumps({"src": self.node_id, "dest": dest, "body": body}) + "\n")
        sys.stdout.flush()

    def reply(self, request, body):
        msg_id = request["body"].get("msg_id")
        if msg_id is not None:
            self.send(request["src"], {**body, "in_reply_to": msg_id})

    def error(self, request, code, text):
        self.reply(request, {"type": "error", "code": code, "text": text})

    def rpc(self, dest, body, callback, timeout=1.0):
        """Sends a request; ``callback(reply_body)`` runs on the reply, or on a timeout error body."""
        self.next_msg_id += 1
        msg_id = self.next_msg_id
        self.callbacks[msg_id] = callback

        def expire():
            if self.callbacks.pop(msg_id, None) is not None:
                callback({"type": "error", "code": TIMEOUT, "text": f"no reply from {dest} in {timeout} s"})

        self.after(timeout, expire)
        self.send(dest, {**body, "msg_id": msg_id})

    def rpc_all(self, calls, callback, timeout=1.0):
        """Sends every (dest, body) request at once; ``callback(replies)`` runs when all have answered."""
        replies = [None] * len(calls)
        waiting = set(range(len(calls)))
        if not calls:
            callback(replies)
        for index, (dest, body) in enumerate(calls):

            def got(reply, index=index):
                replies[index] = reply
                waiting.discard(index)
                if not waiting:
                    callback(replies)

            self.rpc(dest, body, got, timeout)

    def after(self, seconds, function):
        heapq.heappush(self.timers, (time.monotonic() + seconds, next(self.sequence), function))

    def every(self, seconds, function):
        def tick():
            self.after(seconds, tick)
            function()

        self.after(seconds, tick)

    def guarded(self, function, *args):
        try:
            function(*args)
        except Exception:
            self.log(f"ignoring an exception:\n{traceback.format_exc()}")

    def handle(self, line):
        try:
            message = json.loads(line)
            body = message["body"]
            kind = body["type"]
            if not isinstance(kind, str):
                raise TypeError("type is not a string")
        except (ValueError, KeyError, TypeError, IndexError) as error:
            self.log(f"ignoring a line that is not a message ({error}): {line[:80]!r}")
            return
        if body.get("in_reply_to") is not None:
            callback = self.callbacks.pop(body["in_reply_to"], None)
            if callback is None:
                self.log(f"ignoring a reply nobody waits for: {body}")
            else:
                callback(body)
            return
        handler = self.handlers.get(kind)
        if handler is None:
            self.error(message, NOT_SUPPORTED, f"{kind} is not supported")
            return
        try:
            handler(message)
        except (KeyError, TypeError, ValueError) as error:
            self.log(f"malformed {kind}:\n{traceback.format_exc()}")
            self.error(message, MALFORMED_REQUEST, f"malformed {kind}: {error!r}")
        except Exception as error:
            self.log(f"{kind} failed:\n{traceback.format_exc()}")
            self.error(message, CRASH, f"{kind} failed: {error!r}")

    def init(self, request):
        self.node_id = request["body"]["node_id"]
        self.node_ids = request["body"]["node_ids"]
        for hook in self.init_hooks:
            hook()
        self.reply(request, {"type": "init_ok"})

    def run(self):
        stdin = sys.stdin.fileno()
        pending = b""
        while True:
            timeout = max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else None
            readable, _, _ = select.select([stdin], [], [], timeout)
            if readable:
                chunk = os.read(stdin, 1 << 16)
                if not chunk:
                    return  # stdin closed: whoever runs us is done
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        self.guarded(self.handle, line)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, function = heapq.heappop(self.timers)
                self.guarded(function)

"""A workload client: a netsim node (``c1``, ``c2``, ...) that issues a workload's operations to the
server nodes it is linked to, one at a time, and writes every invocation and completion to its part of
the history.

Its messages are netsim messages like any other (traced, drawn in the diagram), their bodies
Maelstrom's. A request carries a ``msg_id``; the reply is the message whose body names it in
``in_reply_to`` (a Python app may instead answer with netsim's own ``in_reply_to``, which counts too).
``ok`` is a reply that is not an error; an ``error`` reply is ``fail`` when its code is definite and
``info`` when not (``netsim.wire.maelstrom.ERROR_CODES``), and so is no reply within the timeout. A
request its link could not take (the node is down) did not leave the client: ``fail``.

Pacing: each client waits ``interval_s`` (the run's client count over its rate, jittered) between an
operation's completion and the next invocation. Once the time limit has passed it waits for nothing
more but ``final_wait_s`` and, for workloads that have them, reads every node it is linked to once
more (``final`` reads), then stops; the run ends when every client has stopped.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import orjson

from netsim.runtime.app import App
from netsim.wire.maelstrom import ERROR_CODES
from netsim.workloads.generators import WORKLOADS, Invocation
from netsim.workloads.history import FAIL, INFO, INVOKE, OK

if TYPE_CHECKING:
    from netsim.runtime.context import NodeContext
    from netsim.wire.message import Message

TIMEOUT = "timeout"
NEXT = "next"


class WorkloadClient(App):
    def on_start(self, ctx: NodeContext) -> None:
        config = ctx.config
        self.ctx = ctx
        self.workload = WORKLOADS[config["workload"]](
            random.Random(f"{config['seed']}:{ctx.name}"), ctx.name, list(config["nodes"])
        )
        self.rng = ctx.rng
        self.servers = sorted(ctx.neighbours, key=config["nodes"].index)
        self.interval_s = float(config["interval_s"])
        self.timeout_s = float(config["timeout_s"])
        self.time_limit_s = float(config["time_limit_s"])
        self.final_wait_s = float(config["final_wait_s"])
        # Unbuffered: each record is one write, so that the history holds every operation however the
        # run ends (a crash, Ctrl-C, its duration), as the checkers count on (a cut-short client: info).
        self.history = open(config["history_path"], "ab", buffering=0)  # noqa: SIM115 - closed at the stop
        self.next_msg_id = 0
        # The one outstanding request: (msg_id, netsim id, invocation, node, final, timer id, whether
        # it is an operation of the history rather than a set-up request).
        self.pending: tuple[int, str | None, Invocation, str, bool, int, bool] | None = None
        self.finals = list(self.servers) if self.workload.final_reads else []
        # The bodies to send before the first operation, and to which server.
        self.setups = [
            (node, body)
            for node in self.servers
            if (body := self.workload.setup(node, config["topology"])) is not None
        ]
        self.settling_done = False
        self.started_s = ctx.elapsed_s
        self._next()

    # ---- issuing --------------------------------------------------------------------------------------

    def _next(self) -> None:
        """Issue the next request: set-up bodies first, then operations, then final reads, then stop."""
        ctx = self.ctx
        if self.setups:
            node, body = self.setups.pop(0)
            self._issue(Invocation(body["type"], None, body), node, record=False)
            return
        if ctx.elapsed_s - self.started_s < self.time_limit_s:
            self._issue(self.workload.next_op(), self.rng.choice(self.servers))
            return
        if self.finals and not self.settling_done:
            # The time limit has passed: let the system settle, then read every node once more.
            self.settling_done = True
            ctx.set_timer(self.final_wait_s, NEXT)
            return
        if self.finals:
            node = self.finals.pop(0)
            self._issue(self.workload.final_read(), node, final=True)
            return
        self.history.close()
        ctx.stop()

    def _issue(self, invocation: Invocation, node: str, *, final: bool = False, record: bool = True) -> None:
        self.next_msg_id += 1
        msg_id = self.next_msg_id
        body = {**invocation.body, "msg_id": msg_id}
        now = self.ctx.now_ns()
        if record:
            self._write(INVOKE, node, invocation.f, invocation.value, now, final, request=body)
        netsim_id = self.ctx.send(node, body["type"], body)
        if netsim_id is None:
            # The link is down: the request never left, so the operation certainly did not happen.
            if record:
                error = {"code": 11, "text": f"no link to {node}: the request was not sent"}
                self._write(FAIL, node, invocation.f, invocation.value, now, final, error=error)
            self._after_completion()
            return
        timer = self.ctx.set_timer(self.timeout_s, TIMEOUT, msg_id)
        self.pending = (msg_id, netsim_id, invocation, node, final, timer, record)

    # ---- completions ----------------------------------------------------------------------------------

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        if self.pending is None:
            return  # a reply that came after its timeout: the history already says info
        msg_id, netsim_id, invocation, node, final, timer, recorded = self.pending
        body = message.body if isinstance(message.body, dict) else {}
        if body.get("in_reply_to") != msg_id and (netsim_id is None or message.in_reply_to != netsim_id):
            return
        self.pending = None
        ctx.cancel_timer(timer)
        if recorded:
            now = ctx.now_ns()
            if body.get("type") == "error":
                code = body.get("code")
                definite = ERROR_CODES.get(code, ("", False))[1] if isinstance(code, int) else False
                error = {"code": code, "text": body.get("text")}
                kind = FAIL if definite else INFO
                self._write(kind, node, invocation.f, invocation.value, now, final, reply=body, error=error)
            else:
                result = self.workload.result(invocation, body)
                self._write(OK, node, invocation.f, result, now, final, reply=body)
        self._after_completion()

    def on_stop(self, ctx: NodeContext) -> None:
        self.history.close()

    def on_timer(self, ctx: NodeContext, name: str, data: Any) -> None:
        if name == TIMEOUT:
            if self.pending is None or self.pending[0] != data:
                return
            _, _, invocation, node, final, _, recorded = self.pending
            self.pending = None
            if recorded:
                error = {"code": 0, "text": f"no reply within {self.timeout_s:g} s"}
                self._write(INFO, node, invocation.f, invocation.value, ctx.now_ns(), final, error=error)
            self._after_completion()
        elif name == NEXT:
            self._next()

    def _after_completion(self) -> None:
        elapsed = self.ctx.elapsed_s - self.started_s
        if self.setups:
            self.ctx.set_timer(0, NEXT)
        elif elapsed < self.time_limit_s:
            # Jittered around the interval, so that clients do not move in lockstep.
            self.ctx.set_timer(self.rng.uniform(0.5, 1.5) * self.interval_s, NEXT)
        else:
            self.ctx.set_timer(0, NEXT)

    def _write(
        self,
        kind: str,
        node: str,
        f: str,
        value: Any,
        time_ns: int,
        final: bool,
        *,
        request: dict[str, Any] | None = None,
        reply: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "type": kind,
            "process": self.ctx.name,
            "node": node,
            "f": f,
            "value": value,
            "time_ns": time_ns,
        }
        if final:
            record["final"] = True
        for key, item in (("request", request), ("reply", reply), ("error", error)):
            if item is not None:
                record[key] = item
        if not self.history.closed:  # closed: the run has stopped, and the history with it
            self.history.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

"""A workload's history: every client operation, from its invocation to its completion.

``history.jsonl`` in a run directory holds two lines per operation, in the order they happened, as
Jepsen and Maelstrom write histories: an ``invoke`` line when a client sends the request, then one
completion line: ``ok`` (the reply says it happened), ``fail`` (a definite error reply: it did not
happen) or ``info`` (a timeout or an indefinite error: it may or may not have happened). Checkers
take the operations as ``Op`` values, one per invocation, its completion folded in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OK = "ok"
FAIL = "fail"
INFO = "info"
INVOKE = "invoke"
COMPLETIONS = (OK, FAIL, INFO)


@dataclass(frozen=True, slots=True)
class Op:
    """One client operation.

    ``f`` names the operation (``echo``, ``generate``, ``broadcast``, ``read``, ``add``, ``write``,
    ``cas``, ``send``, ``poll``, ``commit_offsets``, ``list_committed_offsets``); ``value`` is what was
    asked (a JSON value whose shape each workload documents) and ``result`` what an ``ok`` reply gave
    (None otherwise). ``error`` is the error reply's ``{"code", "text"}``, if one came. ``final``: a
    read issued after the workload's time limit, once faults are over, to see what the system kept.
    """

    index: int  # the invocation's place in the history, from 0
    process: str  # the client, "c1", "c2", ...
    node: str  # the server node the request went to
    f: str
    value: Any
    type: Literal["ok", "fail", "info"]
    result: Any
    invoke_ns: int
    complete_ns: int
    error: dict[str, Any] | None = None
    final: bool = False
    request: dict[str, Any] | None = None
    reply: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a checker concluded: ``valid`` is True, False or "unknown" (the check could not finish,
    e.g. a linearizability search over its bound); ``explanation`` says why not valid in a sentence
    that names the operation, key or value at fault (never a stack trace); ``details`` holds the
    checker's figures (lost values, latency quantiles, ...) as JSON values."""

    valid: bool | Literal["unknown"]
    explanation: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

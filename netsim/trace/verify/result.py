"""What ``verify_trace`` reports: one ``CheckResult`` per check inside a ``VerifyReport``, and the
``CheckTally`` a check keeps while the trace streams by (its counts and its first offending events).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CHECK_DESCRIPTIONS: dict[str, str] = {
    "mirror": "both ends of each connection and each message see mirrored addresses",
    "exactly_once": "reliable transports deliver every message once; nothing arrives twice",
    "fifo": "each stream connection delivers messages in the order they were sent",
    "lamport": "a receive's clock exceeds its send's and its node's earlier clocks",
    "receive_has_send": "every received message was sent earlier in the trace",
    "sockets_closed": "a started node closes every socket it opened before it stops",
    "program_bytes": "a socket program receives only bytes a node sent it, after the send began",
}
CHECK_NAMES: tuple[str, ...] = tuple(CHECK_DESCRIPTIONS)


@dataclass(slots=True)
class CheckResult:
    """One check's outcome. ``examples`` are the first offending events (records, in trace order) and
    ``problems`` says, for each, what is wrong with it (same order). ``counts`` holds figures a check
    reports besides its failures, such as ``lost_unreliable``; ``to_dict()`` puts them at top level."""

    name: str
    description: str
    passed: bool
    checked: int
    failures: int
    examples: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "passed": self.passed,
            "checked": self.checked,
            "failures": self.failures,
            **self.counts,
            "examples": list(self.examples),
            "problems": list(self.problems),
        }


@dataclass(slots=True)
class VerifyReport:
    """The result of ``verify_trace``; ``to_dict()`` is what ``netsim trace verify --json`` prints."""

    path: str
    run_id: str | None
    start_ts_ns: int | None
    events: int
    skipped_lines: int
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "run_id": self.run_id,
            "ok": self.ok,
            "events": self.events,
            "skipped_lines": self.skipped_lines,
            "checks": [check.to_dict() for check in self.checks],
        }


class CheckTally:
    """Counts and the first ``max_examples`` offending events (by trace line) of one check."""

    __slots__ = ("name", "checked", "failures", "max_examples", "_examples", "_order", "counts")

    def __init__(self, name: str, max_examples: int) -> None:
        self.name = name
        self.checked = 0
        self.failures = 0
        self.max_examples = max_examples
        # A max-heap on (line, order) via negation: failures found at the end of the trace (a send never
        # received) can be earlier in the file than ones found on the way, and the earliest win.
        self._examples: list[tuple[int, int, dict[str, Any], str]] = []
        self._order = 0
        self.counts: dict[str, Any] = {}

    def fail(self, record: dict[str, Any], line: int, problem: str) -> None:
        self.failures += 1
        if self.max_examples <= 0:
            return
        self._order += 1
        entry = (-line, -self._order, record, f"line {line}: {problem}")
        if len(self._examples) < self.max_examples:
            heapq.heappush(self._examples, entry)
        elif entry > self._examples[0]:
            heapq.heapreplace(self._examples, entry)

    def replace_examples(self, replace: Callable[[dict[str, Any], int], dict[str, Any]]) -> None:
        """Put ``replace(record, line)`` in each example's place (a record kept as its line only)."""
        self._examples = [
            (line, order, replace(record, -line), problem) for line, order, record, problem in self._examples
        ]

    def result(self) -> CheckResult:
        ordered = sorted(self._examples, reverse=True)
        return CheckResult(
            name=self.name,
            description=CHECK_DESCRIPTIONS[self.name],
            passed=self.failures == 0,
            checked=self.checked,
            failures=self.failures,
            examples=[record for _line, _order, record, _problem in ordered],
            problems=[problem for _line, _order, _record, problem in ordered],
            counts=self.counts,
        )

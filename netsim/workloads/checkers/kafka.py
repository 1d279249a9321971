"""The kafka workload's checker: append-only logs per key, with offsets, polls and committed offsets.

Ops (``value`` is what was asked, ``result`` what an ok reply gave):

* ``send``: ``value`` ``[key, msg]``, ``result`` the offset assigned (an integer).
* ``poll``: ``value`` ``{key: offset}``, ``result`` ``{key: [[offset, msg], ...]}``.
* ``commit_offsets``: ``value`` ``{key: offset}``.
* ``list_committed_offsets``: ``value`` ``[key, ...]``, ``result`` ``{key: offset}``.

Keys are compared as strings (JSON object keys are strings; a non-string key in a send is taken as its
JSON text), messages as JSON values. Only ok operations are used as evidence, except that a message
any send attempted (ok, fail or info) is an *expected* message of its key. The history is valid iff
none of these is found:

* ``lost_write``: an ok send put ``msg`` at ``offset`` of ``key``, and an ok poll returned messages of
  ``key`` spanning that offset without it. A poll's span for a key runs from the offset it asked for
  (or its first returned offset, if lower or if it asked none) to the last offset it returned: a poll
  answers with the messages from the offset asked, contiguously, and offsets may be sparse but never
  appear after later ones did. Reported once per (key, offset).
* ``offset_reused``: two ok sends to one key got the same offset for different messages.
* ``poll_nonmonotonic``: a poll's offsets for a key are not strictly increasing.
* ``poll_contradicts_send``: a poll returned, at an offset an ok send was given, a different message;
  or returned a message that was sent (once, and acknowledged) at another offset.
* ``polls_disagree``: two polls returned different messages at the same offset of a key.
* ``unexpected_message``: a poll returned a message no send to that key ever attempted.
* ``commit_regression``: an ok ``list_committed_offsets`` invoked after an ok ``commit_offsets`` of a
  key had completed returned a lower offset for that key, or none.

An operation without the shape above (a send's offset that is no integer, a poll's entry that is no
[offset, msg] pair, ...) makes the verdict "unknown", naming it, as in every checker.

Not checked: whether every acknowledged send is eventually polled (``details.unobserved`` counts those
no poll returned: Maelstrom allows it), whether a client's successive polls or sends move forward
(Maelstrom's "external" nonmonotonic and skip checks need the client's assignments, which these ops do
not carry), and whether a listed committed offset was ever committed. Without any ok poll while sends
were acknowledged the verdict is "unknown".
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from netsim.workloads.checkers.common import (
    DETAILS_CAP,
    ShapeError,
    canonical,
    describe,
    is_integer,
    never_raises,
    show,
)
from netsim.workloads.history import FAIL, INFO, OK, Op, Verdict

# In the order an explanation picks its first finding from.
CATEGORIES = (
    "lost_write",
    "offset_reused",
    "poll_nonmonotonic",
    "poll_contradicts_send",
    "polls_disagree",
    "unexpected_message",
    "commit_regression",
)


@dataclass(frozen=True, slots=True)
class Finding:
    category: str
    op: Op  # the operation that shows it (the poll, the second send, the list)
    text: str


def log_key(key: Any) -> str:
    return key if isinstance(key, str) else show(key)


class KafkaCheck:
    """One pass over the history, collecting findings."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        # key -> offset -> (msg, the ok send): what acknowledged sends put where.
        self.acked: dict[str, dict[int, tuple[Any, Op]]] = {}
        # key -> msg -> how many sends of it were attempted (ok, fail or info).
        self.attempted: dict[str, dict[Any, int]] = {}
        # key -> msg -> the offset its send was acknowledged at, for msgs sent to the key only once.
        self.acked_at: dict[str, dict[Any, int]] = {}
        # key -> the offsets of acknowledged sends, sorted.
        self.acked_offsets: dict[str, list[int]] = {}
        # key -> offset -> (msg, as returned, the first ok poll that returned it).
        self.polled: dict[str, dict[int, tuple[Any, Any, Op]]] = {}
        self.lost: set[tuple[str, int]] = set()
        self.disagreed: set[tuple[str, int]] = set()

    def find(self, category: str, op: Op, text: str) -> None:
        self.findings.append(Finding(category, op, text))

    def sends(self, sends: list[Op]) -> None:
        for op in sends:
            if not (isinstance(op.value, list) and len(op.value) == 2):
                raise ShapeError(op, f"a send's value must be [key, msg], not {show(op.value)}")
            key, msg = log_key(op.value[0]), canonical(op.value[1])
            counts = self.attempted.setdefault(key, {})
            counts[msg] = counts.get(msg, 0) + 1
        for op in sends:
            if op.type != OK:
                continue
            key, msg = log_key(op.value[0]), canonical(op.value[1])
            if not is_integer(op.result):
                raise ShapeError(op, f"a send's offset must be an integer, not {show(op.result)}")
            offset = op.result
            earlier = self.acked.setdefault(key, {}).get(offset)
            if earlier is not None and earlier[0] != msg:
                self.find(
                    "offset_reused",
                    op,
                    f"key {key}: offset {offset} was given to {show(op.value[1])} by {describe(op)} and to"
                    f" {show(earlier[1].value[1])} by {describe(earlier[1])}",
                )
                continue
            self.acked[key][offset] = (msg, op)
            if self.attempted[key][msg] == 1:
                self.acked_at.setdefault(key, {})[msg] = offset
        self.acked_offsets = {key: sorted(offsets) for key, offsets in self.acked.items()}

    def poll(self, op: Op) -> None:
        if not isinstance(op.result, dict):
            raise ShapeError(
                op, f"a poll's result must map keys to lists of [offset, msg], not {show(op.result)}"
            )
        asked = op.value if isinstance(op.value, dict) else {}
        for raw_key, entries in op.result.items():
            key = log_key(raw_key)
            pairs = self.pairs(op, key, entries)
            offsets = [offset for offset, _, _ in pairs]
            for earlier, later in zip(offsets, offsets[1:], strict=False):
                if later <= earlier:
                    self.find(
                        "poll_nonmonotonic",
                        op,
                        f"key {key}: {describe(op)} returned offset {later} after {earlier}",
                    )
                    break
            for offset, msg, raw_msg in pairs:
                self.message(op, key, offset, msg, raw_msg)
            if pairs:
                start = asked.get(raw_key)
                low = min(start, offsets[0]) if is_integer(start) else offsets[0]
                self.skipped(op, key, low, max(offsets), {offset: msg for offset, msg, _ in pairs})

    @staticmethod
    def pairs(op: Op, key: str, entries: Any) -> list[tuple[int, Any, Any]]:
        if not isinstance(entries, list):
            raise ShapeError(op, f"key {key}: {show(entries)} is not a list of [offset, msg]")
        pairs = []
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 2 and is_integer(entry[0])):
                raise ShapeError(op, f"key {key}: {show(entry)} is not an [offset, msg] pair")
            pairs.append((entry[0], canonical(entry[1]), entry[1]))
        return pairs

    def message(self, op: Op, key: str, offset: int, msg: Any, raw_msg: Any) -> None:
        sent = self.acked.get(key, {}).get(offset)
        if sent is not None and sent[0] != msg:
            self.find(
                "poll_contradicts_send",
                op,
                f"key {key}: {describe(op)} returned {show(raw_msg)} at offset {offset}, where"
                f" {describe(sent[1])} was acknowledged for {show(sent[1].value[1])}",
            )
        acked_offset = self.acked_at.get(key, {}).get(msg)
        if acked_offset is not None and acked_offset != offset:
            self.find(
                "poll_contradicts_send",
                op,
                f"key {key}: {describe(op)} returned {show(raw_msg)} at offset {offset}, but its only send"
                f" was acknowledged at offset {acked_offset}",
            )
        if msg not in self.attempted.get(key, {}):
            self.find(
                "unexpected_message",
                op,
                f"key {key}: {describe(op)} returned {show(raw_msg)}, never sent there",
            )
        first_msg, first_raw, first_op = self.polled.setdefault(key, {}).setdefault(
            offset, (msg, raw_msg, op)
        )
        if first_msg != msg and (key, offset) not in self.disagreed:
            self.disagreed.add((key, offset))
            self.find(
                "polls_disagree",
                op,
                f"key {key}: offset {offset} held {show(first_raw)} for {describe(first_op)} but"
                f" {show(raw_msg)} for {describe(op)}",
            )

    def skipped(self, op: Op, key: str, low: int, high: int, returned: dict[int, Any]) -> None:
        acked = self.acked.get(key)
        if not acked:
            return
        ordered = self.acked_offsets[key]
        for offset in ordered[bisect.bisect_left(ordered, low) : bisect.bisect_right(ordered, high)]:
            if offset not in returned and (key, offset) not in self.lost:
                self.lost.add((key, offset))
                send = acked[offset][1]
                self.find(
                    "lost_write",
                    op,
                    f"key {key}: {describe(send)} was acknowledged at offset {offset}"
                    f" ({show(send.value[1])}), but {describe(op)} returned offsets {low}..{high} of that key"
                    " without it",
                )

    def commits(self, commits: list[Op], listings: list[Op]) -> None:
        # key -> (completion, offset, op) of its ok commits; then, sorted by completion, the highest
        # offset committed by each point.
        done: dict[str, list[tuple[int, int, Op]]] = {}
        for op in commits:
            if not isinstance(op.value, dict):
                raise ShapeError(op, f"commit_offsets' value must map keys to offsets, not {show(op.value)}")
            for raw_key, offset in op.value.items():
                if not is_integer(offset):
                    raise ShapeError(
                        op, f"key {log_key(raw_key)}: committed offset {show(offset)} is not an integer"
                    )
                done.setdefault(log_key(raw_key), []).append((op.complete_ns, offset, op))
        highest: dict[str, tuple[list[int], list[tuple[int, Op]]]] = {}
        for key, entries in done.items():
            entries.sort(key=lambda entry: entry[0])
            best: list[tuple[int, Op]] = []
            for _, offset, op in entries:
                best.append((offset, op) if not best or offset > best[-1][0] else best[-1])
            highest[key] = ([completed for completed, _, _ in entries], best)
        for op in listings:
            if not isinstance(op.result, dict):
                raise ShapeError(
                    op, f"list_committed_offsets' result must map keys to offsets, not {show(op.result)}"
                )
            asked = op.value if isinstance(op.value, list) else []
            listed = {log_key(key): offset for key, offset in op.result.items()}
            for key in {log_key(key) for key in asked} | set(listed):
                if key not in highest:
                    continue
                completed, best = highest[key]
                before = bisect.bisect_left(completed, op.invoke_ns)
                if not before:
                    continue
                committed, commit = best[before - 1]
                offset = listed.get(key)
                if offset is not None and not is_integer(offset):
                    raise ShapeError(op, f"key {key}: listed offset {show(offset)} is not an integer")
                if offset is None or offset < committed:
                    got = "no offset" if offset is None else f"offset {offset}"
                    self.find(
                        "commit_regression",
                        op,
                        f"key {key}: {describe(op)} listed {got} as committed, but {describe(commit)} had"
                        f" committed offset {committed} before it was invoked",
                    )


@never_raises
def check_kafka(ops: list[Op], nodes: list[str]) -> Verdict:
    check = KafkaCheck()
    sends = [op for op in ops if op.f == "send"]
    polls = [op for op in ops if op.f == "poll" and op.type == OK]
    check.sends(sends)
    for op in polls:
        check.poll(op)
    listings = [op for op in ops if op.f == "list_committed_offsets" and op.type == OK]
    check.commits([op for op in ops if op.f == "commit_offsets" and op.type == OK], listings)
    counts = {category: 0 for category in CATEGORIES}
    for finding in check.findings:
        counts[finding.category] += 1
    acknowledged = sum(len(offsets) for offsets in check.acked.values())
    unobserved = sum(
        1
        for key, offsets in check.acked.items()
        for offset in offsets
        if offset not in check.polled.get(key, {})
    )
    details: dict[str, Any] = {
        "keys": len(check.attempted),
        "sends": {kind: sum(op.type == kind for op in sends) for kind in (OK, INFO, FAIL)},
        "polls_ok": len(polls),
        "acknowledged": acknowledged,
        "unobserved": unobserved,
        "findings": counts,
        "examples": {
            category: [finding.text for finding in check.findings if finding.category == category][
                :DETAILS_CAP
            ]
            for category in CATEGORIES
            if counts[category]
        },
    }
    if check.findings:
        first = min(
            check.findings, key=lambda finding: (CATEGORIES.index(finding.category), finding.op.index)
        )
        more = f" ({len(check.findings) - 1} more findings)" if len(check.findings) > 1 else ""
        return Verdict(False, f"{first.category.replace('_', ' ')}: {first.text}{more}", details)
    if not (acknowledged or polls or listings):
        return Verdict(
            "unknown", "no send, poll or list_committed_offsets completed ok: nothing to check", details
        )
    if acknowledged and not polls:
        return Verdict(
            "unknown", "no poll completed ok: cannot tell whether acknowledged sends were kept", details
        )
    return Verdict(True, None, details)

"""The unique-ids workload's checker: no two ok ``generate`` operations got the same id.

Ops: ``f`` "generate", ``value`` None, ``result`` the id (any JSON value). Ids are compared by their
canonical JSON (object keys sorted; ``1``, ``1.0``, ``"1"`` and ``true`` are four ids). Failed and
timed-out generates handed out no id the client saw and are ignored; a history without any ok generate
is "unknown".
"""

from __future__ import annotations

from typing import Any

from netsim.workloads.checkers.common import DETAILS_CAP, canonical, describe, never_raises, show
from netsim.workloads.history import OK, Op, Verdict


@never_raises
def check_unique_ids(ops: list[Op], nodes: list[str]) -> Verdict:
    holders: dict[Any, list[Op]] = {}
    for op in ops:
        if op.f == "generate" and op.type == OK:
            holders.setdefault(canonical(op.result), []).append(op)
    generated = sum(len(group) for group in holders.values())
    repeated = [group for group in holders.values() if len(group) > 1]
    details: dict[str, Any] = {
        "ids": generated,
        "distinct": len(holders),
        "duplicated_ids": len(repeated),
        "duplicates": [
            {"id": group[0].result, "count": len(group), "ops": [op.index for op in group[:DETAILS_CAP]]}
            for group in repeated[:DETAILS_CAP]
        ],
    }
    if repeated:
        group = repeated[0]
        holders_text = " and ".join(describe(op) for op in group[:2])
        if len(group) > 2:
            holders_text += f" and {len(group) - 2} more"
        more = f"; {len(repeated)} ids were handed out more than once" if len(repeated) > 1 else ""
        explanation = f"id {show(group[0].result)} was generated {len(group)} times: {holders_text}{more}"
        return Verdict(False, explanation, details)
    if not generated:
        return Verdict("unknown", "no generate completed ok: no id to compare", details)
    return Verdict(True, None, details)

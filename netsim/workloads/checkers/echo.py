"""The echo workload's checker: every echo that completed ok came back exactly as it was sent.

Ops: ``f`` "echo", ``value`` the payload sent, ``result`` the payload the ``echo_ok`` carried. Payloads
are compared as JSON values (see ``common.canonical``). Echoes that failed or timed out say nothing
about correctness and are ignored; a history without any ok echo is "unknown".
"""

from __future__ import annotations

from netsim.workloads.checkers.common import canonical, capped, describe, never_raises, show
from netsim.workloads.history import OK, Op, Verdict


@never_raises
def check_echo(ops: list[Op], nodes: list[str]) -> Verdict:
    echoes = [op for op in ops if op.f == "echo" and op.type == OK]
    altered = [op for op in echoes if canonical(op.result) != canonical(op.value)]
    details = {
        "echoes_ok": len(echoes),
        "altered": len(altered),
        "altered_ops": capped(op.index for op in altered),
    }
    if altered:
        first = altered[0]
        more = f" ({len(altered) - 1} more echoes came back altered)" if len(altered) > 1 else ""
        explanation = f"{describe(first)} sent {show(first.value)} but got {show(first.result)} back{more}"
        return Verdict(False, explanation, details)
    if not echoes:
        return Verdict("unknown", "no echo completed ok: nothing to compare", details)
    return Verdict(True, None, details)

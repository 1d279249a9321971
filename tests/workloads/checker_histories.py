"""Builds histories for the checker tests: operations are numbered in the order they are added, and
their times (in ms) are given or follow one another."""

from __future__ import annotations

from typing import Any

from netsim.workloads.history import Op

MS = 1_000_000


class History:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.clock_ms = 0

    def add(
        self,
        f: str,
        value: Any = None,
        result: Any = None,
        type: str = "ok",
        *,
        process: str = "c1",
        node: str = "n1",
        start: float | None = None,
        end: float | None = None,
        error: dict[str, Any] | None = None,
        final: bool = False,
    ) -> Op:
        """Appends one operation. Without ``start``, it begins after everything so far; without ``end``,
        it lasts 1 ms."""
        start_ms = self.clock_ms if start is None else start
        end_ms = start_ms + 1 if end is None else end
        self.clock_ms = max(self.clock_ms, end_ms + 1)
        op = Op(
            index=len(self.ops),
            process=process,
            node=node,
            f=f,
            value=value,
            type=type,  # type: ignore[arg-type]
            result=result,
            invoke_ns=round(start_ms * MS),
            complete_ns=round(end_ms * MS),
            error=error,
            final=final,
        )
        self.ops.append(op)
        return op

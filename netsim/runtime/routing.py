"""Forwarding a program's message to a node that is not its neighbour: routes and the envelope. Pure.

Maelstrom lets a program address any node; netsim's links are the topology's. A message to a node that
is not a neighbour is forwarded by netsim's node processes hop by hop along a shortest path of the
links between program nodes (``NodePlan.program_links``), so every hop crosses a real link with its
conditions and faults. Each node works out its own first hops once, by a breadth-first search from
itself (O(nodes + links)); among equally short paths the one through the lowest-indexed neighbour
wins, so routes are the same in every run.

On the wire a forwarded message is a netsim message whose type is the program's body type and whose
body is ``{"forward": {"src": ORIGIN, "dest": FINAL, "hops": N}, "body": BODY}``: it has no ``type``,
which every Maelstrom body has, so it cannot be mistaken for one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

FORWARD_KEY = "forward"
# Hops a forwarded message may take before it is dropped (traced): more than any shortest path in a
# run this size would need only if routes disagreed.
HOP_LIMIT = 64


def first_hops(source: int, links: Iterable[tuple[int, int]]) -> dict[int, int]:
    """For every node reachable from ``source`` over ``links``: the neighbour to send through."""
    adjacent: dict[int, list[int]] = {}
    for a, b in links:
        adjacent.setdefault(a, []).append(b)
        adjacent.setdefault(b, []).append(a)
    for neighbours in adjacent.values():
        neighbours.sort()
    hops: dict[int, int] = {}
    queue: deque[int] = deque()
    for neighbour in adjacent.get(source, ()):
        if neighbour != source and neighbour not in hops:
            hops[neighbour] = neighbour
            queue.append(neighbour)
    while queue:
        node = queue.popleft()
        for neighbour in adjacent[node]:
            if neighbour != source and neighbour not in hops:
                hops[neighbour] = hops[node]
                queue.append(neighbour)
    return hops


def wrap(src: str, dest: str, hops: int, body: Any) -> dict[str, Any]:
    return {FORWARD_KEY: {"src": src, "dest": dest, "hops": hops}, "body": body}


def unwrap(body: Any) -> tuple[str, str, int, Any] | None:
    """(origin, final destination, hops so far, the program's body) of a forwarded message; None for
    anything else (a direct message's body, or a malformed envelope)."""
    if not isinstance(body, dict) or "type" in body:
        return None
    envelope = body.get(FORWARD_KEY)
    if not isinstance(envelope, dict):
        return None
    src, dest, hops = envelope.get("src"), envelope.get("dest"), envelope.get("hops")
    if not (isinstance(src, str) and isinstance(dest, str) and isinstance(hops, int)):
        return None
    return src, dest, hops, body.get("body")

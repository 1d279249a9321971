"""Linearizability of one register's history: a search for an order of its operations that a single
register, executing them one at a time, would have produced, and that respects real time.

The search is Wing & Gong's, with Lowe's memoization (as in Porcupine): a depth-first search over
*configurations* (which operations are linearized so far, and the register's value), where the next
operation to linearize is any one not yet linearized that was invoked before every other pending
operation returned; each configuration is visited once. What makes it fit a register history:

* **Operations of unknown outcome** (``RegisterOp.return_ns`` None: info writes and cas) never return, so
  they never hold another operation back; they may take effect at any point after their invocation, or
  never. The search succeeds once every *required* operation (ok reads, writes and cas, reads that
  failed with key-does-not-exist) is linearized, and applies unknown ones only where they matter: as a
  *chain* right before a read or cas that needs a value the register does not hold, taking it there
  through values the chain has not held before (cas steps, or one write then cas steps). Nothing is
  lost: in any linearization, the unknown operations between two required ones matter only through the
  value they leave, so those before a write or after the last required operation can be dropped, as
  can those before the last write of a stretch and the part of a stretch between two visits of one
  value. Unknown operations with the same effect are interchangeable once invoked, so a chain uses the
  earliest one not yet used.
* **A read that can take effect now is taken at once**, without trying the alternatives: a read leaves
  the value as it was, and taking it first never violates real time (it was invoked before every
  pending operation returned), so any linearization that takes it later can take it now.
* **Dominance**: a configuration whose required operations and value equal those of one already
  visited, with a superset of unknown operations used, can do nothing the visited one could not (it has
  fewer left to use), so it is skipped.
* A configuration keeps its linearized operations as a window: the index of the first required
  operation (in invocation order) not yet linearized, and a bitmask of those after it. With a few
  clients the mask stays a few bits wide, so memoization costs a small tuple per configuration.

Before the search, a read or cas that needs a value no write or cas had been invoked to set before it
returned is reported at once, as stuck with no possible value. If no linearization exists, the *stuck*
operation is the latest-returning operation that some configuration waited on (the pending required
operation that returned first) and no configuration got past; the values the register held in the
configurations waiting on it are what it could hold when that operation had to take effect.
``max_states`` bounds the configurations visited (and the chains followed from one): beyond it the
answer is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from netsim.workloads.history import Op

READ = 0
WRITE = 1
CAS = 2

# The value id of a key that holds nothing (never written, or written null): callers intern values so.
ABSENT = 0


@dataclass(frozen=True, slots=True)
class RegisterOp:
    """One operation on the register, values as ids (``ABSENT`` for no value).

    ``kind`` READ: ``arg`` is the value read; WRITE: ``arg`` is the value written; CAS: ``arg`` -> ``arg2``.
    ``return_ns`` None: the outcome is unknown (it may take effect any time after invocation, or never).
    """

    op: Op
    kind: int
    arg: int
    arg2: int
    invoke_ns: int
    return_ns: int | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    linearizable: bool | Literal["unknown"]
    states_explored: int
    stuck: RegisterOp | None = None  # when not linearizable: the operation no linearization gets past
    possible_values: tuple[int, ...] = ()  # value ids the register could hold when `stuck` had to happen


def check_register(ops: list[RegisterOp], max_states: int = 1_000_000) -> SearchResult:
    """Searches for a linearization of ``ops`` on a register that starts ``ABSENT``."""
    if all(o.return_ns is None for o in ops):
        return SearchResult(True, 0)
    unwritten = needs_unwritten_value(ops)
    if unwritten is not None:
        return SearchResult(False, 0, unwritten)
    return RegisterSearch(ops, max_states).run()


class TooManyChains(Exception):
    """More partial chains of unknown-outcome operations to follow than the search's bound."""


class RegisterSearch:
    """One search: the operations as flat lists (the hot loop reads them by position), and the
    furthest point reached so far."""

    def __init__(self, ops: list[RegisterOp], max_states: int) -> None:
        by_invocation = sorted(ops, key=lambda o: (o.invoke_ns, o.op.index))
        self.required = [o for o in by_invocation if o.return_ns is not None]
        optional = [o for o in by_invocation if o.return_ns is None]
        self.max_states = max_states
        self.invoke = [o.invoke_ns for o in self.required]
        self.returns = [o.return_ns or 0 for o in self.required]
        self.kinds = [o.kind for o in self.required]
        self.args = [o.arg for o in self.required]
        self.args2 = [o.arg2 for o in self.required]
        self.optional_invoke = [o.invoke_ns for o in optional]
        self.effects = [(o.kind, o.arg, o.arg2) for o in optional]
        # The latest (return, position) a configuration waited on, and the values the register held in
        # the configurations that waited on it.
        self.furthest: tuple[int, int] = (-1, -1)
        self.furthest_values: set[int] = set()

    def run(self) -> SearchResult:
        n = len(self.required)
        # Memo: (base, window, value) -> the `used` masks visited with it (an int while there is one).
        visited: dict[tuple[int, int, int], int | list[int]] = {(0, 0, ABSENT): 0}
        explored = 1
        try:
            # Frames: [base, window, used, legal moves, how many tried].
            stack = [[0, 0, 0, self.moves(0, 0, 0, ABSENT), 0]]
            while stack:
                frame = stack[-1]
                base, window, used, legal, tried = frame
                if tried == len(legal):
                    stack.pop()
                    continue
                frame[4] = tried + 1
                move, chain, value = legal[tried]
                used |= chain
                window |= 1 << move
                # Slide the window past the operations now linearized at its start.
                ones = ((window + 1) & ~window).bit_length() - 1
                window >>= ones
                base += ones
                if base == n:
                    return SearchResult(True, explored)
                key = (base, window, value)
                seen = visited.get(key)
                if seen is None:
                    visited[key] = used
                elif isinstance(seen, int):
                    if seen & ~used == 0:
                        continue
                    visited[key] = [seen, used]
                else:
                    if any(mask & ~used == 0 for mask in seen):
                        continue
                    seen.append(used)
                explored += 1
                if explored > self.max_states:
                    return SearchResult("unknown", explored)
                stack.append([base, window, used, self.moves(base, window, used, value), 0])
        except TooManyChains:
            return SearchResult("unknown", explored)
        stuck = self.required[self.furthest[1]]
        return SearchResult(False, explored, stuck, tuple(sorted(self.furthest_values)))

    def moves(self, base: int, window: int, used: int, value: int) -> list[tuple[int, int, int]]:
        """The legal next steps from a configuration, as (required[base + offset] to linearize, mask of
        the unknown-outcome operations to apply just before it, value after)."""
        invoke, returns, kinds, args = self.invoke, self.returns, self.kinds, self.args
        # Scan the pending required operations in invocation order while they were invoked before the
        # earliest return among those scanned: later ones cannot lower that bound.
        horizon = returns[base]
        waiting_on = base
        candidates = []
        position = base
        while position < len(invoke) and invoke[position] <= horizon:
            if not (window >> (position - base)) & 1:
                if returns[position] < horizon:
                    horizon, waiting_on = returns[position], position
                candidates.append(position)
            position += 1
        mark = (returns[waiting_on], waiting_on)
        if mark > self.furthest:
            self.furthest, self.furthest_values = mark, {value}
        elif mark == self.furthest:
            self.furthest_values.add(value)

        legal = []
        wanting = []  # (position, the value it needs, the value after it) of reads and cas not legal now
        for position in candidates:
            kind, arg = kinds[position], args[position]
            if kind == WRITE:
                legal.append((position - base, 0, arg))
            elif arg == value:
                if kind == READ:
                    return [(position - base, 0, value)]
                legal.append((position - base, 0, self.args2[position]))
            else:
                wanting.append((position, arg, arg if kind == READ else self.args2[position]))
        if wanting and self.effects:
            writes, cas_from = self.available(horizon, used)
            if writes or cas_from:
                for position, needed, after in wanting:
                    found = chains(value, needed, writes, cas_from, self.max_states)
                    if found is None:
                        raise TooManyChains
                    legal.extend((position - base, mask, after) for mask in found)
        return legal

    def available(self, horizon: int, used: int) -> tuple[dict[int, int], dict[int, dict[int, int]]]:
        """The unknown-outcome operations that may take effect by ``horizon``, the earliest unused one
        of each effect: writes as value -> index, cas as from -> to -> index."""
        writes: dict[int, int] = {}
        cas_from: dict[int, dict[int, int]] = {}
        for index, invoke_ns in enumerate(self.optional_invoke):
            if invoke_ns > horizon:
                break
            if (used >> index) & 1:
                continue
            kind, arg, arg2 = self.effects[index]
            if kind == WRITE:
                writes.setdefault(arg, index)
            else:
                cas_from.setdefault(arg, {}).setdefault(arg2, index)
        return writes, cas_from


def needs_unwritten_value(ops: list[RegisterOp]) -> RegisterOp | None:
    """The first-returning read or cas that needs a value no write or cas had been invoked to set
    before it returned, if any: it is stuck however the search goes, and the search, which would have
    to try every order before it could tell, is spared (garbage read from a wrong key, say)."""
    first_set_ns: dict[int, int] = {ABSENT: -1}
    for o in ops:
        if o.kind != READ:
            produced = o.arg if o.kind == WRITE else o.arg2
            first_set_ns[produced] = min(first_set_ns.get(produced, o.invoke_ns), o.invoke_ns)
    unset = [
        o
        for o in ops
        if o.return_ns is not None
        and o.kind != WRITE
        and first_set_ns.get(o.arg, o.return_ns + 1) > o.return_ns
    ]
    return min(unset, key=lambda o: (o.return_ns or 0, o.op.index)) if unset else None


def chains(
    start: int, target: int, writes: dict[int, int], cas_from: dict[int, dict[int, int]], limit: int
) -> list[int] | None:
    """Every simple chain of unknown-outcome operations that takes the register from ``start`` to
    ``target``, as a mask of their indices: cas steps, or one write then cas steps, through values the
    chain has not held before (a chain that comes back to a value contains a shorter one). None if
    there are more than ``limit`` partial chains to follow."""
    found = []
    # Paths still to extend: (value reached, mask so far, values held so far).
    paths = [(start, 0, frozenset((start,)))]
    paths.extend(
        (value, 1 << index, frozenset((start, value))) for value, index in writes.items() if value != start
    )
    while paths:
        limit -= 1
        if limit < 0:
            return None
        value, mask, held = paths.pop()
        if value == target:
            found.append(mask)
            continue
        for after, index in cas_from.get(value, {}).items():
            if after not in held:
                paths.append((after, mask | 1 << index, held | {after}))
    return found

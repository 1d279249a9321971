"""A node's one timer queue: the app's timers and netsim's own callbacks, in one heap by deadline.

Pure: no clock is read here and nothing is called. The node says what time it is (``pop_due(now_ns)``)
and fires what comes out. Two kinds share the heap and stay apart otherwise:

* an app's timer (``ctx.set_timer``) has a positive id, which the app may cancel; the node drops the
  app's timers when the run stops the app (``on_stop``, ``clear_app_timers``; not at ``ctx.stop()``,
  after which a node keeps serving), and a node with one is not idle;
* netsim's own callback (a reconnect, a hello's deadline, resuming accept) has a negative id and cannot
  be cancelled, so an app's ``cancel_timer`` never reaches one, and the app's ids stay 1, 2, 3...
  whatever netsim scheduled in between.

Equal deadlines fire in the order they were set, whatever their kind. A cancelled timer stays in the
heap until it reaches the top, where it is thrown away: the top of the heap is always live, so the next
deadline is one look.
"""

from __future__ import annotations

import heapq
from typing import Any


class TimerQueue:
    def __init__(self) -> None:
        # (deadline_ns, order, timer_id): ``order`` rises with every timer set, so ties keep their order.
        # The event loop reads it every turn, without a call: empty when no timer is live, and its top
        # (``heap[0][0]``) is the next deadline. The list is never replaced.
        self.heap: list[tuple[int, int, int]] = []
        self._targets: dict[int, Any] = {}  # live timer id -> what it fires
        self._order = 0
        self._last_app_id = 0
        self._last_callback_id = 0
        self.app_timers = 0  # how many of the app's timers are live

    def __bool__(self) -> bool:
        """True while any timer of either kind is live (as is ``heap``)."""
        return bool(self.heap)

    def __len__(self) -> int:
        return len(self._targets)

    def set_timer(self, deadline_ns: int, target: Any) -> int:
        """An app's timer; returns its id (1, 2, 3... in the order they were set)."""
        self._last_app_id += 1
        self.app_timers += 1
        return self._push(deadline_ns, self._last_app_id, target)

    def call_at(self, deadline_ns: int, callback: Any) -> int:
        """One of netsim's own callbacks; returns its id (-1, -2, -3...)."""
        self._last_callback_id -= 1
        return self._push(deadline_ns, self._last_callback_id, callback)

    def _push(self, deadline_ns: int, timer_id: int, target: Any) -> int:
        self._order += 1
        heapq.heappush(self.heap, (deadline_ns, self._order, timer_id))
        self._targets[timer_id] = target
        return timer_id

    def cancel(self, timer_id: int) -> None:
        """Forget an app's timer; an id that has fired, was cancelled or never was is ignored, and so is
        the id of one of netsim's callbacks (no app may cancel those)."""
        # Membership first: an app may pass anything, and only an id that is here is compared.
        if timer_id in self._targets and timer_id > 0:
            del self._targets[timer_id]
            self.app_timers -= 1
            self._drop_cancelled()

    def next_deadline_ns(self) -> int | None:
        """When the earliest live timer is due, or None if there is none."""
        heap = self.heap
        return heap[0][0] if heap else None

    def pop_due(self, now_ns: int) -> tuple[int, Any] | None:
        """The earliest timer due at ``now_ns`` as (id, target), taken out of the queue; None if none is.

        The caller fires it before asking again, so a timer set meanwhile comes out in its turn too, if
        it is due by ``now_ns``.
        """
        heap = self.heap
        if not heap or heap[0][0] > now_ns:
            return None
        _, _, timer_id = heapq.heappop(heap)
        target = self._targets.pop(timer_id)
        if timer_id > 0:
            self.app_timers -= 1
        self._drop_cancelled()
        return timer_id, target

    def clear_app_timers(self) -> None:
        """Drop every app timer (the app has stopped); netsim's own callbacks stay."""
        self._targets = {timer_id: target for timer_id, target in self._targets.items() if timer_id < 0}
        self.heap[:] = [entry for entry in self.heap if entry[2] in self._targets]
        heapq.heapify(self.heap)
        self.app_timers = 0

    def _drop_cancelled(self) -> None:
        heap = self.heap
        targets = self._targets
        while heap and heap[0][2] not in targets:
            heapq.heappop(heap)

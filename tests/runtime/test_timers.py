"""The node's one timer queue, on its own: deadlines come in as numbers, nothing reads a clock."""

from __future__ import annotations

from typing import Any

from netsim.runtime.timers import TimerQueue


def drain(queue: TimerQueue, now_ns: int) -> list[Any]:
    """Every target due at ``now_ns``, in the order the queue gives them."""
    fired = []
    while (due := queue.pop_due(now_ns)) is not None:
        fired.append(due[1])
    return fired


def test_timers_fire_by_deadline_whatever_the_order_they_were_set_in() -> None:
    queue = TimerQueue()
    queue.set_timer(300, "c")
    queue.call_at(100, "a")
    queue.set_timer(200, "b")
    assert drain(queue, 1_000) == ["a", "b", "c"]
    assert not queue and len(queue) == 0


def test_only_what_is_due_fires() -> None:
    queue = TimerQueue()
    queue.set_timer(100, "due")
    queue.set_timer(101, "later")
    assert drain(queue, 100) == ["due"]  # a deadline equal to now is due
    assert queue.next_deadline_ns() == 101 and len(queue) == 1
    assert queue.pop_due(100) is None
    assert drain(queue, 101) == ["later"]


def test_equal_deadlines_fire_in_the_order_they_were_set_whatever_their_kind() -> None:
    queue = TimerQueue()
    for index, kind in enumerate("aacaca"):
        if kind == "a":
            queue.set_timer(500, index)
        else:
            queue.call_at(500, index)
    assert drain(queue, 500) == [0, 1, 2, 3, 4, 5]


def test_app_timers_and_callbacks_have_ids_of_their_own() -> None:
    queue = TimerQueue()
    assert [queue.set_timer(10, "t"), queue.call_at(10, "c"), queue.set_timer(10, "t")] == [1, -1, 2]
    assert queue.call_at(10, "c") == -2
    assert queue.pop_due(10) == (1, "t")
    assert queue.pop_due(10) == (-1, "c")


def test_a_cancelled_timer_never_fires_and_the_next_deadline_skips_it() -> None:
    queue = TimerQueue()
    first = queue.set_timer(100, "first")
    queue.set_timer(200, "second")
    middle = queue.set_timer(150, "middle")
    queue.cancel(middle)
    queue.cancel(first)
    assert queue.next_deadline_ns() == 200 and len(queue) == 1 and queue.app_timers == 1
    assert drain(queue, 1_000) == ["second"]
    assert queue.next_deadline_ns() is None and queue.app_timers == 0


def test_cancelling_a_fired_an_unknown_or_a_cancelled_id_changes_nothing() -> None:
    queue = TimerQueue()
    fired = queue.set_timer(100, "fired")
    assert drain(queue, 100) == ["fired"]
    waiting = queue.set_timer(300, "waiting")
    queue.cancel(fired)
    queue.cancel(12345)
    queue.cancel(None)  # type: ignore[arg-type] - an app may pass anything
    queue.cancel(waiting)
    queue.cancel(waiting)
    assert len(queue) == 0 and queue.app_timers == 0 and queue.next_deadline_ns() is None
    assert queue.set_timer(400, "next") == 3  # ids are never reused


def test_netsims_callbacks_cannot_be_cancelled() -> None:
    queue = TimerQueue()
    callback = queue.call_at(100, "reconnect")
    queue.cancel(callback)
    assert drain(queue, 100) == ["reconnect"]


def test_next_deadline_is_the_earliest_live_one() -> None:
    queue = TimerQueue()
    assert queue.next_deadline_ns() is None
    queue.set_timer(300, "t")
    assert queue.next_deadline_ns() == 300
    queue.call_at(200, "c")
    assert queue.next_deadline_ns() == 200
    queue.set_timer(250, "t")
    assert queue.next_deadline_ns() == 200


def test_a_timer_set_while_due_timers_run_fires_in_the_same_pass_only_if_due() -> None:
    queue = TimerQueue()
    queue.set_timer(100, "first")
    queue.set_timer(150, "second")
    fired = []
    now_ns = 200
    while (due := queue.pop_due(now_ns)) is not None:
        target = due[1]
        fired.append(target)
        if target == "first":
            # As an app's on_timer would: one due now, one later, one ahead of what is waiting.
            queue.set_timer(now_ns + 1, "later")
            queue.set_timer(now_ns, "now")
            queue.call_at(120, "overdue")
    assert fired == ["first", "overdue", "second", "now"]
    assert queue.next_deadline_ns() == 201 and len(queue) == 1


def test_clearing_the_app_timers_keeps_netsims_callbacks() -> None:
    queue = TimerQueue()
    queue.set_timer(100, "app")
    queue.call_at(300, "reconnect")
    queue.set_timer(200, "app")
    queue.cancel(queue.set_timer(50, "cancelled"))
    heap = queue.heap
    queue.clear_app_timers()
    assert queue.app_timers == 0 and len(queue) == 1 and queue.next_deadline_ns() == 300
    assert queue.heap is heap and heap[0][0] == 300  # the event loop holds on to the list
    assert drain(queue, 1_000) == ["reconnect"]


def test_the_count_of_app_timers_follows_sets_fires_and_cancels() -> None:
    queue = TimerQueue()
    ids = [queue.set_timer(deadline, "t") for deadline in (10, 20, 30)]
    queue.call_at(5, "c")
    assert queue.app_timers == 3
    queue.cancel(ids[1])
    assert queue.app_timers == 2
    assert drain(queue, 10) == ["c", "t"]
    assert queue.app_timers == 1 and bool(queue)

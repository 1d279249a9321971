"""The shaper's decisions, one message at a time, with no sockets and no clock."""

from __future__ import annotations

import math

from netsim.shaping.conditions import Conditions
from netsim.shaping.shaper import DRAW_BITS, DROP_LOSS, DROP_PARTITION, DROP_QUEUE, LinkShaper

MS = 1_000_000


def shaper(ordered: bool = True, seed: str = "1:a->b", **conditions) -> LinkShaper:
    return LinkShaper(Conditions(**conditions), seed=seed, ordered=ordered)


def test_latency_delays_every_message_by_exactly_the_latency():
    link = shaper(latency_ns=50 * MS)
    verdict = link.decide(1_000, 100)
    assert verdict.drop is None and verdict.release_ns == (1_000 + 50 * MS,) and verdict.delay_ns == 50 * MS


def test_loss_rate_and_same_seed_same_drops():
    def drops(seed: str) -> list[int]:
        link = shaper(seed=seed, loss=0.3)
        return [i for i in range(2000) if link.decide(i, 100).drop == DROP_LOSS]

    first = drops("7:a->b")
    # 2000 draws at p=0.3: mean 600, sd 20.5; a 5-sigma band cannot fail by chance.
    assert abs(len(first) - 600) < 5 * math.sqrt(2000 * 0.3 * 0.7)
    assert drops("7:a->b") == first
    assert drops("8:a->b") != first


def test_jitter_stays_within_its_band_and_streams_stay_in_order():
    link = shaper(latency_ns=10 * MS, jitter_ns=5 * MS, ordered=True)
    releases = [link.decide(i * 1000, 100).release_ns[0] for i in range(500)]
    assert releases == sorted(releases), "a stream link never reorders"
    datagram = shaper(latency_ns=10 * MS, jitter_ns=5 * MS, ordered=False)
    delays = [datagram.decide(0, 100).delay_ns for _ in range(500)]
    assert min(delays) >= 5 * MS and max(delays) <= 15 * MS
    assert max(delays) - min(delays) > 8 * MS, "jitter actually varies the delay"


def test_bandwidth_serializes_messages_one_after_another():
    link = shaper(bandwidth_bps=8_000_000)  # 1 byte per microsecond
    first, second = link.decide(0, 1000), link.decide(0, 1000)
    assert first.release_ns == (1_000_000,)
    assert second.release_ns == (2_000_000,), "the second waits for the first to leave the wire"
    later = link.decide(10_000_000, 1000)
    assert later.release_ns == (11_000_000,), "an idle wire does not carry debt"


def test_queue_limit_drops_what_does_not_fit_and_frees_on_release():
    link = shaper(latency_ns=MS, queue_messages=2)
    assert link.decide(0, 10).drop is None
    assert link.decide(0, 10).drop is None
    assert link.decide(0, 10).drop == DROP_QUEUE
    link.released(10)
    assert link.decide(0, 10).drop is None
    by_bytes = shaper(latency_ns=MS, queue_bytes=250)
    assert [by_bytes.decide(0, 100).drop for _ in range(3)] == [None, None, DROP_QUEUE]


def test_duplicates_and_reordering():
    duplicating = shaper(latency_ns=MS, duplicate=1.0)
    verdict = duplicating.decide(0, 10)
    assert verdict.duplicated and len(verdict.release_ns) == 2
    reordering = shaper(latency_ns=MS, reorder=1.0, ordered=False)
    held_back = reordering.decide(0, 10)
    assert held_back.reordered and held_back.delay_ns == 2 * MS
    normal = shaper(latency_ns=MS, ordered=False).decide(0, 10)
    assert normal.release_ns[0] < held_back.release_ns[0], "a later message can overtake a held-back one"


def test_a_blocked_link_drops_everything_until_unblocked():
    link = shaper()
    link.block(DROP_PARTITION)
    assert link.decide(0, 10).drop == DROP_PARTITION
    link.block("link-down")
    link.unblock(DROP_PARTITION)
    assert link.decide(0, 10).drop == "link-down"
    link.unblock("link-down")
    assert link.decide(0, 10).drop is None


def test_every_message_draws_the_same_randomness_whatever_the_settings():
    # Same seed, different loss settings: the duplicate decisions line up message for message.
    a = shaper(seed="s", duplicate=0.5)
    b = shaper(seed="s", duplicate=0.5, loss=0.0001, jitter_ns=1)
    assert [a.decide(0, 1).duplicated for _ in range(200)] == [b.decide(0, 1).duplicated for _ in range(200)]


def test_instant_links_admit_what_decide_would_send_at_once():
    admitting = shaper(seed="s", loss=0.3, queue_messages=10)
    deciding = shaper(seed="s", loss=0.3, queue_messages=10)
    assert admitting.instant and deciding.instant
    admitted = [admitting.admit(100) for _ in range(1000)]
    verdicts = []
    for i in range(1000):
        verdicts.append(deciding.decide(i, 100))
        if verdicts[-1].drop is None:
            deciding.released(100)  # the node sends it at once
    assert admitted == [verdict.drop for verdict in verdicts]
    assert 200 < admitted.count("loss") < 400
    assert all(v.release_ns == (i,) for i, v in enumerate(verdicts) if v.drop is None), "sent at once"
    assert admitting.waiting_messages == 0, "admit counts nothing as waiting"


def test_a_link_is_instant_only_while_it_delays_nothing():
    assert shaper().instant and shaper(loss=0.5, queue_bytes=10).instant
    for delaying in ({"latency_ns": 1}, {"jitter_ns": 1}, {"bandwidth_bps": 1e6}, {"reorder": 0.1}):
        assert not shaper(**delaying).instant, delaying
    assert not shaper(duplicate=0.1).instant
    link = shaper(loss=0.1)
    link.conditions = Conditions(latency_ns=MS)
    assert not link.instant and link.decide(0, 10).delay_ns == MS
    link.conditions = Conditions(loss=1.0)
    assert link.instant and link.admit(10) == DROP_LOSS


def test_admit_drops_on_a_blocked_link_and_a_full_queue():
    link = shaper(queue_messages=0)
    assert link.admit(10) == DROP_QUEUE
    open_link = shaper()
    open_link.block(DROP_PARTITION)
    assert open_link.admit(10) == DROP_PARTITION
    open_link.unblock(DROP_PARTITION)
    assert open_link.admit(10) is None
    # With nothing waiting, a queue refuses only when it holds nothing or the message outgrows it.
    assert [shaper(queue_messages=1).admit(10) for _ in range(3)] == [None] * 3
    by_bytes = shaper(queue_bytes=100)
    assert by_bytes.admit(100) is None and by_bytes.admit(101) == DROP_QUEUE


def test_a_link_that_admits_all_takes_the_same_draws_as_admit():
    assert shaper().admits_all and shaper(queue_messages=10).admits_all
    for refusing in ({"loss": 0.1}, {"queue_messages": 0}, {"queue_bytes": 1000}):
        assert not shaper(**refusing).admits_all, refusing
    link = shaper(seed="s", queue_messages=10)
    link.block(DROP_PARTITION)
    assert not link.admits_all and link.admit(10) == DROP_PARTITION
    link.unblock(DROP_PARTITION)
    assert link.admits_all
    # The caller's shortcut (draw, no admit) leaves the generator where admit would have.
    admitting = shaper(seed="s", queue_messages=10)
    admitting.admit(10)
    for _ in range(100):
        link.draw(DRAW_BITS)
        assert admitting.admit(10) is None
    assert link.rng.getstate() == admitting.rng.getstate()

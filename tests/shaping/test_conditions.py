"""Link condition values as users write them, and the errors for values that cannot be used."""

from __future__ import annotations

import pytest

from netsim.errors import ConditionError
from netsim.shaping.conditions import (
    Conditions,
    geo_latency_ns,
    link_conditions,
    parse_bandwidth_bps,
    parse_duration_ns,
    parse_probability,
    parse_queue,
    split_directions,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (50, 50_000_000),
        (0.5, 500_000),
        ("50ms", 50_000_000),
        ("1.5s", 1_500_000_000),
        ("250us", 250_000),
        ("7", 7_000_000),
    ],
)
def test_durations(value, expected):
    assert parse_duration_ns(value) == expected


@pytest.mark.parametrize("value", [-1, "fast", "10 parsecs", True, float("nan")])
def test_bad_durations(value):
    with pytest.raises(ConditionError):
        parse_duration_ns(value)


@pytest.mark.parametrize(
    ("value", "bps"),
    [
        ("10Mbit", 10e6),
        ("512kbit", 512e3),
        ("1Gbit", 1e9),
        ("100Mbps", 100e6),
        ("2MB/s", 16e6),
        (8000, 8000.0),
    ],
)
def test_bandwidths(value, bps):
    assert parse_bandwidth_bps(value) == bps


@pytest.mark.parametrize("value", ["0Mbit", "fast", -5, "10 furlongs"])
def test_bad_bandwidths(value):
    with pytest.raises(ConditionError):
        parse_bandwidth_bps(value)


def test_queues_are_messages_or_bytes():
    assert parse_queue(100) == (100, None)
    assert parse_queue("100") == (100, None)
    assert parse_queue("64KB") == (None, 64_000)
    assert parse_queue("1MiB") == (None, 1024 * 1024)
    for bad in (0, "-3", "lots"):
        with pytest.raises(ConditionError):
            parse_queue(bad)


def test_probabilities():
    assert parse_probability("0.25") == 0.25
    for bad in (1.5, -0.1, "half", True):
        with pytest.raises(ConditionError):
            parse_probability(bad)


def test_direction_specific_values():
    assert split_directions("10/50") == ("10", "50")
    assert split_directions("2MB/s") == ("2MB/s", "2MB/s")
    assert split_directions("1MB/s/2MB/s") == ("1MB/s", "2MB/s")
    forward, backward = link_conditions(
        {"latency_ms": "10/50", "loss": 0.1}, {}, datagram=True, a_attrs={}, b_attrs={}
    )
    assert (forward.latency_ns, backward.latency_ns) == (10_000_000, 50_000_000)
    assert forward.loss == backward.loss == 0.1


def test_edge_attributes_override_defaults():
    forward, _ = link_conditions(
        {"latency_ms": 5}, {"latency": "100ms", "jitter_ms": 2}, datagram=False, a_attrs={}, b_attrs={}
    )
    assert forward == Conditions(latency_ns=5_000_000, jitter_ns=2_000_000)


def test_reorder_is_for_datagram_links_only():
    with pytest.raises(ConditionError, match="datagram transports only"):
        link_conditions({"reorder": 0.1}, {}, datagram=False, a_attrs={}, b_attrs={})
    # A run-wide default reorder simply does not apply to stream links.
    forward, _ = link_conditions({}, {"reorder": 0.1}, datagram=False, a_attrs={}, b_attrs={})
    assert forward.reorder == 0.0
    forward, _ = link_conditions({}, {"reorder": 0.1}, datagram=True, a_attrs={}, b_attrs={})
    assert forward.reorder == 0.1


def test_geo_latency_is_great_circle_at_two_thirds_of_c():
    new_york = {"Latitude": 40.71427, "Longitude": -74.00597}
    chicago = {"Latitude": 41.85003, "Longitude": -87.65005}
    # 1,145 km at 199,862 km/s
    assert geo_latency_ns(new_york, chicago) == pytest.approx(5.73e6, rel=0.01)
    forward, backward = link_conditions(
        {"latency": "geo"}, {}, datagram=False, a_attrs=new_york, b_attrs=chicago
    )
    assert forward.latency_ns == backward.latency_ns == geo_latency_ns(new_york, chicago)
    with pytest.raises(ConditionError, match="Latitude and Longitude"):
        geo_latency_ns(new_york, {})

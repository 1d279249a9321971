"""Link condition values and run durations have bounds: finite, in range, and within the trace's int64."""

from __future__ import annotations

import math

import pytest

from netsim.errors import ConditionError
from netsim.shaping.conditions import (
    MAX_BANDWIDTH_BPS,
    MAX_DELAY_NS,
    MAX_QUEUE_BYTES,
    MAX_QUEUE_MESSAGES,
    MAX_RUN_S,
    MAX_STARTUP_TIMEOUT_S,
    MIN_BANDWIDTH_BPS,
    check_condition,
    geo_latency_ns,
    link_conditions,
    parse_bandwidth_bps,
    parse_duration_ns,
    parse_probability,
    parse_queue,
    parse_seconds,
)

INT64_MAX = 2**63 - 1


def test_the_bounds_fit_the_trace() -> None:
    assert MAX_DELAY_NS == 86_400 * 10**9
    # Latency, jitter and a reorder's extra latency together, on top of a run's longest time.
    assert 3 * MAX_DELAY_NS + MAX_RUN_S * 10**9 < INT64_MAX // 4
    # The largest frame (16 MiB) at the lowest bandwidth stays within int64 nanoseconds.
    assert 16 * 2**20 * 8 / MIN_BANDWIDTH_BPS * 1e9 < INT64_MAX
    assert MAX_STARTUP_TIMEOUT_S * 1000 < 2**31 - 1, "poll() takes a C int of milliseconds"


@pytest.mark.parametrize(
    "value",
    [1e308, "1e308", "1e30ms", 10**400, "9" * 5000, math.inf, "86400.001s", 86_400_001],
)
def test_delays_past_a_day_are_refused(value) -> None:
    with pytest.raises(ConditionError, match="from 0 to 86400 s"):
        parse_duration_ns(value)


def test_a_day_is_accepted_and_fault_times_go_further() -> None:
    assert parse_duration_ns("86400s") == MAX_DELAY_NS
    assert parse_duration_ns(86_400_000) == MAX_DELAY_NS
    assert parse_duration_ns("1e9", default_unit="s", maximum_ns=MAX_RUN_S * 10**9) == MAX_RUN_S * 10**9
    with pytest.raises(ConditionError, match="about 31.7 years"):
        parse_duration_ns("1e300s", maximum_ns=MAX_RUN_S * 10**9)


@pytest.mark.parametrize(
    "value", [10**400, float("nan"), math.inf, "0.5bit", "9" * 400 + "Gbit", 1e16, 0, "0.9bps"]
)
def test_bandwidths_out_of_range_are_refused(value) -> None:
    with pytest.raises(ConditionError, match="from 1 bit/s to 1 Pbit/s"):
        parse_bandwidth_bps(value)


def test_bandwidth_limits_are_accepted() -> None:
    assert parse_bandwidth_bps("1bit") == MIN_BANDWIDTH_BPS
    assert parse_bandwidth_bps(1e15) == MAX_BANDWIDTH_BPS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10**30, "at most 1000000000 messages"),
        ("9" * 5000, "at most 1000000000 messages"),
        (1e300, "at most 1000000000 messages"),
        ("9" * 5000 + "KiB", "at most 1 TiB"),
        ("1025GiB", "at most 1 TiB"),
        ("²", "expected a queue size"),
        (math.nan, "expected a queue size"),
    ],
)
def test_queues_out_of_range_are_refused(value, expected) -> None:
    with pytest.raises(ConditionError, match=expected):
        parse_queue(value)


def test_queue_limits_are_accepted() -> None:
    assert parse_queue(MAX_QUEUE_MESSAGES) == (MAX_QUEUE_MESSAGES, None)
    assert parse_queue("1024GiB") == (None, MAX_QUEUE_BYTES)
    assert parse_queue("2KB") == (None, 2000)


def test_a_huge_integer_probability_is_an_error_not_an_overflow() -> None:
    with pytest.raises(ConditionError, match="a number of 401 digits"):
        parse_probability(10**400)
    with pytest.raises(ConditionError, match="a number of over 4,300 digits"):
        parse_probability(10**5000)


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(math.nan, 0), (math.inf, 0), (91, 0), (0, -180.5), (0, 1e308), (True, 0)]
)
def test_geo_needs_coordinates_in_range(latitude, longitude) -> None:
    with pytest.raises(ConditionError, match="latency 'geo' needs a"):
        geo_latency_ns({"Latitude": latitude, "Longitude": longitude}, {"Latitude": 0, "Longitude": 0})


@pytest.mark.parametrize(
    ("value", "maximum"),
    [
        (math.nan, MAX_RUN_S),
        (math.inf, MAX_RUN_S),
        (-1, MAX_RUN_S),
        (0, MAX_RUN_S),
        (10**400, MAX_RUN_S),
        (MAX_RUN_S + 1, MAX_RUN_S),
        (86_401, MAX_STARTUP_TIMEOUT_S),
        ("5", MAX_RUN_S),
        (True, MAX_RUN_S),
        (None, MAX_RUN_S),
    ],
)
def test_run_durations_must_be_positive_and_bounded(value, maximum) -> None:
    with pytest.raises(ConditionError, match="must be"):
        parse_seconds(value, maximum_s=maximum)


def test_run_durations_within_bounds() -> None:
    assert parse_seconds(1e-9) == 1e-9
    assert parse_seconds(MAX_RUN_S) == MAX_RUN_S
    assert parse_seconds(30) == 30.0


def test_a_default_is_checked_on_its_own() -> None:
    check_condition("latency", "geo")
    check_condition("latency", "10/50")
    check_condition("reorder", "0.5")
    for key, value in [("latency", "10/1e300"), ("reorder", "-1"), ("queue", "0"), ("jitter_ms", "nan")]:
        with pytest.raises(ConditionError):
            check_condition(key, value)


def test_an_error_quotes_a_long_value_by_its_length() -> None:
    with pytest.raises(ConditionError) as caught:
        link_conditions({"latency_ms": "9" * 5000}, {}, datagram=False, a_attrs={}, b_attrs={})
    assert len(str(caught.value)) < 200
    assert "5000 characters" in str(caught.value)

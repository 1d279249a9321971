"""Link conditions: what a topology's edge (or a ``netsim run`` default) says about one link.

Attribute names and values (edge attributes, and ``--latency`` ... flags for links that have none):

    latency_ms   number >= 0, or "geo" (from the nodes' Latitude/Longitude); ``latency`` is an alias
                 that also takes "50ms", "1.5s"
    jitter_ms    number >= 0: each message's delay varies uniformly within +-jitter
    loss         probability 0..1 that a message is dropped
    bandwidth    "10Mbit", "512kbit", "1Gbit", "2MB/s" or a number of bits per second
    queue        most messages ("100") or bytes ("64KB") waiting on the link; beyond it, drop
    duplicate    probability 0..1 that a message is delivered twice
    reorder      probability 0..1 that a message is held back so later ones overtake it
                 (datagram transports only: a stream is one ordered byte sequence, and even a
                 seqpacket socket delivers in order, so there is nothing to overtake on them)

A value applies to both directions. ``"A/B"`` (a string) gives the edge's first node's direction
(a->b) the value A and the other (b->a) the value B, e.g. ``latency_ms: "10/50"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

CONDITION_KEYS: tuple[str, ...] = (
    "latency_ms",
    "latency",
    "jitter_ms",
    "loss",
    "bandwidth",
    "queue",
    "duplicate",
    "reorder",
)

# Light in optical fibre travels at about two thirds of c.
FIBRE_KM_PER_MS = 299_792.458 * 2 / 3 / 1000
EARTH_RADIUS_KM = 6371.0


class ConditionError(ValueError):
    """A condition value that cannot be used; the caller adds where it was found."""


@dataclass(frozen=True, slots=True)
class Conditions:
    """What one direction of one link does to the messages that cross it."""

    latency_ns: int = 0
    jitter_ns: int = 0
    loss: float = 0.0
    bandwidth_bps: float | None = None
    queue_messages: int | None = None
    queue_bytes: int | None = None
    duplicate: float = 0.0
    reorder: float = 0.0

    @property
    def shaped(self) -> bool:
        """False when messages pass untouched (netsim then skips the shaper entirely)."""
        return self != NO_CONDITIONS

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ns / 1e6,
            "jitter_ms": self.jitter_ns / 1e6,
            "loss": self.loss,
            "bandwidth_bps": self.bandwidth_bps,
            "queue_messages": self.queue_messages,
            "queue_bytes": self.queue_bytes,
            "duplicate": self.duplicate,
            "reorder": self.reorder,
        }


NO_CONDITIONS = Conditions()


def split_directions(value: Any) -> tuple[Any, Any]:
    """``"A/B"`` -> (A, B); anything else applies to both directions. A "/s" unit stays with its number."""
    if not isinstance(value, str) or "/" not in value:
        return value, value
    parts: list[str] = []
    for token in value.split("/"):
        if token.strip() == "s" and parts:
            parts[-1] += "/s"
        else:
            parts.append(token.strip())
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ConditionError(f"expected one value, or two as 'a->b/b->a', got {value!r}")


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s)?\s*$")
_DURATION_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, None: 1_000_000}


def parse_duration_ns(value: Any, *, default_unit: str = "ms") -> int:
    """A non-negative duration: a number in ``default_unit`` or a string such as "50ms", "1.5s"."""
    if isinstance(value, bool):
        raise ConditionError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = float(value), default_unit
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConditionError(f"expected a duration such as 50ms or 1.5s, got {value!r}")
        number, unit = float(match.group(1)), match.group(2) or default_unit
    if not math.isfinite(number) or number < 0:
        raise ConditionError(f"a duration must be >= 0, got {value!r}")
    return round(number * _DURATION_NS[unit])


def parse_probability(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConditionError(f"expected a probability from 0 to 1, got {value!r}") from None
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ConditionError(f"expected a probability from 0 to 1, got {value!r}")
    return number


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)(bit|bps|b/s|B/s|Bps|B)?\s*$")
_PREFIX = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_bandwidth_bps(value: Any) -> float:
    """Bits per second from "10Mbit", "512kbit", "1Gbit", "2MB/s", "100Mbps" or a number (bits/s)."""
    if isinstance(value, bool):
        raise ConditionError(f"expected a bandwidth such as 10Mbit, got {value!r}")
    if isinstance(value, (int, float)):
        rate = float(value)
    else:
        match = _RATE.match(str(value))
        if not match:
            raise ConditionError(f"expected a bandwidth such as 10Mbit, 512kbit or 2MB/s, got {value!r}")
        number, prefix, unit = float(match.group(1)), match.group(2).lower(), match.group(3) or "bit"
        bytes_unit = unit in ("B/s", "Bps", "B")
        rate = number * _PREFIX[prefix] * (8 if bytes_unit else 1)
    if not math.isfinite(rate) or rate <= 0:
        raise ConditionError(f"a bandwidth must be > 0, got {value!r}")
    return rate


_SIZE = re.compile(r"^\s*([0-9]+)\s*([kKmMgG]?)(i?B)\s*$")


def parse_queue(value: Any) -> tuple[int | None, int | None]:
    """(messages, bytes): "100" or 100 is a message count; "64KB" / "1MiB" is bytes."""
    if isinstance(value, bool):
        raise ConditionError(f"expected a queue size such as 100 or 64KB, got {value!r}")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ConditionError(
                f"expected a queue size such as 100 (messages) or 64KB (bytes), got {value!r}"
            )
        number, prefix, unit = int(match.group(1)), match.group(2).lower(), match.group(3)
        scale = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3} if unit == "iB" else _PREFIX
        size = int(number * scale[prefix])
        if size <= 0:
            raise ConditionError(f"a queue must hold at least 1 byte, got {value!r}")
        return None, size
    if count <= 0:
        raise ConditionError(f"a queue must hold at least 1 message, got {value!r}")
    return count, None


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a spherical Earth."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def geo_latency_ns(a_attrs: dict[str, Any], b_attrs: dict[str, Any]) -> int:
    """Propagation delay between two nodes from their Latitude/Longitude attributes."""
    try:
        coordinates = [float(attrs[key]) for attrs in (a_attrs, b_attrs) for key in ("Latitude", "Longitude")]
    except (KeyError, TypeError, ValueError):
        raise ConditionError("latency 'geo' needs Latitude and Longitude on both nodes") from None
    distance = great_circle_km(*coordinates)
    return round(distance / FIBRE_KM_PER_MS * 1_000_000)


def link_conditions(
    attrs: dict[str, Any],
    defaults: dict[str, Any],
    *,
    datagram: bool,
    a_attrs: dict[str, Any],
    b_attrs: dict[str, Any],
) -> tuple[Conditions, Conditions]:
    """(a->b, b->a) conditions for a link from its attributes, falling back to ``defaults``.

    Raises ConditionError naming the attribute; the caller names the edge.
    """
    forward: dict[str, Any] = {}
    backward: dict[str, Any] = {}
    attrs, defaults = _merge_latency_alias(attrs), _merge_latency_alias(defaults)
    for key in CONDITION_KEYS:
        explicit = key in attrs and attrs[key] not in (None, "")
        value = attrs[key] if explicit else defaults.get(key)
        if value in (None, ""):
            continue
        if key == "reorder" and not datagram:
            if explicit and parse_probability(split_directions(value)[0]) > 0:
                raise ConditionError(
                    "reorder applies to datagram transports only (udp, udp6, unix-dgram): a stream or "
                    "seqpacket socket delivers in order, so nothing can overtake"
                )
            continue
        for side, side_value in zip((forward, backward), split_directions(value), strict=True):
            try:
                _apply(side, key, side_value, a_attrs, b_attrs)
            except ConditionError as error:
                raise ConditionError(f"{key}={value!r}: {error}") from None
    return Conditions(**forward), Conditions(**backward)


def _merge_latency_alias(values: dict[str, Any]) -> dict[str, Any]:
    """``latency`` and ``latency_ms`` are one setting: keep it under ``latency_ms``."""
    if values.get("latency") in (None, ""):
        return values
    merged = {key: value for key, value in values.items() if key != "latency"}
    if merged.get("latency_ms") in (None, ""):
        merged["latency_ms"] = values["latency"]
    return merged


def _apply(
    side: dict[str, Any], key: str, value: Any, a_attrs: dict[str, Any], b_attrs: dict[str, Any]
) -> None:
    if key in ("latency_ms", "latency"):
        is_geo = isinstance(value, str) and value.strip().lower() == "geo"
        side["latency_ns"] = geo_latency_ns(a_attrs, b_attrs) if is_geo else parse_duration_ns(value)
    elif key == "jitter_ms":
        side["jitter_ns"] = parse_duration_ns(value)
    elif key == "bandwidth":
        side["bandwidth_bps"] = parse_bandwidth_bps(value)
    elif key == "queue":
        side["queue_messages"], side["queue_bytes"] = parse_queue(value)
    else:
        side[key] = parse_probability(value)


def override_conditions(
    current: tuple[Conditions, Conditions],
    settings: dict[str, Any],
    *,
    datagram: bool,
    a_attrs: dict[str, Any],
    b_attrs: dict[str, Any],
) -> tuple[Conditions, Conditions]:
    """``current`` (a->b, b->a) with only the given settings changed (a ``slow`` fault)."""
    settings = _merge_latency_alias(settings)
    changed: list[dict[str, Any]] = [{}, {}]
    for key, value in settings.items():
        if key == "reorder" and not datagram:
            raise ConditionError("reorder applies to datagram transports only (udp, udp6, unix-dgram)")
        for side, side_value in zip(changed, split_directions(value), strict=True):
            try:
                _apply(side, key, side_value, a_attrs, b_attrs)
            except ConditionError as error:
                raise ConditionError(f"{key}={value!r}: {error}") from None
    return replace(current[0], **changed[0]), replace(current[1], **changed[1])

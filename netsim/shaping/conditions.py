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

Bounds (every value must also be finite; trace times are 64-bit signed nanoseconds, about 292 years):

    latency_ms, jitter_ms   at most one day (``MAX_DELAY_NS``): a message held longer is no test
    bandwidth               1 bit/s to 1 Pbit/s (``MIN_BANDWIDTH_BPS``, ``MAX_BANDWIDTH_BPS``), so that a
                            16 MiB frame's time on the wire still fits the trace's nanoseconds
    queue                   at most 10**9 messages or 1 TiB (``MAX_QUEUE_MESSAGES``, ``MAX_QUEUE_BYTES``);
                            a larger queue is no limit: leave it unset
    Latitude, Longitude     -90..90 and -180..180 degrees, for ``geo``

The run's own durations are checked here too (:func:`parse_seconds`): ``--duration``, ``--quiet`` and
fault times are at most ``MAX_RUN_S`` (10**9 s, about 31.7 years, which leaves the trace's clock room
for the host's uptime), and the start-up timeout at most ``MAX_STARTUP_TIMEOUT_S`` (one day: a node
waits for its address book with ``poll()``, whose timeout is a C int of milliseconds).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from netsim.errors import ConditionError

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

# Default ``--latency ...`` option of each condition key, for errors about a run's defaults.
CONDITION_OPTIONS: dict[str, str] = {
    "latency_ms": "--latency",
    "latency": "--latency",
    "jitter_ms": "--jitter",
    "loss": "--loss",
    "bandwidth": "--bandwidth",
    "queue": "--queue",
    "duplicate": "--duplicate",
    "reorder": "--reorder",
}

NS_PER_S = 1_000_000_000
MAX_DELAY_NS = 86_400 * NS_PER_S
MIN_BANDWIDTH_BPS = 1.0
MAX_BANDWIDTH_BPS = 1e15
MAX_QUEUE_MESSAGES = 1_000_000_000
MAX_QUEUE_BYTES = 1024**4
MAX_RUN_S = 1_000_000_000
MAX_STARTUP_TIMEOUT_S = 86_400
# A whole number with more digits exceeds every bound here: it is refused as it is, without int() or
# str() (which refuse more than sys.get_int_max_str_digits(), 4,300 by default).
_MAX_DIGITS = 30

# Light in optical fibre travels at about two thirds of c.
FIBRE_KM_PER_MS = 299_792.458 * 2 / 3 / 1000
EARTH_RADIUS_KM = 6371.0


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
    raise ConditionError(f"expected one value, or two as 'a->b/b->a', got {_shown(value)}")


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s)?\s*$")
_DURATION_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, None: 1_000_000}


def parse_duration_ns(value: Any, *, default_unit: str = "ms", maximum_ns: int = MAX_DELAY_NS) -> int:
    """A duration from 0 to ``maximum_ns``: a number in ``default_unit`` or a string such as "50ms"."""
    if isinstance(value, bool):
        raise ConditionError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = _as_float(value), default_unit
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConditionError(f"expected a duration such as 50ms or 1.5s, got {_shown(value)}")
        number, unit = float(match.group(1)), match.group(2) or default_unit
    # Checked before converting, so that no value ever becomes an integer too large for the trace.
    if not 0 <= number * _DURATION_NS[unit] <= maximum_ns:  # NaN fails both comparisons
        raise ConditionError(f"a duration must be from 0 to {_seconds_text(maximum_ns)}, got {_shown(value)}")
    return round(number * _DURATION_NS[unit])


def parse_seconds(value: Any, *, maximum_s: float = MAX_RUN_S) -> float:
    """A positive, finite number of seconds up to ``maximum_s``: a run's --duration, --quiet, timeout.

    The message says what is wrong with the value; the caller names the option.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConditionError(f"must be a number of seconds, got {_shown(value)}")
    number = _as_float(value)
    if not 0 < number <= maximum_s:  # NaN fails both comparisons
        raise ConditionError(
            f"must be positive and at most {_seconds_text(maximum_s * NS_PER_S)}, got {_shown(value)}"
        )
    return number


def _as_float(value: int | float) -> float:
    # float() of an int beyond 1e308 raises OverflowError; it is too large for any bound here anyway.
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _seconds_text(nanoseconds: float) -> str:
    seconds = nanoseconds / NS_PER_S
    if seconds == 86_400:
        return "86400 s (one day)"
    if seconds >= 86_400 * 365:
        return f"{seconds:.0f} s (about {seconds / (86_400 * 365.25):.1f} years)"
    return f"{seconds:g} s"


def _shown(value: Any) -> str:
    """``repr(value)``, shortened: an error line quotes the user's value, not 5,000 of its digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_MAX_DIGITS:
        try:
            return f"a number of {len(str(abs(value)))} digits"
        except ValueError:
            return "a number of over 4,300 digits"
    text = repr(value)
    if len(text) <= 40:
        return text
    if isinstance(value, str):
        return f"{value[:16]!r}...{value[-8:]!r} ({len(value)} characters)"
    return f"{text[:20]}...{text[-8:]} ({len(text)} characters)"


def parse_probability(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConditionError(f"expected a probability from 0 to 1, got {_shown(value)}") from None
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ConditionError(f"expected a probability from 0 to 1, got {_shown(value)}")
    return number


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)(bit|bps|b/s|B/s|Bps|B)?\s*$")
_PREFIX = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_bandwidth_bps(value: Any) -> float:
    """Bits per second from "10Mbit", "512kbit", "1Gbit", "2MB/s", "100Mbps" or a number (bits/s)."""
    if isinstance(value, bool):
        raise ConditionError(f"expected a bandwidth such as 10Mbit, got {value!r}")
    if isinstance(value, (int, float)):
        rate = _as_float(value)
    else:
        match = _RATE.match(str(value))
        if not match:
            raise ConditionError(
                f"expected a bandwidth such as 10Mbit, 512kbit or 2MB/s, got {_shown(value)}"
            )
        number, prefix, unit = float(match.group(1)), match.group(2).lower(), match.group(3) or "bit"
        bytes_unit = unit in ("B/s", "Bps", "B")
        rate = number * _PREFIX[prefix] * (8 if bytes_unit else 1)
    if not MIN_BANDWIDTH_BPS <= rate <= MAX_BANDWIDTH_BPS:  # NaN fails both comparisons
        raise ConditionError(f"a bandwidth must be from 1 bit/s to 1 Pbit/s (1e15), got {_shown(value)}")
    return rate


_SIZE = re.compile(r"^\s*([0-9]+)\s*([kKmMgG]?)(i?B)\s*$")
_DECIMAL_SCALE = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_BINARY_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_queue(value: Any) -> tuple[int | None, int | None]:
    """(messages, bytes): "100" or 100 is a message count; "64KB" / "1MiB" is bytes."""
    if isinstance(value, bool):
        raise ConditionError(f"expected a queue size such as 100 or 64KB, got {value!r}")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        count = int(value)
    elif isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        count = _whole_number(value.strip())
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ConditionError(
                f"expected a queue size such as 100 (messages) or 64KB (bytes), got {_shown(value)}"
            )
        number, prefix, unit = _whole_number(match.group(1)), match.group(2).lower(), match.group(3)
        size = number * (_BINARY_SCALE if unit == "iB" else _DECIMAL_SCALE)[prefix]
        if size <= 0:
            raise ConditionError(f"a queue must hold at least 1 byte, got {_shown(value)}")
        if size > MAX_QUEUE_BYTES:
            raise ConditionError(
                f"a queue of bytes must be at most 1 TiB ({MAX_QUEUE_BYTES} bytes), got {_shown(value)}",
            )
        return None, size
    if count <= 0:
        raise ConditionError(f"a queue must hold at least 1 message, got {_shown(value)}")
    if count > MAX_QUEUE_MESSAGES:
        raise ConditionError(
            f"a queue must hold at most {MAX_QUEUE_MESSAGES} messages, got {_shown(value)}",
        )
    return count, None


def _whole_number(digits: str) -> int:
    # Past _MAX_DIGITS every bound is exceeded: a number beyond int()'s digit limit is never parsed.
    return int(digits) if len(digits.lstrip("0")) <= _MAX_DIGITS else 10**_MAX_DIGITS


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a spherical Earth."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_COORDINATE_RANGES = {"Latitude": 90.0, "Longitude": 180.0}


def geo_latency_ns(a_attrs: dict[str, Any], b_attrs: dict[str, Any]) -> int:
    """Propagation delay between two nodes from their Latitude/Longitude attributes."""
    coordinates: list[float] = []
    for attrs in (a_attrs, b_attrs):
        for key, limit in _COORDINATE_RANGES.items():
            value = attrs.get(key)
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                raise ConditionError("latency 'geo' needs Latitude and Longitude on both nodes") from None
            if isinstance(value, bool) or not -limit <= number <= limit:  # NaN fails both comparisons
                raise ConditionError(
                    f"latency 'geo' needs a {key} from {-limit:g} to {limit:g} degrees, got {_shown(value)}"
                )
            coordinates.append(number)
    distance = great_circle_km(*coordinates)
    return round(distance / FIBRE_KM_PER_MS * 1_000_000)


def check_condition(key: str, value: Any) -> None:
    """Raise ConditionError if ``value`` can never be a valid ``key`` (a run's default, before any link).

    ``geo`` needs the link's nodes, so it passes here and is checked per link.
    """
    if key not in CONDITION_KEYS:
        raise ConditionError(f"unknown link condition {key!r}; known: {', '.join(CONDITION_KEYS)}")
    if value in (None, ""):
        return
    for side_value in split_directions(value):
        if key in ("latency_ms", "latency") and isinstance(side_value, str) and _is_geo(side_value):
            continue
        _apply({}, key, side_value, {}, {})


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
                raise ConditionError(f"{key}={_shown(value)}: {error}") from None
    return Conditions(**forward), Conditions(**backward)


def _merge_latency_alias(values: dict[str, Any]) -> dict[str, Any]:
    """``latency`` and ``latency_ms`` are one setting: keep it under ``latency_ms``."""
    if values.get("latency") in (None, ""):
        return values
    merged = {key: value for key, value in values.items() if key != "latency"}
    if merged.get("latency_ms") in (None, ""):
        merged["latency_ms"] = values["latency"]
    return merged


def _is_geo(value: str) -> bool:
    return value.strip().lower() == "geo"


def _apply(
    side: dict[str, Any], key: str, value: Any, a_attrs: dict[str, Any], b_attrs: dict[str, Any]
) -> None:
    if key in ("latency_ms", "latency"):
        is_geo = isinstance(value, str) and _is_geo(value)
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
                raise ConditionError(f"{key}={_shown(value)}: {error}") from None
    return replace(current[0], **changed[0]), replace(current[1], **changed[1])

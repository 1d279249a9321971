"""Fault schedules: what goes wrong, when. Pure parsing and scheduling; the launcher carries them out.

One line per fault, the same in a ``--fault`` flag and in a schedule file::

    2s partition n0,n1 | n2,n3      nodes in different groups cannot reach each other; nodes named
                                    in no group form one more group
    5s heal                         undo every partition
    1s link-down n0,n1              the link between two nodes drops everything ...
    3s link-up n0,n1                ... until this
    1.5s kill n3                    SIGKILL: the node dies without a goodbye
    2s stop n2                      SIGSTOP: paused, not dead (its sockets stay open) ...
    2.5s cont n2                    ... until SIGCONT
    4s restart n3                   a fresh process with the same name, addresses and app (state reset)
    1s slow n0,n1 latency=200ms loss=0.1    new conditions for both directions of one link
    every 2s random-partition       alternately split the nodes into two random halves and heal
                                    (Jepsen's partition-random-halves); "from 1s", "until 8s" optional

Times are seconds into the run ("1.5s", "500ms", or a bare number of seconds), before the run's
``--duration`` (a fault after it would never happen) and at most ``MAX_RUN_S``. ``every`` repeats at
least ``MIN_REPEAT_INTERVAL_S`` (1 ms) apart, and repeating faults are never unrolled: a
:class:`FaultSchedule` computes each occurrence when it is due. Node lists are comma
separated, so names may contain spaces. A schedule file (``--faults FILE``, ``.yaml``/``.yml`` or
``.json``) holds ``{"faults": [...]}`` whose items are such lines, or mappings with the same words::

    faults:
      - 2s partition n0,n1 | n2,n3
      - {at: 5s, heal: true}
      - {at: 1s, slow: [n0, n1], latency: 200ms}
      - {every: 2s, random-partition: true, until: 10s}
"""

from __future__ import annotations

import heapq
import json
import random
import reprlib
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netsim.errors import ConditionError, FaultError
from netsim.shaping.conditions import CONDITION_KEYS, MAX_RUN_S, NS_PER_S, parse_duration_ns

NODE_ACTIONS = ("kill", "stop", "cont", "restart")
LINK_ACTIONS = ("link-down", "link-up", "slow")
RUN_ACTIONS = ("partition", "heal")
REPEATING_ACTIONS = ("random-partition",)
ACTIONS = NODE_ACTIONS + LINK_ACTIONS + RUN_ACTIONS
# The shortest "every": a partition and its heal every millisecond is already more than a run can carry
# out (each one is a message to both ends of every link it cuts), and a shorter one is a typo.
MIN_REPEAT_INTERVAL_S = 0.001


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault at one moment."""

    at_s: float
    action: str
    nodes: tuple[str, ...] = ()  # the node (kill, stop, cont, restart) or the link's two ends
    groups: tuple[tuple[str, ...], ...] = ()  # partition
    conditions: dict[str, Any] = field(default_factory=dict)  # slow

    def describe(self) -> str:
        if self.action == "partition":
            return "partition " + " | ".join(",".join(group) for group in self.groups)
        if self.action == "slow":
            settings = " ".join(f"{key}={value}" for key, value in self.conditions.items())
            return f"slow {','.join(self.nodes)} {settings}"
        return " ".join([self.action, ",".join(self.nodes)]).strip()

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"at_s": self.at_s, "action": self.action}
        if self.nodes:
            record["nodes"] = list(self.nodes)
        if self.groups:
            record["groups"] = [list(group) for group in self.groups]
        if self.conditions:
            record["conditions"] = dict(self.conditions)
        return record


@dataclass(frozen=True, slots=True)
class RepeatingFault:
    every_s: float
    action: str
    start_s: float | None = None
    until_s: float | None = None


ScheduleItem = Fault | RepeatingFault


def _seconds(text: Any) -> float:
    try:
        return parse_duration_ns(text, default_unit="s", maximum_ns=MAX_RUN_S * NS_PER_S) / 1e9
    except ConditionError as error:
        raise FaultError(f"bad time: {error}") from None


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise FaultError("expected node names separated by commas")
    return names


def parse_fault_line(line: str) -> ScheduleItem:
    """One schedule line, e.g. ``"2s partition a,b | c"`` or ``"every 2s random-partition"``."""
    words = line.strip().split(None, 2)
    if len(words) < 2:
        raise FaultError(f"expected 'TIME ACTION ...' or 'every TIME ACTION', got {line!r}")
    if words[0] == "every":
        rest = words[2].split() if len(words) > 2 else []
        if not rest or rest[0] not in REPEATING_ACTIONS:
            raise FaultError(f"'every' repeats one of: {', '.join(REPEATING_ACTIONS)} (got {line!r})")
        options = dict(zip(rest[1::2], rest[2::2], strict=False))
        unknown = set(options) - {"from", "until"}
        if unknown or len(rest[1:]) % 2:
            raise FaultError(f"'every' then takes only 'from TIME' and 'until TIME' (got {line!r})")
        every = _seconds(words[1])
        if every < MIN_REPEAT_INTERVAL_S:
            raise FaultError(f"'every' needs an interval of at least 1ms (got {line!r})")
        return RepeatingFault(
            every,
            rest[0],
            _seconds(options["from"]) if "from" in options else None,
            _seconds(options["until"]) if "until" in options else None,
        )
    at_s = _seconds(words[0])
    action = words[1]
    argument = words[2] if len(words) > 2 else ""
    return _fault(at_s, action, argument, line)


def _fault(at_s: float, action: str, argument: str, source: str) -> Fault:
    if action not in ACTIONS:
        known = ", ".join(ACTIONS + REPEATING_ACTIONS)
        raise FaultError(f"unknown fault {action!r} in {_shown(source)}; known: {known}")
    if action == "heal":
        if argument.strip():
            raise FaultError(f"heal takes no arguments (got {_shown(source)})")
        return Fault(at_s, action)
    if action == "partition":
        groups = tuple(_names(group) for group in argument.split("|"))
        return Fault(at_s, action, groups=groups)
    if action in NODE_ACTIONS:
        names = _names(argument)
        if len(names) != 1:
            raise FaultError(f"{action} takes one node (got {_shown(source)})")
        return Fault(at_s, action, nodes=names)
    # A link action: "a,b" then, for slow, key=value settings.
    settings = [word for word in argument.split() if "=" in word]
    link_text = " ".join(word for word in argument.split() if "=" not in word)
    ends = _names(link_text)
    if len(ends) != 2:
        raise FaultError(f"{action} takes a link as 'a,b' (got {_shown(source)})")
    conditions = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        if key not in CONDITION_KEYS:
            raise FaultError(f"slow: unknown condition {key!r}; known: {', '.join(CONDITION_KEYS)}")
        conditions[key] = value
    if action == "slow" and not conditions:
        raise FaultError(f"slow needs at least one condition such as latency=200ms (got {_shown(source)})")
    if action != "slow" and conditions:
        raise FaultError(f"{action} takes no conditions (got {_shown(source)})")
    return Fault(at_s, action, nodes=ends, conditions=conditions)


def parse_fault_item(item: Any) -> ScheduleItem:
    """A line, or a mapping such as ``{at: 5s, heal: true}`` / ``{every: 2s, random-partition: true}``."""
    if isinstance(item, str):
        return parse_fault_line(item)
    if not isinstance(item, dict):
        raise FaultError(f"a fault is a line or a mapping, got {_shown(item)}")
    item = dict(item)
    if "every" in item:
        every = item.pop("every")
        actions = [key for key in item if key in REPEATING_ACTIONS]
        if len(actions) != 1:
            raise FaultError(f"'every' needs one of {', '.join(REPEATING_ACTIONS)}: {_shown(item)}")
        line = f"every {every} {actions[0]}"
        for option in ("from", "until"):
            if option in item:
                line += f" {option} {item[option]}"
        return parse_fault_line(line)
    if "at" not in item:
        raise FaultError(f"a fault needs 'at' (or 'every'): {_shown(item)}")
    at = item.pop("at")
    actions = [key for key in item if key in ACTIONS]
    if len(actions) != 1:
        raise FaultError(f"a fault needs exactly one action of {', '.join(ACTIONS)}: {_shown(item)}")
    action = actions[0]
    target = item.pop(action)
    extra = {key: value for key, value in item.items()}
    if action == "partition":
        groups = target if isinstance(target, list) else [target]
        argument = " | ".join(",".join(g) if isinstance(g, list) else str(g) for g in groups)
    elif action == "heal":
        argument = ""
    elif isinstance(target, list):
        argument = ",".join(str(name) for name in target)
    else:
        argument = str(target)
    if action == "slow":
        argument += " " + " ".join(f"{key}={value}" for key, value in extra.items())
    elif extra:
        raise FaultError(f"unexpected keys {sorted(extra)} in {_shown(item)}")
    return _fault(_seconds(at), action, argument, f"{at} {action} {argument}".strip())


def load_fault_schedule(path: str | Path) -> list[ScheduleItem]:
    """A YAML or JSON schedule file; raises FaultError naming the file and the item at fault."""
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise FaultError(f"{path}: is a directory, not a fault schedule")
        if not stat.S_ISREG(info.st_mode):
            raise FaultError(f"{path}: is not a regular file (a device, a FIFO): pass a YAML or JSON file")
        if info.st_size > MAX_SCHEDULE_BYTES:
            raise FaultError(
                f"{path}: {info.st_size:,} bytes, more than a fault schedule's {MAX_SCHEDULE_BYTES:,}"
            )
        data = path.read_bytes()
    except OSError as error:
        raise FaultError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FaultError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        if kind == "JSON":
            document = json.loads(text)
        else:
            import yaml

            document = yaml.safe_load(text)
    except Exception as error:  # json.JSONDecodeError, yaml.YAMLError, ValueError from int()
        # Here, not at the top: the topology parsers load networkx, which a valid schedule never needs.
        from netsim.topology.formats import find_overlong_integer

        overlong = find_overlong_integer(text)
        if overlong is not None:
            line, digits = overlong
            raise FaultError(f"{path}: line {line}: not valid {kind}: a number of {digits} digits") from None
        raise FaultError(f"{path}: not valid {kind}: {' '.join(str(error).split())}") from None
    items = document.get("faults") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise FaultError(f"{path}: expected a list of faults under 'faults:'")
    schedule = []
    for number, item in enumerate(items, 1):
        try:
            schedule.append(parse_fault_item(item))
        except FaultError as error:
            raise FaultError(f"{path}: fault {number}: {error}") from None
    return schedule


def check_schedule(
    schedule: list[ScheduleItem],
    nodes: list[str],
    links: set[frozenset[str]],
    *,
    duration_s: float | None = None,
) -> None:
    """Every node and link a fault names exists, and every fault can happen before ``duration_s``.

    Raises FaultError naming the first fault that cannot.
    """
    known = set(nodes)
    for item in schedule:
        if isinstance(item, RepeatingFault):
            first, end = _first_and_end(item, duration_s)
            if first >= end:
                bound = "its 'until'" if item.until_s is not None and item.until_s <= end else "--duration"
                raise FaultError(
                    f"'every {item.every_s:g}s {item.action}' would never happen: its first time "
                    f"({first:g}s) is not before {bound} ({end:g}s)"
                )
            continue
        if duration_s is not None and item.at_s >= duration_s:
            raise FaultError(
                f"'{item.at_s:g}s {item.describe()}' would never happen: the run ends at "
                f"--duration {duration_s:g}s"
            )
        named = list(item.nodes) + [name for group in item.groups for name in group]
        for name in named:
            if name not in known:
                sample = ", ".join(nodes[:8]) + (" ..." if len(nodes) > 8 else "")
                raise FaultError(f"{item.describe()!r}: no node named {name!r} (nodes: {sample})")
        if item.action in LINK_ACTIONS and frozenset(item.nodes) not in links:
            raise FaultError(f"{item.describe()!r}: {item.nodes[0]} and {item.nodes[1]} are not linked")
    _check_restarted_ids(schedule, known)


def _check_restarted_ids(schedule: list[ScheduleItem], known: set[str]) -> None:
    """A restarted node numbers its messages ``<name>:r<n>:<k>``: a node named ``<name>:r<n>`` numbers
    its own the same way, and the trace's ids would no longer be unique."""
    restarted = {item.nodes[0] for item in schedule if isinstance(item, Fault) and item.action == "restart"}
    for name in known:
        prefix, separator, generation = name.rpartition(":r")
        if separator and generation.isdigit() and prefix in restarted:
            raise FaultError(
                f"'restart {prefix}': its new process's message ids ({name}:1, ...) would be those of the "
                f"node named {name!r}; rename that node"
            )


def _first_and_end(item: RepeatingFault, duration_s: float | None) -> tuple[float, float]:
    """A repeating fault's first time, and the time before which it repeats."""
    first = item.start_s if item.start_s is not None else item.every_s
    end = float("inf") if duration_s is None else duration_s
    if item.until_s is not None:
        end = min(end, item.until_s)
    return first, end


class FaultSchedule:
    """A run's faults in time order, each repeating one computed when the one before it is taken.

    Iterating yields :class:`Fault` records lazily, so ``every 1ms random-partition`` over a long run
    holds one pending occurrence, never a list. Every iteration starts afresh and yields the same
    faults: random partitions come from one ``random.Random`` seeded from the run's seed, drawn in
    the order the faults happen. A repeating fault happens at its ``from`` (else after one interval),
    then every interval, before its ``until`` and the run's ``duration_s``, alternating a random
    partition into two halves and a heal. At equal times, one-off faults come first, in the order
    given, then repeating ones in the order given.
    """

    def __init__(
        self, schedule: Iterable[ScheduleItem], nodes: Iterable[str], *, duration_s: float, seed: int
    ) -> None:
        items = list(schedule)
        # sorted() is stable: one-off faults at the same time keep the order they were given in.
        self.one_off: tuple[Fault, ...] = tuple(
            sorted((item for item in items if isinstance(item, Fault)), key=lambda fault: fault.at_s)
        )
        self.repeating: tuple[RepeatingFault, ...] = tuple(
            item for item in items if isinstance(item, RepeatingFault)
        )
        self.nodes = tuple(nodes)
        self.duration_s = duration_s
        self.seed = seed

    def __bool__(self) -> bool:
        """True when at least one fault happens."""
        return bool(self.one_off) or any(
            first < end for first, end in (_first_and_end(item, self.duration_s) for item in self.repeating)
        )

    def __iter__(self) -> Iterator[Fault]:
        rng = random.Random(f"{self.seed}:faults")
        # (next time, index of the repeating fault, whether that time heals): one entry per repeating fault.
        upcoming: list[tuple[float, int, bool]] = []
        ends: list[float] = []
        for index, item in enumerate(self.repeating):
            first, end = _first_and_end(item, self.duration_s)
            ends.append(end)
            if first < end:
                upcoming.append((first, index, False))
        heapq.heapify(upcoming)
        one_off = iter(self.one_off)
        next_one_off = next(one_off, None)
        while next_one_off is not None or upcoming:
            if next_one_off is not None and (not upcoming or next_one_off.at_s <= upcoming[0][0]):
                yield next_one_off
                next_one_off = next(one_off, None)
                continue
            at, index, heals = upcoming[0]
            if heals:
                fault = Fault(at, "heal")
            else:
                shuffled = list(self.nodes)
                rng.shuffle(shuffled)
                half = len(shuffled) // 2
                fault = Fault(at, "partition", groups=(tuple(shuffled[:half]), tuple(shuffled[half:])))
            # Summed as before faults were computed lazily, so the times are the same to the last bit.
            at += self.repeating[index].every_s
            if at < ends[index]:
                heapq.heapreplace(upcoming, (at, index, not heals))
            else:
                heapq.heappop(upcoming)
            yield fault


# A schedule is a few lines a person wrote: one larger than this is not one.
MAX_SCHEDULE_BYTES = 1 << 20
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 2, 80, 80
_SHOWN.maxlist = _SHOWN.maxdict = _SHOWN.maxtuple = _SHOWN.maxset = 6


def _shown(value: Any) -> str:
    """``value`` as an error quotes it: short, however large or deep (a YAML alias bomb) it is."""
    return _SHOWN.repr(value)

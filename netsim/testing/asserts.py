"""Assertions about a finished run, for tests: each fails with an ``AssertionError`` that says, in plain
words, what did not hold, where in the trace to look, and how the run ended (``describe_run``).

They read the run through ``Run``'s own tools (its summary, ``verify()``, ``trace_summary()`` and the
trace's receive events), so a test asserts what ``netsim trace verify`` or ``summary`` would show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from netsim.errors import OptionError
from netsim.launch.result import Run
from netsim.testing.describe import describe_run
from netsim.trace.byte_ranges import Unreceived, pair_calls
from netsim.trace.events import format_event, format_names
from netsim.trace.records import is_control
from netsim.trace.schema import RECEIVE_EVENTS
from netsim.trace.verify import CHECK_NAMES, VerifyReport
from netsim.vocabulary import TRANSPORT_TRAITS

# How many message types a message lists.
TYPES_SHOWN = 10


def assert_ok(run: Run) -> None:
    """Fail unless the run ended ok (exit code 0: done, quiet or duration, no node failed, and a
    workload's history, if any, judged valid), saying how it ended and showing each failed node's error
    and the end of its log."""
    __tracebackhide__ = True
    if run.exit_code != 0:
        raise AssertionError(f"the run did not end ok\n{describe_run(run)}")


def assert_verified(run: Run, *, allow: Iterable[str] = ()) -> VerifyReport:
    """Fail unless every check of ``netsim trace verify`` passes on the run's trace, but those named in
    ``allow`` (a test that crashes a node on purpose may ``allow=["exactly_once"]``); returns the report.
    The message names each failed check, what it promises, and its first offending events."""
    __tracebackhide__ = True
    allowed = set(allow)
    unknown = sorted(allowed - set(CHECK_NAMES))
    if unknown:
        raise OptionError(
            f"allow: no verify check is named {', '.join(map(repr, unknown))}",
            hint=f"the checks: {', '.join(CHECK_NAMES)}",
        )
    report = run.verify()
    failed = [check for check in report.checks if not check.passed and check.name not in allowed]
    if not failed:
        return report
    lines = [f"trace verify: {len(failed)} of {len(report.checks)} checks failed on {report.events} events"]
    for check in failed:
        lines.append(f"  {check.name}: {check.description}; {check.failures} failure(s), the first:")
        for record, problem in zip(check.examples, check.problems, strict=True):
            lines.append(f"    {problem}")
            lines.append(f"      {format_event(record, report.start_ts_ns).strip()}")
    raise AssertionError("\n".join([*lines, describe_run(run)]))


def assert_every_node_received(
    run: Run,
    msg_type: str,
    *,
    nodes: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    at_least: int = 1,
) -> dict[str, int]:
    """Fail unless every node (``nodes``, by default all the run's nodes, less ``exclude``) received at
    least ``at_least`` messages of type ``msg_type``; returns how many each received. The message names
    the nodes that fell short, and the message types the run did carry when ``msg_type`` is not one."""
    __tracebackhide__ = True
    wanted = [name for name in (run.nodes if nodes is None else list(nodes)) if name not in set(exclude)]
    counts: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for event in run.events(sorted(RECEIVE_EVENTS), node=wanted or None):
        kind = event.get("msg_type")
        if kind == msg_type:
            counts[event["node"]] += 1
        elif isinstance(kind, str) and not is_control(kind):
            types[kind] += 1
    received = {name: counts[name] for name in wanted}
    short = [name for name in wanted if counts[name] < at_least]
    if not short:
        return received
    times = "a" if at_least == 1 else f"{at_least} or more"
    lines = [
        f"{len(short)} of {len(wanted)} nodes did not receive {times} {msg_type!r} message"
        f"{'' if at_least == 1 else 's'}: {format_names(short)}"
    ]
    if any(counts.values()):
        lines.append(
            f"  received: {', '.join(f'{name} {count}' for name, count in received.items() if count)}"
        )
    else:
        seen = ", ".join(f"{kind!r} ({count})" for kind, count in types.most_common(TYPES_SHOWN)) or "none"
        lines.append(f"  no node received any {msg_type!r}; the message types they received: {seen}")
    lines.append(f"  see them: run.messages({msg_type!r}), or run.events(node={short[0]!r})")
    raise AssertionError("\n".join([*lines, describe_run(run)]))


def assert_no_loss(run: Run, *, unreliable: bool = False) -> None:
    """Fail unless every message sent on a reliable link (tcp, tcp6, unix, unix-dgram, unix-seqpacket)
    was received, counted per link direction as ``netsim trace summary`` counts loss; with
    ``unreliable=True`` on udp and udp6 links too. A socket program's sends are held to the same: every
    byte sent on a stream was received, and every datagram, as ``netsim trace stats`` pairs them.
    A message netsim drops on purpose (a link's ``loss``, a partition) is never sent, so it is not lost
    here: ``run.events("drop")`` lists those."""
    __tracebackhide__ = True
    lossy: list[str] = []
    lost = 0
    first: tuple[str, str] | None = None
    for link in run.trace_summary().links.values():
        if not _judged(link.transport, unreliable):
            continue
        for direction in link.directions:
            if direction.lost:
                lost += direction.lost
                first = first or (direction.source, direction.destination)
                lossy.append(
                    f"  {direction.key} ({link.transport}): {direction.messages_sent} sent, "
                    f"{direction.messages_received} received, {direction.lost} lost"
                )
    lines: list[str] = []
    which = "links" if unreliable else "reliable links"
    if lossy:
        lines = [f"{lost} message(s) lost on {which}:", *lossy]
    calls_lost = _calls_lost(run, unreliable)
    if calls_lost:
        lines.append(f"socket programs' sends not received on {which}:")
        for (source, destination, transport), (nbytes, datagrams) in sorted(calls_lost.items()):
            if destination in run.nodes:
                first = first or (source, destination)
            what = f"{datagrams} datagram(s), {nbytes} bytes" if datagrams else f"{nbytes} bytes"
            lines.append(f"  {source} -> {destination} ({transport}): {what} never received")
    if not lines:
        return
    if first is not None:
        lines.append(f"  see them: run.events(link={first!r})")
    raise AssertionError("\n".join([*lines, describe_run(run)]))


def _judged(transport: str | None, unreliable: bool) -> bool:
    traits = TRANSPORT_TRAITS.get(transport or "")
    return traits is None or traits.reliable or unreliable


def _calls_lost(run: Run, unreliable: bool) -> dict[tuple[str, str, str], list[int]]:
    """(sender, receiver, transport) -> [bytes, datagrams] that a socket program sent and no receive took;
    datagrams netsim dropped on purpose are not among them. Empty at once for a trace without calls."""
    lost: dict[tuple[str, str, str], list[int]] = {}
    for outcome in pair_calls(run.events(["call", "drop"])):
        if not isinstance(outcome, Unreceived) or outcome.fate == "dropped":
            continue
        send = outcome.send
        transport = str(send.get("transport"))
        if not _judged(transport, unreliable):
            continue
        key = (send["node"], str(send.get("peer") or "a socket no node owns"), transport)
        figures = lost.setdefault(key, [0, 0])
        figures[0] += outcome.nbytes
        figures[1] += outcome.fate == "lost"
    return lost

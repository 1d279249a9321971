"""A random byte stream, sent in sends of random sizes and read in receives of random sizes: the trace's
offsets cover every byte exactly once on both sides, each call's preview is the stream's bytes at its
offset, and both programs' checksums agree."""

from __future__ import annotations

import random

import pytest
from socket_programs import FUZZ_BYTES
from socket_testing import RunCalls, program, require

from netsim.runtime.socket_calls import preview
from netsim.trace.byte_ranges import BytePair, pair_calls
from netsim.trace.verify import verify_trace


def covered_once(calls: list[dict], total: int) -> None:
    """The calls' [offset, offset + nbytes) ranges tile [0, total) in order, with no gap or overlap."""
    offset = 0
    for call in calls:
        assert call["offset"] == offset, f"{call['call']} at {call['offset']}, expected {offset}"
        offset += call["nbytes"]
    assert offset == total


@pytest.mark.parametrize("transport", ["tcp", "unix"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_sends_and_receives_cover_every_byte_once(simulate, transport, seed):
    require(transport)
    result = simulate("line:2", app=program(f"fuzz_{transport}"), seed=seed, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    # What n0 sent: the first draw of its net.rng (random.Random(f"{seed}:{name}")).
    stream = random.Random(f"{seed}:n0").randbytes(FUZZ_BYTES)

    (connect,) = [call for call in run.of("n0", "connect") if "errno" not in call]
    sends = [call for call in run.of("n0", "send", connect["sock"])]
    (accept,) = run.of("n1", "accept")
    receives = run.of("n1", "recv", accept["result"]["sock"])
    assert len(sends) > 40 and len(receives) > 20
    assert {call["transport"] for call in sends + receives} == {transport}
    covered_once(sends, FUZZ_BYTES)
    assert receives[-1]["nbytes"] == 0, "the stream's end"
    covered_once(receives, FUZZ_BYTES)
    for call in sends + receives[:-1]:
        assert call["nbytes"] > 0 and call["preview"] == preview(
            stream[call["offset"] : call["offset"] + call["nbytes"]]
        )
        assert (call["nbytes"] <= call["args"]["bufsize"]) if call["call"] == "recv" else True
    # Both ends of the one connection, by address.
    assert all([c["sockname"], c["peername"]] == [connect["peername"], connect["sockname"]] for c in receives)

    # netsim.trace.byte_ranges pairs every received byte with exactly one send, in order, no byte left.
    outcomes = list(pair_calls(run.events))
    assert [o for o in outcomes if not isinstance(o, BytePair)] == []
    pairs = sorted((o for o in outcomes if o.sender == "n0"), key=lambda pair: pair.start)
    position = 0
    for pair in pairs:  # the pairs tile the stream: each byte paired once
        assert pair.start == position and pair.nbytes > 0
        position = pair.end
    assert position == FUZZ_BYTES
    for pair in pairs:
        for call in (pair.send, pair.receive):
            assert call["offset"] <= pair.start and pair.end <= call["offset"] + call["nbytes"]
        assert pair.latency_ns >= 0 and not pair.datagram  # received after its send began
    # Each send's bytes went to the receives that took them, all of them, and no more.
    for send in sends:
        mine = [pair for pair in pairs if pair.send is send]
        assert sum(pair.nbytes for pair in mine) == send["nbytes"]

    # trace verify pairs them too: each receive's last byte with the send that wrote it (the last
    # receive, the end of the stream, moves no byte).
    (check,) = [check for check in verify_trace(result.run_dir).checks if check.name == "program_bytes"]
    assert check.passed and check.checked == len(receives) - 1

    records = {event["data"].pop("side"): event["data"] for event in run.kinds("app")}
    assert records["sent"] == records["received"]
    assert records["sent"]["nbytes"] == FUZZ_BYTES

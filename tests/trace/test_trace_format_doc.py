"""docs/trace-format.md stays true to the schema: every name documented, the example a valid trace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netsim.trace import SCHEMA, TraceReader
from netsim.trace.schema import (
    EVENTS,
    HEADER_FIELDS,
    OPTIONAL_EVENT_FIELDS,
    RECEIVE_EVENTS,
    REQUIRED_EVENT_FIELDS,
    SEND_EVENTS,
)
from netsim.vocabulary import TRANSPORT_NAMES

DOC = Path(__file__).resolve().parents[2] / "docs" / "trace-format.md"
STREAM_TRANSPORTS = {"tcp", "tcp6", "unix", "unix-seqpacket"}


@pytest.fixture(scope="module")
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture
def example_trace(doc_text: str, tmp_path: Path) -> Path:
    match = re.search(r"## Example.*?```json\n(.*?)```", doc_text, re.S)
    assert match, "docs/trace-format.md has no ```json example under ## Example"
    path = tmp_path / "trace.jsonl"
    path.write_text(match.group(1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name",
    sorted({*HEADER_FIELDS, *REQUIRED_EVENT_FIELDS, *OPTIONAL_EVENT_FIELDS, *EVENTS, *TRANSPORT_NAMES}),
)
def test_every_schema_name_is_documented(doc_text: str, name: str) -> None:
    assert f"`{name}`" in doc_text


def test_example_is_a_valid_trace_that_keeps_the_guarantees(example_trace: Path) -> None:
    with TraceReader(example_trace) as reader:
        header = reader.header
        events = list(reader)
        assert reader.skipped_count == 0
    assert header["schema"] == SCHEMA
    assert set(HEADER_FIELDS) <= set(header)
    assert [e["ts_ns"] for e in events] == sorted(e["ts_ns"] for e in events)
    assert {e["event"] for e in events} <= set(EVENTS)
    for event in events:
        assert set(event) <= {*REQUIRED_EVENT_FIELDS, *OPTIONAL_EVENT_FIELDS}
        assert None not in event.values()

    sends = {e["msg_id"]: e for e in events if e["event"] in SEND_EVENTS}
    receives = [e for e in events if e["event"] in RECEIVE_EVENTS]
    # exactly once, with the Lamport rule, and peer naming the other end
    assert sorted(r["msg_id"] for r in receives) == sorted(sends)
    for receive in receives:
        send = sends[receive["msg_id"]]
        assert receive["lamport"] > send["lamport"]
        assert (receive["peer"], send["peer"]) == (send["node"], receive["node"])
        if send["transport"] in STREAM_TRANSPORTS:
            assert (send["sockname"], send["peername"]) == (receive["peername"], receive["sockname"])


def test_the_documented_example_passes_verify(tmp_path):
    import re

    from netsim.trace.verify import verify_trace

    text = (Path(__file__).resolve().parents[2] / "docs" / "trace-format.md").read_text()
    section = text[text.index("## Example") : text.index("## Reading")]
    block = re.search(r"```(?:json|jsonl)?\n(.*?)```", section, re.S).group(1)
    trace = tmp_path / "trace.jsonl"
    trace.write_text(block)
    report = verify_trace(trace)
    assert report.ok, [check.name for check in report.checks if not check.passed]

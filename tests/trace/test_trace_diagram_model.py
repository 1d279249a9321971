"""The diagram's model alone (``netsim.trace.diagram.model``): what is drawn and what is left out, no SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netsim_testing import trace_header, write_trace

from netsim.trace.diagram.model import Arrow, DiagramModel, Lane, Tick, lamport_ticks, read_model

START = 9_000_000_000


def send(i: int, source: str, destination: str, msg_type: str = "ping") -> dict[str, Any]:
    return {
        "ts_ns": START + 1000 * i,
        "node": source,
        "event": "send",
        "transport": "tcp",
        "peer": destination,
        "msg_id": f"{source}:{i}",
        "msg_type": msg_type,
        "nbytes": 20,
        "lamport": i,
    }


def receive(sent: dict[str, Any], lamport: int, after_ns: int = 500) -> dict[str, Any]:
    return {
        **sent,
        "ts_ns": sent["ts_ns"] + after_ns,
        "node": sent["peer"],
        "event": "recv",
        "peer": sent["node"],
        "lamport": lamport,
    }


def model_of(tmp_path: Path, events: list[dict[str, Any]], **options: Any) -> DiagramModel:
    header = trace_header(["a", "b", "c"], [["a", "b"], ["b", "c"]], app="echo", start_ts_ns=START)
    return read_model(write_trace(tmp_path / "trace.jsonl", header, events), **options)


def test_a_send_and_its_receive_are_one_arrow_between_their_lanes(tmp_path: Path) -> None:
    ping = send(1, "c", "a")
    model = model_of(tmp_path, [ping, receive(ping, 5)])
    assert model.lanes == (Lane("a", "echo"), Lane("b", "echo"), Lane("c", "echo"))
    (arrow,) = model.arrows
    assert (arrow.source, arrow.destination, arrow.msg_id) == ("c", "a", "c:1")
    assert (arrow.send_ts_ns, arrow.receive_ts_ns) == (START + 1000, START + 1500)
    assert (arrow.send_key, arrow.receive_key) == (1.0, 5.0)
    assert not arrow.lost and model.lost == 0
    assert model.left_out == {} and model.note == ""


def test_a_receive_written_before_its_send_at_the_same_instant_still_pairs(tmp_path: Path) -> None:
    ping = send(1, "a", "b")
    model = model_of(tmp_path, [receive(ping, 2, after_ns=0), ping])
    assert [arrow.lost for arrow in model.arrows] == [False]


def test_a_message_never_received_is_lost(tmp_path: Path) -> None:
    first, second = send(1, "a", "b"), send(2, "b", "c")
    model = model_of(tmp_path, [first, second, receive(second, 3)])
    assert [(arrow.msg_id, arrow.lost) for arrow in model.arrows] == [("a:1", True), ("b:2", False)]
    assert model.lost == 1


def test_control_messages_are_hidden_and_counted_unless_asked_for(tmp_path: Path) -> None:
    hello = send(1, "a", "b", msg_type="netsim.hello")
    events = [hello, receive(hello, 2), send(3, "a", "b")]
    hidden = model_of(tmp_path, events)
    assert [arrow.msg_type for arrow in hidden.arrows] == ["ping"]
    assert hidden.left_out == {
        "control_messages": {"count": 1, "reason": "netsim's own messages (include_control=True)"}
    }
    assert hidden.note == "not drawn: 1 control messages (netsim.*)" and not hidden.note_is_limit
    shown = model_of(tmp_path, events, include_control=True)
    assert shown.msg_types == ["netsim.hello", "ping"] and shown.left_out == {}


def test_limits_are_said_to_be_limits(tmp_path: Path) -> None:
    model = model_of(tmp_path, [send(i, "a", "b") for i in range(1, 5)], max_messages=3)
    assert len(model.arrows) == 3
    assert model.left_out["messages"] == {"count": 1, "reason": "over max_messages=3 (the first ones drawn)"}
    assert model.note_is_limit


def test_nodes_asked_for_are_the_lanes_in_that_order(tmp_path: Path) -> None:
    model = model_of(tmp_path, [send(1, "a", "b"), send(2, "c", "b")], nodes=["c", "b"])
    assert model.nodes == ("c", "b")
    assert [arrow.source for arrow in model.arrows] == ["c"]
    assert model.left_out["unselected_nodes"]["names"] == ["a"]
    assert model.left_out["messages_other_nodes"]["count"] == 1


def test_an_error_is_a_mark_on_its_lane_after_its_last_clock(tmp_path: Path) -> None:
    error = {"ts_ns": START + 5000, "node": "b", "event": "error", "transport": "tcp", "error": "boom"}
    ping = send(1, "a", "b")
    model = model_of(tmp_path, [ping, receive(ping, 4), error])
    (mark,) = model.errors
    assert (mark.node, mark.text, mark.key) == ("b", "boom", 4.5)


def test_axis_extent_and_ticks() -> None:
    arrows = (
        Arrow("m1", "t", None, "a", "b", None, START + 1_000_000, 1.0, START + 3_000_000, 2.0),
        Arrow("m2", "t", None, "b", "a", None, START + 2_000_000, 2.5),
    )
    model = DiagramModel(None, None, None, "time", START, (Lane("a", None),), arrows, (), {}, "")
    assert model.time_extent() == (START + 1_000_000, START + 3_000_000)
    assert model.lamport_keys() == [1.0, 2.0, 2.5]
    assert [tick.label for tick in model.time_ticks(2)] == ["0.001 s", "0.002 s", "0.003 s"]
    assert model.time_ticks(2)[0] == Tick(START + 1_000_000, "0.001 s")
    assert lamport_ticks([1.0, 2.0, 2.5], room=5) == [Tick(1.0, "1"), Tick(2.0, "2"), Tick(2.5, "2+")]
    assert [tick.label for tick in lamport_ticks([1.0, 2.0, 2.5], room=2)] == ["1", "2+"]


def test_node_messages_go_through_json_and_come_back_the_same(tmp_path: Path) -> None:
    """The report's second process counts them and sends them as JSON (netsim.trace.report.split)."""
    import orjson
    import pytest

    from netsim.trace.diagram.lanes import NodeMessages
    from netsim.trace.reader import TraceReader

    names = [f"n{i}" for i in range(40)]
    links = [[names[i], names[i + 1]] for i in range(len(names) - 1)]
    header = trace_header(names, links, app="echo", start_ts_ns=START)
    events: list[dict[str, Any]] = []
    for i in range(1, 200):
        ping = send(i, names[(7 * i) % 40], names[(11 * i) % 40], "netsim.hello" if i % 17 == 0 else "ping")
        events += [ping, receive(ping, i + 1)]
    events.append({**send(300, "n3", "stranger"), "ts_ns": START + 400_000})
    events.append({"ts_ns": START + 500_000, "node": "ghost", "event": "error", "error": "boom"})
    trace = write_trace(tmp_path / "trace.jsonl", header, events)

    counted = NodeMessages(names, None, None, False)
    with TraceReader(trace) as reader:
        counted.add_all(reader)
    back = NodeMessages.from_data(orjson.loads(orjson.dumps(counted.to_data())))
    assert back.busiest(30) == counted.busiest(30)
    columns, _ = counted.busiest(30)
    assert back.apart(columns) == counted.apart(columns)
    assert list(back.handled) == list(counted.handled) and back.window == counted.window
    assert read_model(trace, node_messages=back) == read_model(trace, node_messages=counted)
    assert read_model(trace, node_messages=back) == read_model(trace)

    with pytest.raises(ValueError, match="not the data of a NodeMessages"):
        NodeMessages.from_data({**counted.to_data(), "sent": {"n1": "many"}})
    with pytest.raises(ValueError, match="not the data of a NodeMessages"):
        NodeMessages.from_data({"window": [None, None]})
    counted.errors[7] += 1  # type: ignore[index] - a node name that is not a string
    with pytest.raises(TypeError):
        counted.to_data()

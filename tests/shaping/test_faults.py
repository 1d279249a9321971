"""Fault schedules: parsing (pure), and faults carried out on real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from netsim_testing import ROOT, load_trace

import netsim
from netsim.errors import FaultError, OptionError
from netsim.shaping.faults import (
    Fault,
    FaultSchedule,
    RepeatingFault,
    check_schedule,
    load_fault_schedule,
    parse_fault_item,
    parse_fault_line,
)

APPS = ROOT / "tests" / "runtime" / "runtime_apps.py"


def test_lines():
    assert parse_fault_line("2s partition n0,n1 | n2") == Fault(
        2.0, "partition", groups=(("n0", "n1"), ("n2",))
    )
    assert parse_fault_line("500ms heal") == Fault(0.5, "heal")
    assert parse_fault_line("1.5 kill New York") == Fault(1.5, "kill", nodes=("New York",))
    assert parse_fault_line("1s link-down a,b") == Fault(1.0, "link-down", nodes=("a", "b"))
    assert parse_fault_line("1s slow a,b latency=200ms loss=0.1") == Fault(
        1.0, "slow", nodes=("a", "b"), conditions={"latency": "200ms", "loss": "0.1"}
    )
    assert parse_fault_line("every 2s random-partition from 1s until 9s") == RepeatingFault(
        2.0, "random-partition", 1.0, 9.0
    )


@pytest.mark.parametrize(
    "line",
    [
        "kill n1",
        "2s explode n1",
        "2s kill a,b",
        "2s heal now",
        "2s link-down a",
        "2s slow a,b",
        "2s slow a,b speed=9",
        "every 0s random-partition",
        "every 2s kill",
    ],
)
def test_bad_lines(line):
    with pytest.raises(FaultError):
        parse_fault_line(line)


def test_mappings_and_files(tmp_path):
    assert parse_fault_item({"at": "5s", "heal": True}) == Fault(5.0, "heal")
    assert parse_fault_item({"at": 1, "slow": ["a", "b"], "latency": "200ms"}).conditions == {
        "latency": "200ms"
    }
    assert parse_fault_item({"at": "2s", "partition": [["a", "b"], ["c"]]}).groups == (("a", "b"), ("c",))
    yaml_file = tmp_path / "faults.yaml"
    yaml_file.write_text(
        "faults:\n  - 2s partition a,b\n  - {at: 3s, heal: true}\n  - {every: 1s, random-partition: true}\n"
    )
    assert len(load_fault_schedule(yaml_file)) == 3
    json_file = tmp_path / "faults.json"
    json_file.write_text(json.dumps({"faults": ["1s kill a", {"at": "2s", "restart": "a"}]}))
    assert [item.action for item in load_fault_schedule(json_file)] == ["kill", "restart"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults:\n  - 1s kill a\n  - 2s smash a\n")
    with pytest.raises(FaultError, match=r"bad.yaml: fault 2: unknown fault 'smash'"):
        load_fault_schedule(bad)


def test_a_restart_whose_new_ids_are_another_nodes_is_refused():
    links = {frozenset(("a", "b")), frozenset(("a:r1", "b"))}
    with pytest.raises(FaultError, match=r"'restart a': .* node named 'a:r1'; rename that node"):
        check_schedule([parse_fault_line("1s restart a")], ["a", "a:r1", "b"], links)
    check_schedule([parse_fault_line("1s restart b")], ["a", "a:r1", "b"], links)
    check_schedule([parse_fault_line("1s kill a")], ["a", "a:r1", "b"], links)


def test_schedule_names_must_exist_and_repeats_unroll():
    with pytest.raises(FaultError, match="no node named 'zz'"):
        check_schedule([parse_fault_line("1s kill zz")], ["a", "b"], {frozenset(("a", "b"))})
    with pytest.raises(FaultError, match="are not linked"):
        check_schedule([parse_fault_line("1s link-down a,c")], ["a", "b", "c"], {frozenset(("a", "b"))})
    schedule = FaultSchedule(
        [parse_fault_line("every 1s random-partition")], list("abcd"), duration_s=4.5, seed=3
    )
    faults = list(schedule)
    assert [fault.action for fault in faults] == ["partition", "heal", "partition", "heal"]
    assert faults == list(schedule), "every pass over a schedule yields the same faults"


def _between(events, start_ns, end_ns, kind):
    return [e for e in events if start_ns < e["ts_ns"] < end_ns and e["event"] == kind]


@pytest.mark.timeout(60)
def test_partition_stops_traffic_between_groups_and_heal_restores_it(simulate):
    faults = ["0.3s partition n0,n1 | n2,n3", "0.8s heal"]
    result = simulate("ring:4", app=f"{APPS}:Ticker", seed=1, faults=faults)
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    [partition] = [e for e in events if e["event"] == "fault" and e["fault"] == "partition"]
    [heal] = [e for e in events if e["event"] == "fault" and e["fault"] == "heal"]
    cross = {frozenset(("n1", "n2")), frozenset(("n3", "n0"))}

    def crossing(e):
        return frozenset((e["node"], e.get("peer"))) in cross

    # Some slack after the fault: a message already in a socket buffer is still delivered.
    settle = 20_000_000
    during = [e for e in _between(events, partition["ts_ns"] + settle, heal["ts_ns"], "recv") if crossing(e)]
    assert during == []
    drops = [e for e in events if e["event"] == "drop"]
    assert drops and all(e["reason"] == "partition" and crossing(e) for e in drops)
    assert all(partition["ts_ns"] < e["ts_ns"] < heal["ts_ns"] for e in drops)
    within = [
        e for e in _between(events, partition["ts_ns"] + settle, heal["ts_ns"], "recv") if not crossing(e)
    ]
    assert within, "links inside a group keep working"
    after = [e for e in events if e["ts_ns"] > heal["ts_ns"] and e["event"] == "recv" and crossing(e)]
    assert after, "heal restores traffic between the groups"


@pytest.mark.timeout(60)
def test_a_killed_and_restarted_node_rejoins_and_gossip_reaches_it(simulate):
    faults = ["0.2s kill n2", "0.6s restart n2"]
    result = simulate("ring:5", app="gossip", seed=4, faults=faults, duration=20)
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "ok" and summary["ended_by"] == "done", summary
    assert summary["node_failures"] == [], "a scheduled kill is a fault, not a failure"
    assert [fault["action"] for fault in summary["faults"]] == ["kill", "restart"]
    _, events = load_trace(result.run_dir)
    [restart] = [e for e in events if e["event"] == "fault" and e["fault"] == "restart"]
    starts = [e for e in events if e["node"] == "n2" and e["event"] == "start"]
    assert len(starts) == 2, "two processes of n2 started"
    complete_after = [
        e
        for e in events
        if e["node"] == "n2" and e["event"] == "app" and e["data"]["kind"] == "gossip-complete"
    ]
    assert complete_after[-1]["ts_ns"] > restart["ts_ns"], "the restarted node learnt every rumour again"
    # Nothing was lost from the trace by the kill: every traced receive has its traced send (verify's
    # receive_has_send, which the simulate fixture runs).


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["tcp", "unix", "udp", "unix-dgram", "unix-seqpacket"])
def test_links_reconnect_with_backoff_after_a_restart(transport, simulate):
    faults = ["0.2s kill n1", "0.5s restart n1"]
    result = simulate("line:3", app=f"{APPS}:Ticker", transport=transport, seed=1, faults=faults)
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    [restart] = [e for e in events if e.get("fault") == "restart"]
    # n0 owns the sending socket of its link to n1 (it connects, or it sends datagrams from it).
    retries = [e for e in events if e["node"] == "n0" and e["event"] == "error" and e.get("attempt")]
    reconnected = [e for e in events if e["node"] == "n0" and e["event"] == "connect" and e.get("attempt")]
    if transport in ("tcp", "unix", "unix-seqpacket", "unix-dgram"):
        assert retries, "attempts while n1 was down are traced"
        assert [e["attempt"] for e in retries] == list(range(1, len(retries) + 1))
        assert reconnected and reconnected[0]["ts_ns"] > restart["ts_ns"]
    # Traffic flows both ways between n0 and the new n1 after the restart.
    after = [e for e in events if e["ts_ns"] > restart["ts_ns"] and e["event"] in ("recv", "recvfrom")]
    assert any(e["node"] == "n1" and e["peer"] == "n0" for e in after)
    assert any(e["node"] == "n0" and e["peer"] == "n1" for e in after)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["tcp", "unix-seqpacket", "udp"])
def test_a_restarted_nodes_app_starts_once_its_links_are_up_again(transport, simulate):
    # n1 accepts n0's link (n0 dials it again, backing off since the kill) and dials n2's itself.
    faults = ["0.2s kill n1", "0.4s restart n1"]
    result = simulate("line:3", app=f"{APPS}:GreetsOnStart", transport=transport, seed=6, faults=faults)
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    [restart] = [e for e in events if e.get("fault") == "restart"]
    after = [e for e in events if e["ts_ns"] > restart["ts_ns"]]
    assert [e for e in after if e["event"] == "drop"] == [], "a greeting sent before its link was up"
    greeted = {
        e["node"]
        for e in after
        if e["event"] in ("recv", "recvfrom")
        and e.get("msg_type") == "hi"
        and e["msg_id"].startswith("n1:r1:")
    }
    assert greeted == {"n0", "n2"}
    assert not [e for e in after if e["node"] == "n1" and e["event"] == "error"]


@pytest.mark.timeout(60)
def test_a_restarted_node_does_not_wait_for_a_neighbour_that_is_dead(simulate):
    faults = ["0.2s kill n1", "0.3s kill n0", "0.5s restart n0"]
    result = simulate("line:3", app=f"{APPS}:GreetsOnStart", seed=1, faults=faults)
    _, events = load_trace(result.run_dir)
    [restart] = [e for e in events if e.get("fault") == "restart"]
    [second_start] = [e for e in events if e["node"] == "n0" and e["event"] == "start"][1:]
    # Started as soon as its one live link (to nobody: n0's only neighbour is n1) allowed: not 3 s later.
    assert second_start["ts_ns"] - restart["ts_ns"] < 1_500_000_000


@pytest.mark.timeout(60)
def test_stop_and_cont_pause_a_node_without_killing_it(simulate):
    faults = ["0.2s stop n1", "0.6s cont n1"]
    result = simulate("line:3", app=f"{APPS}:Ticker", seed=1, faults=faults)
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    [stop] = [e for e in events if e.get("fault") == "stop"]
    [cont] = [e for e in events if e.get("fault") == "cont"]
    paused = [
        e for e in events if e["node"] == "n1" and stop["ts_ns"] + 20_000_000 < e["ts_ns"] < cont["ts_ns"]
    ]
    assert paused == [], "a stopped node does nothing"
    assert [e for e in events if e["node"] == "n1" and e["ts_ns"] > cont["ts_ns"] and e["event"] == "recv"]


@pytest.mark.timeout(60)
def test_link_down_up_and_slow(simulate):
    faults = ["0.2s link-down n0,n1", "0.5s link-up n0,n1", "0.7s slow n1,n2 latency=40ms"]
    result = simulate("line:3", app=f"{APPS}:Ticker", seed=1, faults=faults)
    _, events = load_trace(result.run_dir)
    drops = [e for e in events if e["event"] == "drop"]
    assert drops and {e["reason"] for e in drops} == {"link-down"}
    assert {frozenset((e["node"], e["peer"])) for e in drops} == {frozenset(("n0", "n1"))}
    [slow] = [e for e in events if e.get("fault") == "slow"]
    delays = {e["delay_ns"] for e in events if e["event"] == "delay"}
    assert delays == {40_000_000}
    assert all(
        e["ts_ns"] > slow["ts_ns"] and {e["node"], e["peer"]} == {"n1", "n2"}
        for e in events
        if e["event"] == "delay"
    )


def test_bad_schedules_fail_before_the_run(runs_dir):
    with pytest.raises(OptionError, match="no node named 'n9'"):
        netsim.run("ring:3", out=runs_dir, faults=["1s kill n9"])
    with pytest.raises(OptionError, match="reorder applies to datagram"):
        netsim.run("ring:3", out=runs_dir, faults=["1s slow n0,n1 reorder=0.5"])
    # A run-wide --reorder on a run whose links all keep their order would do nothing.
    with pytest.raises(OptionError, match=r"--reorder 0.2: this run has no datagram link to reorder on"):
        netsim.run("ring:3", out=runs_dir, conditions={"reorder": 0.2})
    with pytest.raises(OptionError, match="no datagram link"):
        netsim.run("ring:3", out=runs_dir, transport="unix-seqpacket", conditions={"reorder": "0/0.3"})
    assert not Path(runs_dir).exists()


@pytest.mark.timeout(90)
def test_the_abilene_example_with_geo_latency_and_faults(simulate):
    result = simulate(
        ROOT / "topologies" / "abilene.gml",
        app="gossip",
        seed=1,
        conditions={"latency": "geo"},
        faults_file=ROOT / "topologies" / "abilene-faults.yaml",
    )
    summary = result.summary.to_dict()
    assert summary["exit_status"] == "ok" and summary["shaped_links"] == 14, summary
    assert [fault["action"] for fault in summary["faults"]] == ["partition", "heal", "kill", "restart"]
    # ...and its trace passes trace verify, as every run made through the simulate fixture must.


@pytest.mark.timeout(60)
def test_apps_hear_their_links_go_down_and_come_back(simulate):
    faults = ["0.2s kill n1", "0.5s restart n1"]
    result = simulate("line:3", app=f"{APPS}:LinkWatcher", seed=1, faults=faults)
    _, events = load_trace(result.run_dir)
    heard = [
        (e["node"], e["data"]["kind"], e["data"]["peer"])
        for e in events
        if e["event"] == "app" and e["data"]["kind"] in ("link-down", "link-up")
    ]
    for neighbour in ("n0", "n2"):
        down = heard.index((neighbour, "link-down", "n1"))
        up = heard.index((neighbour, "link-up", "n1"))
        assert down < up, heard


def test_a_schedule_that_is_no_file_or_too_large_or_an_alias_bomb_is_refused_in_one_short_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(FaultError, match="is not a regular file"):
        load_fault_schedule("/dev/zero")
    with pytest.raises(FaultError, match="is a directory"):
        load_fault_schedule(tmp_path)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(FaultError, match="more than a fault schedule's"):
        load_fault_schedule(huge)
    # Nine levels of aliases of nine: a few hundred bytes that stand for 9**9 items.
    lines = ['a0: &a0 ["x"]'] + [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nfaults: [*a9]\n")
    with pytest.raises(FaultError, match="a fault is a line or a mapping") as raised:
        load_fault_schedule(bomb)
    assert len(str(raised.value)) < 1000

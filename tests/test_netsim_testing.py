"""The oracle the simulate fixture holds every real run to catches what it is there to catch."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from netsim_testing import Simulations, address_in_use, run_problems, trace_header, write_run

START = 1_000_000_000
RECEIVE_WITHOUT_SEND = {
    "ts_ns": START + 1,
    "node": "b",
    "event": "recv",
    "transport": "tcp",
    "sockname": ["127.0.0.1", 2],
    "peername": ["127.0.0.1", 1],
    "peer": "a",
    "nbytes": 10,
    "msg_id": "a:1",
    "msg_type": "x",
    "lamport": 2,
}


def hand_run(path: Path, *events: dict) -> Path:
    return write_run(path, trace_header(["a", "b"], [["a", "b", "tcp"]], start_ts_ns=START), events)


def test_a_listener_left_open_is_in_use_and_a_closed_one_is_not() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = list(listener.getsockname())
        assert address_in_use(address, "tcp")
    assert not address_in_use(address, "tcp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bound:
        bound.bind(("127.0.0.1", 0))
        address = list(bound.getsockname())
        assert address_in_use(address, "udp")
    assert not address_in_use(address, "udp")


def test_a_socket_file_left_is_in_use(tmp_path: Path) -> None:
    path = str(tmp_path / "0.s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        assert address_in_use(path, "unix")
    assert address_in_use(path, "unix"), "closing does not remove the file"
    os.unlink(path)
    assert not address_in_use(path, "unix")
    assert not address_in_use("", "unix-dgram")


def test_a_trace_verify_rejects_fails_the_run_unless_the_test_says_why(tmp_path: Path) -> None:
    assert run_problems(hand_run(tmp_path / "clean")) == []
    broken = hand_run(tmp_path / "broken", RECEIVE_WITHOUT_SEND)
    [problem] = run_problems(broken)
    assert "receive_has_send" in problem and "a:1" in problem
    assert run_problems(broken, {"receive_has_send": "a test that loses a send on purpose"}) == []
    assert run_problems(broken, {"no_such_check": "a typo"}) != []


def test_a_traced_address_still_held_fails_the_run(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = list(listener.getsockname())
        bind = {"ts_ns": START, "node": "a", "event": "bind", "transport": "tcp", "sockname": address}
        run = hand_run(tmp_path / "run", {**bind, "role": "link", "peer": "b"})
        assert [problem for problem in run_problems(run) if "still in use" in problem]
    assert run_problems(run) == []


def test_simulations_check_every_run_made_in_a_watched_directory(tmp_path: Path) -> None:
    simulations = Simulations(tmp_path / "runs")
    out = simulations.watch(tmp_path / "cli-runs")
    hand_run(out / "r1", RECEIVE_WITHOUT_SEND)
    assert any("r1: trace verify fails receive_has_send" in problem for problem in simulations.check())
    (out / "r2").mkdir()
    assert any("r2: no trace.jsonl" in problem for problem in simulations.check())


def test_a_socket_directory_this_process_left_fails_the_check(tmp_path: Path) -> None:
    simulations = Simulations(tmp_path / "runs")
    left = tempfile.mkdtemp(prefix=f"netsim-{os.getpid()}-", dir="/tmp")
    try:
        assert f"socket directory {left} left behind" in simulations.check()
    finally:
        os.rmdir(left)
    assert simulations.check() == []

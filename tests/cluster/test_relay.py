"""The launcher's relay to its host agents, on loopback and without Ray: who it lets in, and how."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from netsim.launch import forkserver
from netsim.launch.cluster import agent as agent_module
from netsim.launch.cluster import hostlink, relay
from netsim.launch.cluster.agent import HostAgent
from netsim.launch.cluster.placement import Host, place
from netsim.runs.layout import RELAY_PART_NAME
from netsim.runtime.control import ControlDecoder
from netsim.topology import load_topology

KEY = bytes(range(32))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[relay.ClusterForkServer]:
    topo = load_topology("ring:4")
    placement = place(topo, [Host("h0", "127.0.0.1", 1.0)])
    (tmp_path / "nodes").mkdir()
    served = relay.ClusterForkServer(
        placement, KEY, tmp_path / "nodes", "127.0.0.1", tmp_path / "nodes" / RELAY_PART_NAME
    )
    yield served
    served.close(timeout_s=10)


def _relay_errors(tmp_path: Path, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    part = tmp_path / "nodes" / RELAY_PART_NAME
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if part.exists():
            records = [orjson.loads(line) for line in part.read_bytes().splitlines()]
            if len(records) >= count:
                return records
        time.sleep(0.05)
    raise AssertionError(f"the relay traced fewer than {count} error(s)")


def _challenge(sock: socket.socket) -> str:
    frames = hostlink.FrameDecoder().feed(sock.recv(4096))
    assert frames[0].value["kind"] == hostlink.CHALLENGE
    return str(frames[0].value["nonce"])


def test_a_hello_without_the_run_key_is_traced_and_closed(
    server: relay.ClusterForkServer, tmp_path: Path
) -> None:
    with socket.create_connection(tuple(server.address), timeout=5) as sock:
        nonce = _challenge(sock)
        forged = hostlink.proof(bytes(32), "agent", "h0", nonce, "cc")
        sock.sendall(hostlink.encode_control(hostlink.HELLO, host="h0", nonce="cc", proof=forged))
        assert sock.recv(4096) == b""  # closed, with nothing said
        own = sock.getsockname()
    [record] = _relay_errors(tmp_path, 1)
    assert record["event"] == "error"
    assert record["node"] == "*"
    assert "does not prove the run key" in record["error"]
    assert record["peername"] == [own[0], own[1]]
    assert record["sockname"] == list(server.address)


def test_garbage_and_oversized_frames_are_refused(server: relay.ClusterForkServer, tmp_path: Path) -> None:
    with socket.create_connection(tuple(server.address), timeout=5) as garbage:
        _challenge(garbage)
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert garbage.recv(4096) == b""
    with socket.create_connection(tuple(server.address), timeout=5) as huge:
        _challenge(huge)
        huge.sendall(struct.pack("!IB", 1 << 30, hostlink.CONTROL))
        assert huge.recv(4096) == b""
    records = _relay_errors(tmp_path, 2)
    assert all(record["event"] == "error" for record in records)
    assert any("frame of" in record["error"] for record in records)


def test_a_silent_connection_is_closed_after_the_hello_timeout(
    server: relay.ClusterForkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay, "HELLO_TIMEOUT_S", 0.3)
    with socket.create_connection(tuple(server.address), timeout=5) as silent:
        _challenge(silent)
        assert silent.recv(4096) == b""
    [record] = _relay_errors(tmp_path, 1)
    assert "no hello within" in record["error"]


def test_an_agent_joins_quits_and_sends_its_parts_in_the_launchers_clock(
    server: relay.ClusterForkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This host's clock reads 7 s ahead of the launcher's.
    ahead_ns = 7_000_000_000
    monkeypatch.setattr(
        agent_module, "time", SimpleNamespace(monotonic_ns=lambda: time.monotonic_ns() + ahead_ns)
    )
    agent = HostAgent(tuple(server.address), KEY, "h0", "127.0.0.1")
    ended: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: ended.update(agent.serve()))
    thread.start()
    server.setup(("n0", "n1", "n2", "n3"), KEY, ["flood"])
    server.link.sock.settimeout(30)
    decoder = ControlDecoder()
    got: list[dict[str, Any]] = []
    while not got:
        got = decoder.feed(server.link.sock.recv(4096))
    assert got[0]["kind"] == forkserver.READY
    # What a node of this host wrote, in the host's clock: a part (its last line cut) and a log.
    written_at = time.monotonic_ns() + ahead_ns
    part = b'{"ts_ns":%d,"node":"n0","event":"start"}\n{"ts_ns":%d,"node":"n0","ev' % (written_at, written_at)
    (Path(agent.node_dir) / "0.trace.jsonl").write_bytes(part)
    (Path(agent.node_dir) / "0-n0.log").write_bytes(b"hello\n")
    server.close(timeout_s=30)
    thread.join(30)
    assert ended == {"host": "h0", "ended": "quit", "nodes_forked": 0}
    [row] = server.hosts_json()
    assert row["name"] == "h0" and row["nodes"] == 4
    # Both clock exchanges happened: the offset is the 7 s, within its error bound (and a margin).
    for key in ("clock_offset_ns", "clock_offset_end_ns"):
        assert abs(row[key] - ahead_ns) <= row["clock_error_ns"] + 1_000_000
    nodes = tmp_path / "nodes"
    first, cut = (nodes / "0.trace.jsonl").read_bytes().split(b"\n")
    assert abs(orjson.loads(first)["ts_ns"] - (written_at - ahead_ns)) < 50_000_000
    assert cut == b'{"ts_ns":%d,"node":"n0","ev' % written_at  # kept as it came
    assert (nodes / "0-n0.log").read_bytes() == b"hello\n"
    assert not Path(agent.workdir).exists()


def test_a_relay_that_fails_closes_the_launchers_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the relay must end the run (the launcher sees its fork server go), not hang it."""

    def broken(self: relay._Relay) -> None:
        raise RuntimeError("a bug in the relay")

    monkeypatch.setattr(relay._Relay, "_read_launcher", broken)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the test expects the error
    topo = load_topology("ring:4")
    (tmp_path / "nodes").mkdir()
    served = relay.ClusterForkServer(
        place(topo, [Host("h0", "127.0.0.1", 1.0)]), KEY, tmp_path / "nodes", "127.0.0.1", tmp_path / "relay"
    )
    try:
        served.setup(("n0", "n1", "n2", "n3"), KEY, ["flood"])
        served.link.sock.settimeout(10)
        # The launcher's link ends (its ControlLink reads a reset as the end too).
        with pytest.raises(ConnectionResetError):
            if served.link.sock.recv(4096) == b"":
                raise ConnectionResetError
    finally:
        served.close(timeout_s=5)

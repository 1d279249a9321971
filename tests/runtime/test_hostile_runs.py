"""Whole runs with a hostile local process beside them: impostors at start-up and after a kill, a port
taken while its node is dead, oversized and endless connections, a listener out of descriptors, and
an app that writes without end. The run stays correct and its resources stay bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from netsim_testing import A_NODE_FAILS, Simulations, load_trace, node_pids

import netsim
from netsim.launch.launcher import ReadyNode
from netsim.runtime.bounds import LOG_LIMIT_BYTES
from netsim.wire import Message, decode_frames, encode_frame, encode_message
from netsim.wire.framing import LENGTH_PREFIX

APPS = Path(__file__).with_name("runtime_apps.py")


def app(name: str) -> str:
    return f"{APPS}:{name}"


class Attacker:
    """Runs ``attack(nodes)`` in a thread ``delay_s`` after every node is up (``on_ready``)."""

    def __init__(self, delay_s: float, attack: Callable[[dict[str, ReadyNode]], None]) -> None:
        self.delay_s = delay_s
        self.attack = attack
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def on_ready(self, nodes: list[ReadyNode]) -> None:
        by_name = {node.name: node for node in nodes}
        self.thread = threading.Thread(target=self._run, args=(by_name,), daemon=True)
        self.thread.start()

    def _run(self, nodes: dict[str, ReadyNode]) -> None:
        time.sleep(self.delay_s)
        try:
            self.attack(nodes)
        except BaseException as error:  # noqa: BLE001 - reported by join()
            self.failure = error

    def join(self) -> None:
        assert self.thread is not None, "the run never got ready"
        self.thread.join(30)
        if self.failure is not None:
            raise self.failure


def strangers(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"] == "app" and e["data"].get("kind") == "stranger"]


def errors_of(events: list[dict], node: str) -> list[str]:
    return [e["error"] for e in events if e["event"] == "error" and e["node"] == node]


def forged_hello(src: str, dst: str) -> bytes:
    return encode_frame(Message(src, dst, f"{src}:1", "netsim.hello", None, lamport=1))


def read_all(sock: socket.socket, timeout_s: float = 2.0) -> bytes:
    sock.settimeout(timeout_s)
    received = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_an_impostor_for_a_killed_node_is_refused_and_the_restarted_node_gets_its_link(simulate, transport):
    # line:2: n0 connects to n1. While n0 is dead, a local process connects to n1 and claims to be n0.
    received: list[bytes] = []

    def attack(nodes: dict[str, ReadyNode]) -> None:
        family = socket.AF_UNIX if transport == "unix" else socket.AF_INET
        address = nodes["n1"].listeners[transport]
        with socket.socket(family, socket.SOCK_STREAM) as impostor:
            impostor.connect(address if isinstance(address, str) else tuple(address))
            forged = Message("n0", "n1", "n0:5", "forged", {"steal": True}, lamport=3)
            impostor.sendall(forged_hello("n0", "n1") + encode_frame(forged))
            received.append(read_all(impostor))

    attacker = Attacker(0.9, attack)
    result = simulate(
        "line:2",
        app=app("RecordsStrangers"),
        transport=transport,
        seed=1,
        duration=3,
        faults=["0.5s kill n0", "2s restart n0"],
        on_ready=attacker.on_ready,
    )
    attacker.join()
    assert result.summary.exit_status == "ok", result.summary
    assert received == [b""]  # refused without a word: no answer, no traffic
    _, events = load_trace(result.run_dir)
    assert strangers(events) == []
    assert any("without the run's proof" in error and "'n0'" in error for error in errors_of(events, "n1"))
    # The restarted n0 came back: its ticks reach n1 after the restart.
    restart = next(e["ts_ns"] for e in events if e["event"] == "fault" and e["fault"] == "restart")
    assert any(e["event"] == "recv" and e["node"] == "n1" and e["ts_ns"] > restart for e in events)


@pytest.mark.timeout(60)
def test_a_process_listening_where_a_dead_node_listened_gets_no_traffic(simulate):
    # line:2: n0 connects to n1. While n1 is dead, a local process takes n1's port and listens there:
    # n0 dials it, sends its hello, hears no proof, and sends nothing else; the restarted n1 binds a new
    # port and n0 follows it there.
    taken: list[socket.socket] = []
    heard: list[bytes] = []
    stop = threading.Event()

    def attack(nodes: dict[str, ReadyNode]) -> None:
        host, port = nodes["n1"].listeners["tcp"][:2]
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(16)
        listener.settimeout(0.2)
        taken.append(listener)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            heard.append(read_all(conn, timeout_s=1.0))
            conn.close()

    attacker = Attacker(0.7, attack)
    try:
        result = simulate(
            "line:2",
            app=app("RecordsStrangers"),
            seed=1,
            duration=4,
            faults=["0.5s kill n1", "2s restart n1"],
            on_ready=attacker.on_ready,
            verify_rejects={"mirror": "n0 connects to a local process outside the run, which accepts"},
        )
    finally:
        stop.set()
        attacker.join()
        for sock in taken:
            sock.close()
    assert result.summary.exit_status == "ok", result.summary
    assert heard, "n0 never dialled the taken port"
    for data in heard:
        assert {message.type for message in decode_frames(data)} <= {"netsim.hello"}
    _, events = load_trace(result.run_dir)
    assert any("cannot bind the address it had" in error for error in errors_of(events, "n1"))
    restart = next(e["ts_ns"] for e in events if e["event"] == "fault" and e["fault"] == "restart")
    after = [e for e in events if e["event"] == "recv" and e["ts_ns"] > restart and e["msg_type"] == "tick"]
    assert {e["node"] for e in after} == {"n0", "n1"}


@pytest.mark.timeout(60)
def test_udp_datagrams_from_a_dead_node_s_port_are_refused_and_its_restart_binds_anew(simulate):
    # line:2 over udp. While n1 is dead, a local process binds the port n1 sent from and sends n0
    # messages in n1's name, with and without a tag; n1's restart finds the port taken and binds anew.
    taken: list[socket.socket] = []

    def attack(nodes: dict[str, ReadyNode]) -> None:
        [part] = [path for path in simulate.out.glob("*/nodes/1.trace.jsonl")]
        binds = [orjson.loads(line) for line in part.read_bytes().splitlines() if b'"bind"' in line]
        link_address = next(tuple(b["sockname"]) for b in binds if b["role"] == "link")
        impostor = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        impostor.bind(link_address)
        taken.append(impostor)
        target = tuple(nodes["n0"].listeners["udp"])
        forged = encode_message(Message("n1", "n0", "n1:999", "forged", {"steal": True}, lamport=5))
        for datagram in (forged, b"\x00" * 16 + forged, b"0123456789"):
            impostor.sendto(datagram, target)

    attacker = Attacker(0.9, attack)
    try:
        result = simulate(
            "line:2",
            app=app("RecordsStrangers"),
            transport="udp",
            seed=1,
            duration=3.5,
            faults=["0.5s kill n1", "2s restart n1"],
            on_ready=attacker.on_ready,
        )
    finally:
        attacker.join()
        for sock in taken:
            sock.close()
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    assert strangers(events) == []
    refused = [error for error in errors_of(events, "n0") if "proof" in error]
    assert len(refused) == 3
    assert any("cannot bind the address it had" in error for error in errors_of(events, "n1"))
    restart = next(e["ts_ns"] for e in events if e["event"] == "fault" and e["fault"] == "restart")
    assert any(
        e["event"] == "recvfrom" and e["node"] == "n0" and e["peer"] == "n1" and e["ts_ns"] > restart
        for e in events
    ), "n0 never took datagrams from the restarted n1"


def run_attacked(simulate: Simulations, app_name: str, attacker: Attacker) -> netsim.RunResult:
    """line:3 running ``app_name`` for 2.5 s while ``attacker`` connects to its nodes from outside."""
    result = simulate(
        "line:3",
        app=app(app_name),
        seed=1,
        duration=2.5,
        on_ready=attacker.on_ready,
    )
    attacker.join()
    assert result.summary.exit_status == "ok", result.summary
    return result


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.timeout(60)
def test_forty_oversized_connections_before_a_hello_cost_a_node_almost_nothing(simulate):
    measured: dict[str, int] = {}

    def attack(nodes: dict[str, ReadyNode]) -> None:
        node = nodes["n1"]
        measured["before"] = rss_bytes(node.pid)
        chunk = b"x" * (1024 * 1024)
        connections = []
        for _ in range(40):
            sock = socket.create_connection(tuple(node.listeners["tcp"][:2]))
            sock.setblocking(False)
            connections.append(sock)
            with contextlib.suppress(OSError):
                sock.send(LENGTH_PREFIX.pack(16 * 1024 * 1024))
                for _ in range(16):
                    sock.send(chunk)
        time.sleep(0.5)
        measured["after"] = rss_bytes(node.pid)
        for sock in connections:
            sock.close()

    result = run_attacked(simulate, "Forever", Attacker(0.3, attack))
    assert measured["after"] - measured["before"] < 32 * 1024 * 1024, measured
    _, events = load_trace(result.run_dir)
    refused = [error for error in errors_of(events, "n1") if "announces 16777216 payload bytes" in error]
    assert len(refused) == 40


@pytest.mark.timeout(60)
def test_a_listener_out_of_descriptors_backs_off_instead_of_flooding_the_trace(simulate):
    def attack(nodes: dict[str, ReadyNode]) -> None:
        connections = []
        for _ in range(60):
            with contextlib.suppress(OSError):
                connections.append(socket.create_connection(tuple(nodes["n1"].listeners["tcp"][:2])))
        time.sleep(1.5)
        for sock in connections:
            sock.close()

    result = run_attacked(simulate, "FewDescriptors", Attacker(0.3, attack))
    _, events = load_trace(result.run_dir)
    paused = [error for error in errors_of(events, "n1") if "not accepting for" in error]
    # Back-off from 50 ms doubling to 1 s, from 50 ms again once a descriptor came free and a connection
    # was accepted: a few pauses per connection the attacker made, not a spin.
    assert 1 <= len(paused) <= 60, paused
    assert len(errors_of(events, "n1")) < 100


@pytest.mark.timeout(60)
def test_a_node_s_log_stops_at_its_limit_whoever_writes(simulate):
    result = simulate("line:2", app=app("Chatty"), seed=1, duration=20)
    assert result.summary.exit_status == "ok" and result.summary.ended_by == "done", result.summary
    _, events = load_trace(result.run_dir)
    assert [e["data"]["code"] for e in events if e["event"] == "app"] == [0, 0]
    for log in (result.run_dir / "nodes").glob("*.log"):
        size = log.stat().st_size
        assert LOG_LIMIT_BYTES <= size <= LOG_LIMIT_BYTES + 4096, (log, size)
        assert log.read_bytes().rstrip().endswith(b"no more is kept]")


def _connections_of(pid: int) -> int:
    """How many established TCP connections process ``pid`` holds (its socket inodes in /proc/net/tcp)."""
    return len(_tcp_rows_of(pid, "01"))  # 01: ESTABLISHED


def _tcp_rows_of(pid: int, state: str) -> list[list[str]]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    except OSError:
        return []
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return [fields for fields in rows if fields[3] == state and fields[9] in inodes]


def _listening_ports_of(pid: int) -> list[int]:
    """The TCP ports process ``pid`` listens on (from /proc: its socket inodes, then /proc/net/tcp)."""
    return [int(fields[1].split(":")[1], 16) for fields in _tcp_rows_of(pid, "0A")]  # 0A: LISTEN


@pytest.mark.timeout(60)
def test_an_impostor_at_start_up_is_refused_and_the_real_link_comes_up(simulate):
    # ring:40 over tcp: n0 connects to n1 once every node has bound. A local process connects to n1's
    # listener first, claiming to be n0. So that it is first whatever the machine's speed (reading
    # /proc/net/tcp takes long where many sockets linger), the real n0 is stopped as soon as it is
    # forked, before it can have its address book, and let go once the impostor has sent its hello.
    outcome: dict[str, object] = {}
    done = threading.Event()

    def attack() -> None:
        deadline = time.monotonic() + 20
        children: list[int] = []
        while not children and time.monotonic() < deadline and not done.is_set():
            children = sorted(node_pids())  # forked in the topology's order: n0, n1, ...
            time.sleep(0.0002)
        if not children:
            return
        real_n0 = children[0]
        os.kill(real_n0, signal.SIGSTOP)
        try:
            ports: list[int] = []
            while not ports and time.monotonic() < deadline:
                children = sorted(node_pids())
                ports = _listening_ports_of(children[1]) if len(children) > 1 else []
                time.sleep(0.0005)
            outcome["n0_connected_first"] = _connections_of(real_n0) > 0
            with socket.create_connection(("127.0.0.1", ports[0])) as impostor:
                impostor.sendall(forged_hello("n0", "n1"))
                os.kill(real_n0, signal.SIGCONT)
                outcome["answer"] = read_all(impostor)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(real_n0, signal.SIGCONT)

    thread = threading.Thread(target=attack, daemon=True)
    thread.start()
    try:
        result = simulate("ring:40", app="flood", seed=1)
    finally:
        done.set()
        thread.join(30)
    assert outcome.get("n0_connected_first") is False, outcome
    assert outcome.get("answer") == b"", outcome
    assert result.summary.exit_status == "ok", result.summary
    _, events = load_trace(result.run_dir)
    assert any("without the run's proof" in error and "'n0'" in error for error in errors_of(events, "n1"))
    # The impostor came first: n1 accepted it before it accepted the real n0.
    accepts = [e for e in events if e["event"] == "accept" and e["node"] == "n1"]
    closes = [e for e in events if e["event"] == "close" and e["node"] == "n1"]
    refusal = next(e for e in closes if e["reason"] == "refused")
    assert accepts[0]["peername"] == refusal["peername"]
    # The flood reached every node over the real links (once: the simulate fixture verifies the trace).
    assert {e["node"] for e in events if e["event"] == "recv" and e["msg_type"] == "flood"} >= {
        f"n{index}" for index in range(1, 40)
    }


@pytest.mark.timeout(60)
def test_a_crash_with_a_huge_message_is_reported_within_bounds(simulate):
    result = simulate("ring:4", app=app("RaisesAHugeMessage"), seed=1, verify_rejects=A_NODE_FAILS)
    (failure,) = result.summary.node_failures
    assert failure.name == "n1" and failure.error.startswith("RuntimeError: AAAA")
    assert failure.error.endswith("characters left out]")
    assert len(failure.error) < 2_000
    assert (result.run_dir / "summary.json").stat().st_size < 200_000
    assert Path(failure.log).stat().st_size < 1_000_000
    crashed = [e for e in load_trace(result.run_dir)[1] if e["event"] == "error" and e["node"] == "n1"]
    assert crashed and all(len(e["error"]) < 2_000 for e in crashed)


@pytest.mark.timeout(60)
def test_an_app_that_kills_the_fork_server_fails_the_run_naming_the_server_not_a_node(simulate):
    result = simulate(
        "ring:4",
        app=app("KillsItsForkServer"),
        seed=1,
        verify_rejects={**A_NODE_FAILS, "sockets_closed": "every node ends at once with its fork server"},
    )
    assert result.summary.exit_status == "failed"
    (failure,) = result.summary.node_failures
    assert (
        failure.name is None and "the fork server" in failure.error and "died during the run" in failure.error
    )

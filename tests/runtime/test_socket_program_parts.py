"""The pure parts of socket programs: per-node addresses, how a call reads in the trace, listener specs."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from netsim.apps.registry import app_spec, is_socket_program, resolve_app
from netsim.errors import AppError
from netsim.runtime.hosts import MAX_NODES, SHARED_HOST, host_index, node_host, node_path_dir, path_index
from netsim.runtime.net import listens, parse_listen_spec
from netsim.runtime.socket_calls import (
    address_json,
    digest,
    errno_name,
    error_text,
    level_name,
    option_name,
    preview,
    shutdown_name,
    transport_name,
)


@pytest.mark.parametrize("index", [0, 1, 254, 255, 256, 4999, MAX_NODES - 1])
def test_every_node_host_maps_back_to_its_index(index: int) -> None:
    host = node_host(37, index)
    assert host.startswith("127.37.")
    assert host_index(37, host) == index


def test_node_hosts_are_distinct_and_never_a_network_or_broadcast_of_the_run() -> None:
    hosts = [node_host(9, index) for index in range(5000)]
    assert len(set(hosts)) == 5000
    assert "127.9.0.0" not in hosts


def test_addresses_of_no_node() -> None:
    assert host_index(37, "127.0.0.1") is None
    assert host_index(37, "127.38.0.1") is None
    assert host_index(37, "127.37.0.0") is None
    assert host_index(37, "10.37.0.1") is None
    assert host_index(37, "127.37.x.1") is None
    assert host_index(0, "127.0.0.1") is None


def test_the_shared_fallback_gives_every_node_127_0_0_1() -> None:
    assert {node_host(0, index) for index in range(10)} == {SHARED_HOST}


def test_node_index_past_the_address_space_is_refused() -> None:
    with pytest.raises(ValueError):
        node_host(5, MAX_NODES)


def test_unix_paths_map_back_to_their_node() -> None:
    base = "/tmp/netsim-1-abc"
    assert path_index(base, f"{node_path_dir(base, 12)}/chat") == 12
    assert path_index(base, f"{base}/12.sock") is None
    assert path_index(base, "/tmp/elsewhere/p1/x") is None
    assert path_index(base, f"{base}/pX/chat") is None


@pytest.mark.parametrize(
    ("family", "kind", "name"),
    [
        (socket.AF_INET, socket.SOCK_STREAM, "tcp"),
        (socket.AF_INET6, socket.SOCK_STREAM, "tcp6"),
        (socket.AF_INET, socket.SOCK_DGRAM, "udp"),
        (socket.AF_INET6, socket.SOCK_DGRAM, "udp6"),
        (socket.AF_UNIX, socket.SOCK_STREAM, "unix"),
        (socket.AF_UNIX, socket.SOCK_DGRAM, "unix-dgram"),
        (socket.AF_UNIX, socket.SOCK_SEQPACKET, "unix-seqpacket"),
        (socket.AF_INET, socket.SOCK_RAW, "AF_INET/SOCK_RAW"),
    ],
)
def test_transport_names(family: int, kind: int, name: str) -> None:
    assert transport_name(family, kind) == name


def test_addresses_as_the_trace_writes_them() -> None:
    assert address_json(("127.2.0.1", 9000)) == ["127.2.0.1", 9000]
    assert address_json(("::1", 9000, 0, 0)) == ["::1", 9000, 0, 0]
    assert address_json("/tmp/x/p0/chat") == "/tmp/x/p0/chat"
    assert address_json(b"\x00c9de6") == "@c9de6"
    assert address_json("\x00name") == "@name"
    assert address_json("") == ""
    assert address_json(None) == ""


def test_option_names_are_the_ones_a_reader_expects() -> None:
    # SO_REUSEADDR shares its number with other families' options: the common name wins.
    assert option_name(socket.SOL_SOCKET, socket.SO_REUSEADDR) == "SO_REUSEADDR"
    assert option_name(socket.SOL_SOCKET, socket.SO_RCVBUF) == "SO_RCVBUF"
    assert option_name(socket.IPPROTO_TCP, socket.TCP_NODELAY) == "TCP_NODELAY"
    assert level_name(socket.SOL_SOCKET) == "SOL_SOCKET"
    assert level_name(12345) == 12345
    assert option_name(socket.SOL_SOCKET, 99999) == 99999
    assert shutdown_name(socket.SHUT_WR) == "SHUT_WR"


def test_payloads_digest_and_preview() -> None:
    assert digest(b"hello") == digest(bytearray(b"hello")) == digest(memoryview(b"xhello")[1:])
    assert len(digest(b"")) == 16
    assert digest(b"hello") != digest(b"hellp")
    assert preview(b"GET / HTTP/1.1\r\n") == "GET / HTTP/1.1\r\n"
    assert preview(b"\xff\x00ok") == "\\xff\x00ok"
    assert len(preview(b"a" * 1000)) == 48


def test_errors_by_name() -> None:
    assert errno_name(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) == "ECONNREFUSED"
    assert errno_name(TimeoutError("timed out")) == "ETIMEDOUT"
    assert errno_name(ValueError("x")) is None
    assert error_text(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        (9000, ("tcp", 9000)),
        ("9000", ("tcp", 9000)),
        ("tcp:80", ("tcp", 80)),
        ("udp:53", ("udp", 53)),
        ("tcp6:9000", ("tcp6", 9000)),
        ("udp6:9000", ("udp6", 9000)),
        ("unix:chat", ("unix", "chat")),
        ("unix-dgram:log", ("unix-dgram", "log")),
        ("unix-seqpacket:s", ("unix-seqpacket", "s")),
    ],
)
def test_listener_specs(spec: int | str, parsed: tuple[str, int | str]) -> None:
    assert parse_listen_spec(spec) == parsed


@pytest.mark.parametrize("spec", [0, 65536, "sctp:9", "tcp:x", "unix:", "unix:a/b", "unix:..", True, 1.5])
def test_bad_listener_specs_say_what_is_accepted(spec: object) -> None:
    with pytest.raises(ValueError, match="listener"):
        parse_listen_spec(spec)  # type: ignore[arg-type]


def test_listens_checks_its_specs_when_main_is_defined() -> None:
    with pytest.raises(ValueError):
        listens("sctp:9")


def main(net: object) -> None:
    """A socket program, for the registry tests."""


def test_a_function_is_a_socket_program_and_a_class_is_not() -> None:
    assert is_socket_program(resolve_app(f"{__file__}:main"))
    assert not is_socket_program(resolve_app("flood"))


def test_app_objects_are_named_by_where_they_are_defined() -> None:
    spec = app_spec(main)
    assert spec.endswith(":main")
    assert resolve_app(spec) is main


def test_app_objects_defined_in_a_function_are_refused_with_the_fix() -> None:
    def local_main(net: object) -> None:
        pass

    with pytest.raises(AppError, match="defined inside a function"):
        app_spec(local_main)
    with pytest.raises(AppError, match="neither"):
        app_spec(42)  # type: ignore[arg-type]


def test_concurrent_runs_hold_different_address_blocks() -> None:
    from netsim.launch.socket_programs import lease_host_base

    leases = [lease_host_base() for _ in range(5)]
    try:
        bases = [lease.base for lease in leases]
        assert all(bases) and len(set(bases)) == 5
    finally:
        for lease in leases:
            lease.close()
    again = lease_host_base()
    again.close()
    assert again.base


def test_listeners_can_be_declared_for_some_nodes_only() -> None:
    from netsim.runtime.net import declared_listeners

    @listens(9000)
    @listens("tcp6:9001", "udp6:9002", nodes=["server"])
    def program(net: object) -> None:
        pass

    assert sorted(map(str, declared_listeners(program, "server"))) == ["9000", "tcp6:9001", "udp6:9002"]
    assert declared_listeners(program, "client") == (9000,)
    with pytest.raises(ValueError, match="collection of node names"):
        listens(9000, nodes="server")


def test_an_app_that_cannot_be_loaded_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.py").write_text("x = (\n")
    (tmp_path / "apps.py").write_text(
        "import netsim\n"
        "class Echo(netsim.App):\n    pass\n"
        "def main(net):\n    pass\n"
        "class _Hidden(netsim.App):\n    pass\n"
    )
    cases = {
        "missing.py:App": ("no such file 'missing.py'", f"from this directory ({tmp_path})"),
        "broken.py:App": ("raised SyntaxError", "`python broken.py` shows the whole traceback"),
        "apps.py:Ecco": ("has no attribute 'Ecco'", "it defines: Echo, main"),
    }
    for spec, (message, hint) in cases.items():
        with pytest.raises(AppError) as caught:
            resolve_app(spec)
        assert message in str(caught.value) and hint in (caught.value.hint or ""), (spec, caught.value.hint)

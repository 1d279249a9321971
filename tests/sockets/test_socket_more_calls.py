"""The socket methods beyond the tutorial's table (sendmsg, sendfile, recvmsg, dup), binds and
connects a tutorial writes with names and wildcards, and programs that fork, leave by os._exit or are
coroutines: each keeps the stream's order, the trace's offsets and the node's name."""

from __future__ import annotations

import errno
import socket

import pytest
from socket_programs import GATHERED
from socket_testing import RunCalls, program, require

from netsim.trace.byte_ranges import BytePair, pair_calls
from netsim.trace.verify import verify_trace


def test_sendmsg_sendfile_dup_and_recvmsg_keep_the_stream_in_order_over_latency(simulate):
    result = simulate("line:2", app=program("gathered_sends"), seed=1, conditions={"latency": "20ms"})
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["got"] == [b"".join(GATHERED)]
    assert run.shown("n1")["sendmsg"] == [len(GATHERED[1]) + len(GATHERED[2])]
    assert run.shown("n1")["sendfile"] == [len(GATHERED[3])]
    sends = [call for call in run.of("n1") if call["call"] in ("sendall", "send", "sendmsg")]
    # Every byte is in a send record, each beginning where the one before ended, the dup's too.
    assert sum(call["nbytes"] for call in sends) == len(b"".join(GATHERED))
    ends = 0
    for call in sends:
        assert call["offset"] == ends
        ends += call["nbytes"]
    assert run.one("n1", "sendmsg")["nbytes"] == len(GATHERED[1]) + len(GATHERED[2])
    assert "dup" in {call["call"] for call in run.of("n1")}
    receives = run.of("n0", "recvmsg")
    assert sum(call["nbytes"] for call in receives) == len(b"".join(GATHERED))
    assert all(call.get("peer") == "n1" for call in receives if call["nbytes"])
    assert verify_trace(result.run_dir).ok


def test_an_ipv6_wildcard_bind_binds_the_loopback_address(simulate):
    require("tcp6")
    result = simulate("line:2", app=program("wildcard6"), seed=1, conditions={"latency": "10ms"})
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["bound"] == [("::1", 6011)]
    assert run.shown("n0")["got"] == [b"over ::1"]
    (send,) = [call for call in run.of("n1", "sendall")]
    assert send["peer"] == "n0"
    assert [event for event in run.kinds("delay", "n1")], "the link's latency applies to the client's bytes"
    assert verify_trace(result.run_dir).ok


def test_connect_ex_returns_the_errno_of_a_partition(simulate):
    faults = ["0.2s partition n0 | n1", "0.9s heal"]
    result = simulate("line:2", app=program("connect_ex_partitioned"), seed=1, faults=faults)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["connect_ex"] == [errno.ENETUNREACH]
    assert run.one("n1", "connect_ex")["result"] == "ENETUNREACH"


def test_a_host_name_of_this_machine_names_the_node(simulate):
    try:
        address = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)[0][4][0]
    except OSError:
        pytest.skip("this machine's host name does not resolve")
    if not address.startswith("127."):
        pytest.skip(f"this machine's host name is {address}, not a loopback address")
    result = simulate("line:2", app=program("hostname_echo"), seed=1)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    connected = [call for call in run.of("n1", "connect_ex") if call["result"] == 0]
    assert connected[-1]["peer"] == "n0"
    assert run.shown("n1")["echo"] == [b"by name"]
    assert all(call.get("peer") == "n1" for call in run.of("n0", "recv"))
    assert verify_trace(result.run_dir).ok


def test_a_forked_child_that_exits_ends_itself_not_its_node(simulate):
    result = simulate("line:2", app=program("forks_and_exits"), seed=1)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["answer"] == [b"HELLO"]
    assert run.shown("n0")["parent"] == ["still working"]


def test_main_leaving_by_os_exit_0_is_a_failure_that_names_its_node(simulate):
    result = simulate("line:2", app=program("leaves_by_os_exit"), seed=1)
    assert not result.ok
    (failure,) = result.summary.node_failures
    assert failure.name == "n0"
    assert "exited with code 0 without reporting" in failure.error


def test_an_async_main_is_run(simulate):
    result = simulate("line:2", app=program("async_main"), seed=1)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["async"] == ["n0"] and run.shown("n1")["async"] == ["n1"]


def test_a_main_without_net_and_a_listener_for_no_node_are_refused_before_the_start(tmp_path):
    import netsim
    from netsim.errors import OptionError

    script = tmp_path / "programs.py"
    script.write_text(
        "import netsim\n"
        "def no_net():\n    pass\n"
        "@netsim.listens(9900, nodes=['sevrer'])\n"
        "def typo(net):\n    pass\n"
    )
    out = tmp_path / "runs"
    with pytest.raises(OptionError, match=r"no_net\(\) cannot be called as main\(net\)"):
        netsim.run("line:2", app=f"{script}:no_net", out=out)
    with pytest.raises(OptionError, match="names sevrer, which is no node of this topology"):
        netsim.run("line:2", app=f"{script}:typo", out=out)
    assert not out.exists()


def test_a_program_that_does_not_import_is_named_by_its_file(tmp_path):
    import netsim
    from netsim.errors import AppError

    script = tmp_path / "broken.py"
    script.write_text("def main(net)\n    pass\n")
    with pytest.raises(AppError, match=r"importing .*broken\.py raised SyntaxError"):
        netsim.run("line:2", app=f"{script}:main", out=tmp_path / "runs")


def test_sending_a_str_and_connecting_to_an_address_as_a_name_say_what_to_do(simulate):
    result = simulate("line:2", app=program("common_mistakes"), seed=1)
    assert result.ok, result.summary
    shown = RunCalls(result.run_dir).shown("n1")
    assert shown["sendall_str"] == ["a bytes-like object is required, not 'str'"]
    assert "is an address, not a node's name" in shown["connect_address"][0]


def test_a_datagram_listener_cannot_be_shared_by_another_process(simulate):
    result = simulate("line:2", app=program("udp_listener_held"), seed=1)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["thief"] == [errno.EADDRINUSE]
    assert run.shown("n0")["got"] == [b"for n0 only"]
    # netsim's own options on a listener are not the program's calls.
    assert not run.of("n0", "setsockopt")


def test_a_descriptor_passed_with_sendmsg_goes_after_the_bytes_the_link_holds(simulate):
    result = simulate("line:2", app=program("passes_a_descriptor"), seed=1, conditions={"latency": "20ms"})
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["got"] == [b"first;second;"]
    assert run.shown("n0")["descriptor"] == [b"sent by n1"]
    sendmsg = run.one("n1", "sendmsg")
    assert sendmsg["args"]["ancillary"] == [["SOL_SOCKET", socket.SCM_RIGHTS, 4]]
    assert (sendmsg["offset"], sendmsg["nbytes"]) == (len(b"first;"), len(b"second;"))


def test_a_detached_descriptor_goes_on_after_what_the_link_held(simulate):
    # As STARTTLS: a line sent over a slow link, then the descriptor handed to ssl (here os.write).
    result = simulate(
        "line:2", app=program("detaches_after_sending"), seed=1, quiet=0.5, conditions={"latency": "20ms"}
    )
    assert result.ok, result.summary
    assert RunCalls(result.run_dir).shown("n0")["got"] == [b"STARTTLS;after the handover;"]


def test_a_default_timeout_leaves_a_blocking_socket_blocking_over_a_slow_link(simulate):
    result = simulate(
        "line:2",
        app=program("default_timeout_then_blocking"),
        seed=1,
        quiet=0.5,
        conditions={"latency": "20ms"},
    )
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["got"] == [b"hello"] and run.shown("n0")["got"] == [b"bye"]


def test_a_socket_closed_under_its_open_file_is_traced_closed_when_the_file_closes(simulate):
    result = simulate("line:2", app=program("reads_its_file_after_close"), seed=1, quiet=0.5)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["got"] == [100_000]
    # The close comes after the last receive the file made, and every byte pairs with its send.
    receives = run.of("n1", "recv_into")
    (close,) = run.of("n1", "close")
    assert receives and close["ts_ns"] > receives[-1]["ts_ns"]
    outcomes = list(pair_calls(run.events))
    assert outcomes and all(isinstance(outcome, BytePair) for outcome in outcomes)
    assert sum(outcome.nbytes for outcome in outcomes) == 100_000


def test_threads_sending_on_one_connection_get_the_offsets_the_kernel_gave_their_bytes(simulate):
    result = simulate("line:2", app=program("threads_share_a_connection"), seed=1, quiet=0.5)
    assert result.ok, result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["got"] == [120_000]
    offsets = sorted(call["offset"] for call in run.of("n1", "sendall"))
    assert offsets == list(range(0, 120_000, 100))
    # And trace verify (run after every simulate) pairs every received byte with its send.


def test_a_node_whose_main_thread_sleeps_is_busy_while_another_thread_waits(simulate):
    result = simulate("line:2", app=program("sleeps_while_a_thread_waits"), seed=1, quiet=0.25)
    assert result.ok, result.summary
    shown = RunCalls(result.run_dir).shown("n1")
    assert shown["answers"] == [[b"QUESTION 0", b"QUESTION 1", b"QUESTION 2"]]


def test_a_receive_with_a_timeout_is_a_timer_not_quiet(simulate):
    # The tutorial's UDP client: it asks again when its timeout passes, longer than --quiet.
    result = simulate("line:2", app=program("asks_again_after_its_timeout"), seed=1, quiet=0.25)
    assert result.ok, result.summary
    assert RunCalls(result.run_dir).shown("n1")["answer"] == [(1, b"QUESTION")]


def test_a_process_pool_ends_its_workers_without_netsims_tracebacks(simulate):
    result = simulate("line:2", app=program("uses_a_process_pool"), seed=1, quiet=0.5)
    assert result.ok, result.summary
    assert RunCalls(result.run_dir).shown("n0")["sum"] == [5050]
    logs = "".join(path.read_text() for path in (result.run_dir / "nodes").glob("*.log"))
    assert "NodeTerminated" not in logs and "Traceback" not in logs, logs

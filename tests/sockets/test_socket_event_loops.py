"""A traced socket is a socket: ``selectors`` and asyncio's ``loop.sock_*`` functions take it, and what
they do on it is traced call by call."""

from __future__ import annotations

from socket_testing import RunCalls, program


def test_selectors_serve_traced_sockets(simulate):
    result = simulate("line:2", app=program("with_selectors"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["answer"] == [b"THROUGH SELECTORS"]
    (accept,) = [call for call in run.of("n0", "accept") if "errno" not in call]
    conn = accept["result"]["sock"]
    assert run.one("n0", "setblocking", conn)["args"] == {"flag": False}
    (received,) = [call for call in run.of("n0", "recv", conn) if call["nbytes"]]
    assert received["preview"] == "through selectors" and received["peer"] == "n1"
    assert run.one("n0", "sendall", conn)["preview"] == "THROUGH SELECTORS"


def test_asyncio_sock_functions_take_traced_sockets(simulate):
    result = simulate("line:2", app=program("with_asyncio"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n1")["answer"] == [b"THROUGH ASYNCIO"]
    # sock_connect: a non-blocking connect, in progress, then done (asyncio asks SO_ERROR).
    (connect,) = run.of("n1", "connect")
    assert connect["errno"] == "EINPROGRESS"
    so_error = run.of("n1", "getsockopt", connect["sock"])
    assert so_error and so_error[-1]["args"]["option"] == "SO_ERROR" and so_error[-1]["result"] == 0
    # sock_accept: EAGAIN until the client came, then the connection, whose peer is n1.
    accepts = run.of("n0", "accept")
    assert {call.get("errno") for call in accepts[:-1]} <= {"EAGAIN"} and "errno" not in accepts[-1]
    conn = accepts[-1]["result"]["sock"]
    assert accepts[-1]["result"]["address"] == connect["sockname"]
    (received,) = [call for call in run.of("n0", "recv", conn) if "errno" not in call]
    assert received["preview"] == "through asyncio" and received["peer"] == "n1"
    sent = [call for call in run.of("n0", "send", conn) + run.of("n0", "sendall", conn) if "nbytes" in call]
    assert sum(call["nbytes"] for call in sent) == len("THROUGH ASYNCIO")
    client_sent = [call for call in run.of("n1", "send") if "nbytes" in call]
    assert [call["preview"] for call in client_sent] == ["through asyncio"]

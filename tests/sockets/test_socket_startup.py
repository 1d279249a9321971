"""What a socket program's node needs is imported once, by the fork server, before it forks nodes."""

from __future__ import annotations

import pytest
from socket_testing import RunCalls, program


@pytest.mark.xfail(
    strict=True,
    reason="netsim/launch/forkserver.py preloads netsim.runtime.socket_program for a run of socket "
    "programs, but not netsim.runtime.traced_socket, which net.py's Net.socket() imports on its first "
    "call: every node imports (and, without bytecode caches, compiles) it itself, ~4 ms a node on an "
    "idle 2-vCPU VM and 30-57 ms under load; @netsim.listens takes ring:100's start-up from "
    "~0.55 s to ~1.2 s",
)
def test_the_traced_socket_module_comes_with_the_node(simulate):
    result = simulate("line:2", app=program("preloaded"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["preloaded"] == run.shown("n1")["preloaded"] == [True]

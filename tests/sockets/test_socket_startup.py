"""What a socket program's node needs is imported once, by the fork server, before it forks nodes."""

from __future__ import annotations

from socket_testing import RunCalls, program


def test_the_traced_socket_module_comes_with_the_node(simulate):
    result = simulate("line:2", app=program("preloaded"), seed=1, quiet=0.3)
    assert result.summary.ended_by == "done", result.summary
    run = RunCalls(result.run_dir)
    assert run.shown("n0")["preloaded"] == run.shown("n1")["preloaded"] == [True]

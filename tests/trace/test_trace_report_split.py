"""The report on two processes (``netsim.trace.report.split``): the same page as one process makes, whichever
analysis fails and whatever becomes of the child, and no process or descriptor left behind."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from netsim_testing import child_pids, write_run
from test_trace_report import header, hostile_events

from netsim.trace.plot_counts import Traffic, count_traffic
from netsim.trace.report import page, render_report, split, write_report
from netsim.trace.report.split import AsideSections, in_page_order

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def hostile_run(tmp_path: Path) -> Path:
    """test_trace_report's run of hostile names: a failed check, an error, a udp link."""
    from test_trace_report import AMP, EVIL, UNICODE

    nodes = ["n0", EVIL, AMP, UNICODE]
    links = [["n0", EVIL, "tcp"], [AMP, UNICODE, "udp"]]
    return write_run(tmp_path / "runs" / "evil", header(nodes, links), hostile_events())


@pytest.fixture
def pids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file each process that reads the trace for the child's sections writes its pid to."""
    record = tmp_path / "pids"
    read = split._read

    def recording(*args: Any) -> Any:
        with record.open("a") as file:
            file.write(f"{os.getpid()}\n")
        return read(*args)

    monkeypatch.setattr(split, "_read", recording)
    return record


def readers(record: Path) -> list[int]:
    return [int(line) for line in record.read_text().split()] if record.exists() else []


@pytest.fixture
def two_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every trace is big enough, and this machine has a second CPU."""
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(split, "second_cpu", lambda: True)
    yield
    assert child_pids() == set(), "the report left a process behind"


def one_process_page(
    run: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, str], dict[str, str]]:
    with monkeypatch.context() as patch:
        patch.setattr(split, "SPLIT_MIN_BYTES", 1 << 62)
        built, build = page._build_page(run, 1000)
    return built, dict(build.unavailable), dict(build.failed)


def two_process_page(run: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    built, build = page._build_page(run, 1000)
    return built, dict(build.unavailable), dict(build.failed)


def open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# -- the same page ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("two_processes")
@pytest.mark.parametrize("run_name", ["hostile_run", "ring_run", "abilene_run"])
def test_the_page_is_the_one_process_page(
    run_name: str, request: pytest.FixtureRequest, pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run: Path = request.getfixturevalue(run_name)
    alone = one_process_page(run, monkeypatch)
    assert readers(pids) == [], "one process reads the trace once"
    descriptors = open_descriptors()
    assert two_process_page(run) == alone
    assert len(readers(pids)) == 1 and readers(pids)[0] != os.getpid(), (
        "a child counted verify and the diagram"
    )
    assert open_descriptors() == descriptors


@pytest.mark.usefixtures("two_processes")
def test_analyses_that_fail_in_the_child_fail_as_in_one_process(
    hostile_run: Path, pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # verify raises on its first events, the diagram cannot be imported, the plot fails to draw: all
    # three are the child's, and the reasons come back in the order one process finds them.
    broken = types.ModuleType("netsim.trace.verify")

    class Verifier:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def add_all(self, *args: Any) -> None:
            raise RuntimeError("verify <broke>")

    broken.Verifier = Verifier  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "netsim.trace.verify", broken)
    monkeypatch.setitem(sys.modules, "netsim.trace.diagram", None)
    import netsim.trace.plot as plot

    def no_png(*args: Any, **kwargs: Any) -> bytes:
        raise ValueError("no picture")

    monkeypatch.setattr(plot, "render_plot_png", no_png)
    alone = one_process_page(hostile_run, monkeypatch)
    assert list(alone[2]) == ["verify", "plot"] and list(alone[1]) == ["diagram"]
    assert two_process_page(hostile_run) == alone
    assert readers(pids)[0] != os.getpid()


@pytest.mark.usefixtures("two_processes")
def test_a_plot_counter_that_fails_is_shown_by_this_process(
    hostile_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netsim.trace import plot_counts

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("counter <broke>")

    monkeypatch.setattr(plot_counts.PlotCounter, "traffic", broken)
    alone = one_process_page(hostile_run, monkeypatch)
    assert alone[2] == {"plot": "RuntimeError: counter <broke>"}
    assert two_process_page(hostile_run) == alone


# -- the diagram, counted by the child and drawn here -------------------------------------------------------


def diagrams_drawn_here(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each two-process page, whether this process drew the diagram from the child's counts."""
    drawn: list[bool] = []
    diagram_counts = split.AsideChild.diagram_counts

    def recording(self: split.AsideChild) -> Any:
        counts = diagram_counts(self)
        drawn.append(counts is not None)
        return counts

    monkeypatch.setattr(split.AsideChild, "diagram_counts", recording)
    return drawn


@pytest.mark.usefixtures("two_processes")
def test_this_process_draws_the_diagram_from_the_childs_counts(
    abilene_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = one_process_page(abilene_run, monkeypatch)
    drawn = diagrams_drawn_here(monkeypatch)
    assert two_process_page(abilene_run) == alone
    assert drawn == [True]


@pytest.mark.usefixtures("two_processes")
def test_counts_the_child_cannot_send_make_its_diagram_there(
    ring_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netsim.trace.diagram.lanes import NodeMessages

    alone = one_process_page(ring_run, monkeypatch)
    drawn = diagrams_drawn_here(monkeypatch)

    def unsendable(self: NodeMessages) -> Any:
        raise TypeError("a node name that is not a string")

    monkeypatch.setattr(NodeMessages, "to_data", unsendable)
    assert two_process_page(ring_run) == alone
    assert drawn == [False]


@pytest.mark.usefixtures("two_processes")
def test_garbled_diagram_counts_leave_the_page_whole(
    ring_run: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from netsim.trace.diagram.lanes import NodeMessages

    alone = one_process_page(ring_run, monkeypatch)
    monkeypatch.setattr(NodeMessages, "to_data", lambda self: {"window": "forged"})
    with caplog.at_level(logging.WARNING, logger=split.__name__):
        assert two_process_page(ring_run) == alone
    assert "not the data of a NodeMessages" in caplog.text


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("two_processes")
def test_counts_this_process_does_not_read_do_not_hold_the_child_up(
    ring_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netsim.trace.diagram.lanes import NodeMessages

    alone = one_process_page(ring_run, monkeypatch)
    to_data = NodeMessages.to_data
    # More than a pipe holds: the child's writer waits for a reader.
    monkeypatch.setattr(NodeMessages, "to_data", lambda self: {**to_data(self), "padding": "x" * (1 << 20)})
    monkeypatch.setattr(split.AsideChild, "diagram_counts", lambda self: None)
    assert two_process_page(ring_run) == alone


# -- the child failing ------------------------------------------------------------------------------------


def _in_the_child(monkeypatch: pytest.MonkeyPatch, act: Callable[[], Any]) -> None:
    """Make the child ``act`` instead of reading the trace (the parent, if it reads it, reads it as ever)."""
    parent = os.getpid()
    read = split._read

    def child_acts(*args: Any) -> Any:
        if os.getpid() != parent:
            act()
        return read(*args)

    monkeypatch.setattr(split, "_read", child_acts)


@pytest.mark.usefixtures("two_processes")
@pytest.mark.parametrize(
    "act",
    [
        pytest.param(lambda: os.kill(os.getpid(), signal.SIGKILL), id="killed"),
        pytest.param(lambda: os._exit(0), id="exits-without-a-word"),
        pytest.param(lambda: (_ for _ in ()).throw(MemoryError()), id="out-of-memory"),
    ],
)
def test_a_child_that_fails_leaves_the_page_whole(
    act: Callable[[], Any], ring_run: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    alone = one_process_page(ring_run, monkeypatch)
    _in_the_child(monkeypatch, act)
    with caplog.at_level(logging.WARNING, logger=split.__name__):
        assert two_process_page(ring_run) == alone
    assert "rendering its sections here" in caplog.text


@pytest.mark.usefixtures("two_processes")
def test_a_child_that_writes_garbage_leaves_the_page_whole(
    ring_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = one_process_page(ring_run, monkeypatch)
    monkeypatch.setattr(AsideSections, "to_json", lambda self: b'{"html": {"verify": "<p>forged</p>"}}')
    assert two_process_page(ring_run) == alone


@pytest.mark.usefixtures("two_processes")
def test_an_error_here_ends_the_child_at_once(ring_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _in_the_child(monkeypatch, lambda: time.sleep(60))

    def broken(self: Any, events: Any) -> None:
        raise RuntimeError("the pass <broke>")

    monkeypatch.setattr(page.TrafficCounter, "add_all", broken)
    descriptors = open_descriptors()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="the pass <broke>"):
        write_report(ring_run, ring_run / "never.html")
    assert time.monotonic() - started < 30
    assert child_pids() == set()
    assert open_descriptors() == descriptors
    assert not (ring_run / "never.html").exists()


# -- when there is one process -----------------------------------------------------------------------------


def test_one_process_below_the_size_or_with_threads(
    hostile_run: Path, pids: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(split, "second_cpu", lambda: True)
    render_report(hostile_run)  # a few KB: far below SPLIT_MIN_BYTES
    assert readers(pids) == []

    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 0)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        render_report(hostile_run)  # a thread runs: no fork
    finally:
        stop.set()
        thread.join()
    assert readers(pids) == []

    monkeypatch.setattr(split, "second_cpu", lambda: False)
    render_report(hostile_run)
    assert readers(pids) == []

    monkeypatch.setattr(split, "second_cpu", lambda: True)
    render_report(hostile_run)
    assert len(readers(pids)) == 1


def test_second_cpu_follows_the_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not split.second_cpu()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3})
    assert split.second_cpu()


# -- what crosses the pipes ---------------------------------------------------------------------------------


def test_traffic_survives_its_json(abilene_run: Path, hostile_run: Path) -> None:
    for run in (abilene_run, hostile_run):
        traffic = count_traffic(run)
        again = Traffic.from_data(orjson.loads(orjson.dumps(traffic.to_data())))
        assert again == traffic
        assert list(again.link_messages) == list(traffic.link_messages)
        assert list(again.node_sent) == list(traffic.node_sent)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"start_ts_ns": 1},
        {**Traffic(1, 2).to_data(), "link_messages": [["a", "b"]]},
        {**Traffic(1, 2).to_data(), "link_bytes": 5},
    ],
)
def test_traffic_refuses_data_of_another_shape(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not the data of a Traffic"):
        Traffic.from_data(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"html": {}, "unavailable": {}, "failed": {}}',
        b'{"html": {"verify": "", "diagram": ""}, "unavailable": {}}',
        b'{"html": {"verify": "", "diagram": 3}, "unavailable": {}, "failed": {}}',
        b'{"html": {"verify": "", "diagram": ""}, "unavailable": {}, "failed": {}',
    ],
)
def test_the_childs_answer_is_checked(data: bytes) -> None:
    with pytest.raises(ValueError):
        AsideSections.from_json(data, {"verify", "diagram"})


def test_the_childs_answer_round_trips() -> None:
    made = AsideSections(
        {"verify": "<p>v</p>", "diagram": "d", "plot": "p"}, {"diagram": "why"}, {"plot": "x"}
    )
    assert AsideSections.from_json(made.to_json(), {"verify", "diagram", "plot"}) == made
    with pytest.raises(ValueError, match="sections"):
        AsideSections.from_json(made.to_json(), {"verify", "diagram"})


def test_reasons_in_page_order() -> None:
    order = ("verify", "stats", "plot", "diagram")
    assert list(in_page_order({"diagram": "d", "other": "o", "verify": "v"}, order)) == [
        "verify",
        "diagram",
        "other",
    ]


def test_a_big_trace_in_a_fresh_process_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No monkeypatching in the process that reports: a trace over the size, on this machine's CPUs."""
    import subprocess

    events = []
    for index in range(60_000):
        sender, receiver = ("n0", "n1") if index % 2 == 0 else ("n1", "n0")
        msg = {
            "transport": "tcp",
            "nbytes": 90,
            "msg_id": f"{sender}:{index}",
            "msg_type": "ping",
            "pad": "x" * 60,
        }
        ts_ns = 7_000_000_000 + 10_000 * index
        events.append(
            {"ts_ns": ts_ns, "node": sender, "event": "send", "peer": receiver, "lamport": 2 * index, **msg}
        )
        events.append(
            {
                "ts_ns": ts_ns + 5_000,
                "node": receiver,
                "event": "recv",
                "peer": sender,
                "lamport": 2 * index + 1,
                **msg,
            }
        )
    run = write_run(tmp_path / "big", header(["n0", "n1"], [["n0", "n1", "tcp"]]), events)
    assert (run / "trace.jsonl").stat().st_size >= split.SPLIT_MIN_BYTES
    script = (
        "import os, sys\n"
        "from netsim.trace.report import split, write_report\n"
        "forks = []\n"
        "real_fork = os.fork\n"
        "def fork():\n"
        "    pid = real_fork()\n"
        "    if pid: forks.append(pid)\n"
        "    return pid\n"
        "os.fork = fork\n"
        "result = write_report(sys.argv[1], sys.argv[2])\n"
        "print(len(forks), split.second_cpu(), result.failed, result.unavailable)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(run), str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    ).stdout.split(maxsplit=1)
    forks, second_cpu = int(out[0]), out[1].startswith("True")
    assert forks == (1 if second_cpu else 0)
    assert out[1].split(maxsplit=1)[1].strip() == "{} {}"
    monkeypatch.setattr(split, "SPLIT_MIN_BYTES", 1 << 62)
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == render_report(run)


@pytest.mark.usefixtures("two_processes")
def test_counts_that_cannot_be_sent_are_drawn_here(ring_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = one_process_page(ring_run, monkeypatch)
    monkeypatch.setattr(Traffic, "to_data", lambda self: {"not JSON": {1, 2}})
    drawn_by: list[int] = []
    plot_html = page.plot_section

    def recording(*args: Any) -> str:
        drawn_by.append(os.getpid())
        return plot_html(*args)

    monkeypatch.setattr(page, "plot_section", recording)
    assert two_process_page(ring_run) == alone
    assert drawn_by == [os.getpid()]

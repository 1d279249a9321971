"""Every number a user gives netsim is checked before anything runs: a bad one is one located line, exit 2.

Each case here used to end in a traceback, a crashed node, a hang, a MemoryError, or a run that went
ahead with a value it could not carry out. Now: exit code 2, exactly one ``error:`` line on stderr that
names the option, the file or the element, no traceback, and no run directory under ``--out``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from netsim_testing import ROOT
from typer.testing import CliRunner

import netsim
from netsim.cli.main import app
from netsim.errors import OptionError

runner = CliRunner()

DIGITS_30 = "123456789012345678901234567890"
DIGITS_400 = "9" * 400
DIGITS_5000 = "9" * 5000

# Each topology file case: (file name, contents): node-link JSON, two nodes a and b and one link.


def _pair(link_attributes: str = "", nodes: str = '{"id": "a"}, {"id": "b"}') -> str:
    extra = f", {link_attributes}" if link_attributes else ""
    return f'{{"nodes": [{nodes}], "links": [{{"source": "a", "target": "b"{extra}}}]}}'


def _geo(latitude: str) -> str:
    a = f'{{"id": "a", "Latitude": {latitude}, "Longitude": 1}}'
    nodes = f'{a}, {{"id": "b", "Latitude": 1, "Longitude": 1}}'
    return _pair('"latency_ms": "geo"', nodes)


TOPOLOGY_FILES: dict[str, tuple[str, str]] = {
    "json-5000-digit-attribute": ("big.json", _pair(f'"weight": {DIGITS_5000}')),
    "latency-1e308": ("latency.json", _pair('"latency_ms": 1e308')),
    "latency-30-digits": ("latency30.json", _pair(f'"latency_ms": {DIGITS_30}')),
    "jitter-1e300": ("jitter.json", _pair('"jitter_ms": 1e300')),
    "loss-400-digits": ("loss.json", _pair(f'"loss": {DIGITS_400}')),
    "bandwidth-400-digits": ("bandwidth.json", _pair(f'"bandwidth": {DIGITS_400}')),
    "queue-30-digits": ("queue.json", _pair(f'"queue": {DIGITS_30}')),
    "queue-1e300": ("queue300.json", _pair('"queue": 1e300')),
    "geo-nan-latitude": ("geo-nan.json", _geo("NaN")),
    "geo-infinite-latitude": ("geo-inf.json", _geo("Infinity")),
    "empty-node-name": (
        "empty-name.json",
        '{"nodes": [{"id": ""}, {"id": "b"}], "links": [{"source": "", "target": "b"}]}',
    ),
}

# (options after `run ring:4`, what the error line names)
RUN_OPTIONS: list[tuple[list[str], str]] = [
    (["--duration", "nan"], "--duration"),
    (["--duration", "inf"], "--duration"),
    (["--duration", "1e308"], "--duration"),
    (["--quiet", "nan"], "--quiet"),
    (["--quiet", "inf"], "--quiet"),
    (["--quiet", "1e308"], "--quiet"),
    (["--seed", "12345678901234567890123"], "--seed"),
    (["--seed", "-9223372036854775809"], "--seed"),
    (["--seed", "9223372036854775808"], "--seed"),
    (["--latency", "1e308"], "--latency"),
    (["--latency", "1e30ms"], "--latency"),
    (["--latency", "nan"], "--latency"),
    (["--latency", "5/1e308"], "--latency"),
    (["--jitter", "1e300"], "--jitter"),
    (["--jitter", DIGITS_30], "--jitter"),
    (["--loss", "nan"], "--loss"),
    (["--loss", DIGITS_30], "--loss"),
    (["--duplicate", "inf"], "--duplicate"),
    (["--reorder", "-1"], "--reorder"),
    (["--bandwidth", "nan"], "--bandwidth"),
    (["--bandwidth", f"{DIGITS_30}Gbit"], "--bandwidth"),
    (["--bandwidth", f"{DIGITS_400}bit"], "--bandwidth"),
    (["--bandwidth", "0.001bit"], "--bandwidth"),
    (["--queue", DIGITS_30], "--queue"),
    (["--queue", DIGITS_5000], "--queue"),
    (["--queue", f"{DIGITS_30}GB"], "--queue"),
    (["--queue", f"{DIGITS_5000}KiB"], "--queue"),
    (["--queue", "²"], "--queue"),
    (["--fault", "every 0.000000001s random-partition"], "at least 1ms"),
    (["--fault", "1e300s kill n1"], "fault schedule"),
    (["--fault", f"{DIGITS_30} kill n1"], "fault schedule"),
    (["--fault", "every 1e300s random-partition"], "fault schedule"),
    (["--fault", "every 1s random-partition from 1e300s"], "fault schedule"),
    (["--fault", "1s slow n0,n1 latency=1e308"], "fault schedule"),
    (["--fault", f"1s slow n0,n1 queue={DIGITS_30}"], "fault schedule"),
    (["--duration", "2", "--fault", "5s kill n1"], "--duration 2s"),
    (["--duration", "2", "--fault", "2s kill n1"], "--duration 2s"),
    (["--duration", "2", "--fault", "every 3s random-partition"], "--duration (2s)"),
    (["--fault", "every 1s random-partition from 5s until 2s"], "'until'"),
]

GENERATOR_SPECS: list[tuple[str, str]] = [
    ("tree:2x99999999999", "tree:2x99999999999"),
    ("tree:99999999999x99999999999", "tree:99999999999x99999999999"),
    (f"complete:{DIGITS_400}", "complete:"),
    (f"random:{DIGITS_400}:0.5", "random:"),
    (f"ring:{DIGITS_5000}", "ring:"),
]


def _assert_one_error_line(result, names: str, out: Path | None = None) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert names in errors[0], errors[0]
    assert len(result.stderr.splitlines()) <= 2, "one error line, and at most a hint"
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), "no run directory for input that cannot run"
    return errors[0]


@pytest.mark.parametrize(("options", "names"), RUN_OPTIONS, ids=lambda value: str(value)[:60])
def test_a_bad_run_option_is_one_line_and_exit_2(options, names, tmp_path):
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", "ring:4", "--out", str(out), *options])
    _assert_one_error_line(result, names, out)


@pytest.mark.parametrize("case", sorted(TOPOLOGY_FILES))
def test_a_bad_number_in_a_topology_file_names_the_file_and_element(case, tmp_path):
    name, text = TOPOLOGY_FILES[case]
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    line = _assert_one_error_line(result, name, out)
    elements = {"empty-node-name": "node #0", "json-5000-digit-attribute": "line 1"}
    assert elements.get(case, "edge a -> b") in line
    assert len(line) < 300, "the error quotes a long number by its length, not its digits"


@pytest.mark.parametrize(("spec", "names"), GENERATOR_SPECS, ids=lambda value: str(value)[:40])
@pytest.mark.timeout(10)
def test_a_generator_asking_for_too_much_is_refused_at_once(spec, names, tmp_path):
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", spec, "--out", str(out)])
    line = _assert_one_error_line(result, names, out)
    assert "more than netsim generates" in line


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


FAULT_FILES: dict[str, tuple[str, bytes, str]] = {
    "yaml-not-utf8": ("faults.yaml", b"faults:\n  - 1s kill n1 \xff\n", "faults.yaml: line 2: not UTF-8"),
    "json-not-utf8": ("faults.json", b'{"faults": ["1s kill n1 \xff"]}', "faults.json: line 1: not UTF-8"),
    "json-5000-digits": (
        "faults.json",
        b'{"faults": [\n  {"at": ' + DIGITS_5000.encode() + b', "kill": "n1"}]}',
        "faults.json: line 2: not valid JSON: a number of 5000 digits",
    ),
    "yaml-5000-digits": (
        "faults.yaml",
        b"faults:\n  - {at: " + DIGITS_5000.encode() + b", kill: n1}\n",
        "faults.yaml: line 2: not valid YAML: a number of 5000 digits",
    ),
}


@pytest.mark.parametrize("case", sorted(FAULT_FILES))
def test_a_bad_fault_file_names_the_file_and_line(case, tmp_path):
    name, data, expected = FAULT_FILES[case]
    path = _write(tmp_path, name, data)
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", "ring:4", "--out", str(out), "--faults", str(path)])
    _assert_one_error_line(result, expected, out)


def test_out_naming_a_file_is_an_error_not_a_mkdir_traceback(tmp_path):
    existing = _write(tmp_path, "not-a-dir", b"")
    result = runner.invoke(app, ["run", "ring:4", "--out", str(existing)])
    _assert_one_error_line(result, "--out")
    result = runner.invoke(app, ["run", "ring:4", "--out", str(existing / "runs")])
    _assert_one_error_line(result, "--out")
    assert existing.read_bytes() == b""


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        (["topo", "show", "ring:4", "--latency", "1e308"], "--latency"),
        (["topo", "show", "random:10:0.5", "--seed", DIGITS_30], "--seed"),
        (["topo", "validate", "random:10:0.5", "--seed", DIGITS_30], "--seed"),
        (["topo", "gen", "ring", "8", "-o", "{tmp}/x.json", "--seed", DIGITS_30], "--seed"),
        (["topo", "gen", "tree", "2", "99999999999", "-o", "{tmp}/x.json"], "tree:2:99999999999"),
        (["topo", "gen", "complete", DIGITS_400, "-o", "{tmp}/x.json"], "complete:"),
    ],
    ids=lambda value: " ".join(value)[:50] if isinstance(value, list) else value,
)
@pytest.mark.timeout(10)
def test_topo_commands_check_their_numbers(arguments, names, tmp_path):
    result = runner.invoke(app, [argument.replace("{tmp}", str(tmp_path)) for argument in arguments])
    _assert_one_error_line(result, names)
    assert not (tmp_path / "x.json").exists()


def test_topo_validate_refuses_an_empty_node_name(tmp_path):
    path = tmp_path / "empty-name.json"
    path.write_text(TOPOLOGY_FILES["empty-node-name"][1])
    result = runner.invoke(app, ["topo", "validate", str(path)])
    assert "node #0" in _assert_one_error_line(result, "empty-name.json")


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"duration": "5"}, "--duration"),
        ({"duration": True}, "--duration"),
        ({"quiet": float("nan")}, "--quiet"),
        ({"startup_timeout": float("nan")}, "startup_timeout"),
        ({"startup_timeout": 1e9}, "startup_timeout"),
        ({"seed": 2**63}, "--seed"),
        ({"seed": 1.5}, "--seed"),
        ({"conditions": {"latency_ms": 10**400}}, "--latency"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_the_python_api_checks_the_same_numbers(arguments: dict, names: str, runs_dir: Path) -> None:
    check: Callable[[], object] = lambda: netsim.run("ring:3", out=runs_dir, **arguments)  # noqa: E731
    with pytest.raises(OptionError, match=names):
        check()
    assert not runs_dir.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("options", [["--duration", "nan"], ["--seed", "12345678901234567890123"]])
def test_a_bad_number_as_a_real_command(options, tmp_path):
    out = tmp_path / "runs"
    completed = subprocess.run(
        [sys.executable, "-m", "netsim", "run", "ring:4", "--out", str(out), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and options[0] in errors[0], completed.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "arguments",
    [
        ["events", "RUN", "--since", "nan"],
        ["events", "RUN", "--until", "inf"],
        ["diagram", "RUN", "-o", "OUT.svg", "--until", "inf"],
        ["plot", "RUN", "-o", "OUT.png", "--seed", "-1"],
        ["plot", "RUN", "-o", "OUT.png", "--seed", str(2**32)],
    ],
    ids=lambda value: " ".join(value[2:]),
)
def test_trace_commands_check_their_numbers(arguments, tmp_path):
    from netsim_testing import trace_header, write_run

    run = write_run(tmp_path / "run", trace_header(["a", "b"], [["a", "b"]]), [])
    arguments = [str(run) if a == "RUN" else a.replace("OUT", str(tmp_path / "out")) for a in arguments]
    result = runner.invoke(app, ["trace", *arguments])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.timeout(120)
def test_a_large_sparse_random_graph_is_drawn_in_time_linear_in_its_links() -> None:
    """Four times the nodes at the same mean degree: about four times the time, not sixteen (trying
    every pair of nodes took 3.2 s at 10,000 nodes and 44 s at 40,000 here)."""
    from netsim.topology import load_topology

    def best_of_two(spec: str) -> float:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            load_topology(spec, seed=1)
            times.append(time.perf_counter() - started)
        return min(times)

    small, large = best_of_two("random:10000:0.0004"), best_of_two("random:40000:0.0001")
    assert large < 9 * small, (small, large)


def test_placement_without_a_cluster_and_an_empty_topology_are_one_line(tmp_path):
    for arguments, says in (
        (["run", "ring:3", "--placement", "bogus"], "--placement 'bogus' places nodes on a cluster's hosts"),
        (["run", "", "--out", str(tmp_path)], "no topology given"),
        (["topo", "validate", " "], "no topology given"),
    ):
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2, result.output
        assert says in result.output

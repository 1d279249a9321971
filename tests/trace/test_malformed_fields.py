"""A trace whose fields have the wrong types (hand-edited, or hostile): every trace command says which
line and which field, exit 2, instead of a traceback from the analysis that met it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from netsim_testing import Simulations
from typer.testing import CliRunner

from netsim.cli.main import app
from netsim.trace.field_types import first_malformed, record_problem

runner = CliRunner()
COMMANDS = [
    ["summary"],
    ["stats"],
    ["verify"],
    ["events"],
    ["diagram", "-o", "OUT/d.svg"],
    ["export", "--sqlite", "OUT/t.sqlite"],
]


@pytest.fixture(scope="module")
def clean_trace(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    simulations = Simulations(tmp_path_factory.mktemp("runs"))
    result = simulations("ring:3", app="echo", seed=1)
    assert result.ok
    return (result.run_dir / "trace.jsonl").read_bytes().splitlines(keepends=True)


def with_field(lines: list[bytes], event: str, field: str, value: Any) -> tuple[list[bytes], int]:
    """The trace with ``field`` of the first ``event`` set to ``value``, and that line's number."""
    for number, line in enumerate(lines[1:], 2):
        record = orjson.loads(line)
        if record["event"] == event and (field in record or field not in ("sockname", "peername")):
            record[field] = value
            return [*lines[: number - 1], orjson.dumps(record) + b"\n", *lines[number:]], number
    raise AssertionError(f"no {event} event")


@pytest.mark.parametrize(
    ("event", "field", "value", "says"),
    [
        ("send", "peer", ["x"], "field 'peer' must be a string, found a list"),
        ("recv", "nbytes", "10", "field 'nbytes' must be an integer, found a string"),
        ("send", "lamport", True, "field 'lamport' must be an integer, found a boolean"),
        ("connect", "sockname", {"host": 1}, "field 'sockname' must be an address"),
        ("send", "msg_id", 7, "field 'msg_id' must be a string, found an integer"),
    ],
)
def test_a_field_of_the_wrong_type_is_named_by_every_command_that_meets_it(
    clean_trace: list[bytes], tmp_path: Path, event: str, field: str, value: Any, says: str
) -> None:
    lines, number = with_field(clean_trace, event, field, value)
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(b"".join(lines))
    found = first_malformed(trace)
    assert found is not None and found[0] == number and says in found[1]
    for command in COMMANDS:
        arguments = [part.replace("OUT", str(tmp_path)) for part in command]
        result = runner.invoke(app, ["trace", arguments[0], str(trace), *arguments[1:]])
        # A command that does not use the field may pass (verify: or fail its checks, exit 1); one that
        # trips on it names it.
        if result.exit_code not in (0, 1) or command[0] != "verify" and result.exit_code != 0:
            assert result.exit_code == 2, (command, result.output)
            assert f"trace.jsonl:{number}: {says}" in " ".join(result.output.split()), (
                command,
                result.output,
            )
        assert "Traceback" not in result.output


def test_a_header_whose_topology_is_not_a_list_of_names(clean_trace: list[bytes], tmp_path: Path) -> None:
    header = orjson.loads(clean_trace[0])
    header["topology"]["nodes"] = 5
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(orjson.dumps(header) + b"\n" + b"".join(clean_trace[1:]))
    result = runner.invoke(app, ["trace", "summary", str(trace)])
    assert result.exit_code == 2, result.output
    assert "trace.jsonl:1: the header's topology 'nodes' must be a list of node names" in result.output


def test_a_valid_record_has_no_problem(clean_trace: list[bytes], tmp_path: Path) -> None:
    assert all(record_problem(orjson.loads(line)) is None for line in clean_trace[1:])
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(b"".join(clean_trace))
    assert first_malformed(trace) is None


def test_the_python_api_names_the_line_too(clean_trace: list[bytes], tmp_path: Path) -> None:
    from netsim.errors import TraceFormatError
    from netsim.trace import summarize_trace

    header = orjson.loads(clean_trace[0])
    header["topology"]["nodes"] = 5
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes(orjson.dumps(header) + b"\n" + b"".join(clean_trace[1:]))
    with pytest.raises(TraceFormatError, match="trace.jsonl:1: the header's topology 'nodes'"):
        summarize_trace(trace)

"""docs/services.md stays true to the services: its example exchanges are replayed against them, reply
for reply in the same field order, and its error table lists the codes they answer with."""

from __future__ import annotations

import random
import re
from pathlib import Path

import orjson
import pytest

from netsim.wire.maelstrom import ERROR_CODES
from netsim.workloads.services import (
    KEY_DOES_NOT_EXIST,
    MALFORMED_REQUEST,
    NOT_SUPPORTED,
    PRECONDITION_FAILED,
    SERVICE_NAMES,
    SERVICES,
)
from netsim.workloads.services.last_write_wins import DEFAULT_CONVERGENCE_NS, DEFAULT_REPLICAS
from netsim.workloads.services.sequential import DEFAULT_HISTORY_WRITES

DOC = Path(__file__).parents[2] / "docs" / "services.md"
EXAMPLE = re.compile(r"<!-- example: (?P<service>[\w-]+) -->\n```text\n(?P<lines>.*?)```", re.S)
LINE = re.compile(r"(?P<src>\S+) (?P<direction>[<>]) (?P<body>\{.*\})")


def examples() -> dict[str, list[tuple[str, str, dict]]]:
    found = {}
    for match in EXAMPLE.finditer(DOC.read_text()):
        lines = []
        for line in match["lines"].splitlines():
            parsed = LINE.fullmatch(line)
            assert parsed, (
                f"docs/services.md, {match['service']} example: not 'SRC > BODY' or 'SRC < BODY': {line}"
            )
            lines.append((parsed["src"], parsed["direction"], orjson.loads(parsed["body"])))
        found[match["service"]] = lines
    return found


def test_the_doc_has_its_examples() -> None:
    assert set(examples()) == {"lin-kv", "lin-tso"}


@pytest.mark.parametrize("service_name", ["lin-kv", "lin-tso"])
def test_each_example_exchange_is_what_the_service_answers(service_name: str) -> None:
    service = SERVICES[service_name](random.Random(0))
    lines = examples()[service_name]
    assert [direction for _, direction, _ in lines] == [">", "<"] * (len(lines) // 2)
    for index in range(0, len(lines), 2):
        src, _, request = lines[index]
        reply_src, _, expected = lines[index + 1]
        assert reply_src == src
        reply = service.handle(src, request, index)
        assert reply is not None and list(reply.items()) == list(expected.items()), (request, reply)


def test_the_error_table_lists_the_codes_the_services_answer_with() -> None:
    table = re.findall(r"^\| (\d+) \| ([\w-]+) \|", DOC.read_text(), re.M)
    codes = {NOT_SUPPORTED, MALFORMED_REQUEST, KEY_DOES_NOT_EXIST, PRECONDITION_FAILED}
    assert [int(code) for code, _ in table] == sorted(codes)
    assert all(ERROR_CODES[int(code)][0] == name for code, name in table)


def test_every_service_has_a_section_and_the_defaults_are_the_codes() -> None:
    text = DOC.read_text()
    for name in SERVICE_NAMES:
        assert f"\n## {name}\n" in text
    assert f"({DEFAULT_HISTORY_WRITES} by default" in text
    assert f"copies ({DEFAULT_REPLICAS} by default)" in text
    assert f"({DEFAULT_CONVERGENCE_NS // 1_000_000} ms by default)" in text

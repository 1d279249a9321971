"""docs/testing.md is held to the code: its example, copied as a user would copy it, passes under pytest,
and every ``run.<name>`` it mentions is one of ``Run``'s."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from netsim_testing import PLUGIN_ARGS

import netsim

DOC = Path(__file__).parents[2] / "docs" / "testing.md"


def example_files() -> dict[str, str]:
    """The doc's Python blocks that begin with ``# <file>.py``: the files of its example."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    return {
        match.group(1): block
        for block in blocks
        if (match := re.fullmatch(r"# (\S+\.py)", block.splitlines()[0]))
    }


def test_the_example_passes(pytester: pytest.Pytester) -> None:
    files = example_files()
    assert sorted(files) == ["broadcast.py", "test_broadcast.py"]
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=5)


def test_every_run_attribute_the_doc_names_exists() -> None:
    names = set(re.findall(r"\brun\.([a-z_]+)", DOC.read_text()))
    assert {"ok", "events", "messages", "records", "verify", "report_path"} <= names
    fields = {field.name for field in dataclasses.fields(netsim.Run)}
    assert sorted(name for name in names if not (hasattr(netsim.Run, name) or name in fields)) == []

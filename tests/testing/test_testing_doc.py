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


def test_the_failures_the_doc_shows_are_the_ones_pytest_prints(pytester: pytest.Pytester) -> None:
    """The doc's two failure excerpts: the first test without ``exclude=["n0"]``, and ``on_message``
    reading ``message.body["hop"]``. Their lines that name no run, path or pid must be printed as shown."""
    files = example_files()
    variants = [
        (files["broadcast.py"], files["test_broadcast.py"].replace(', exclude=["n0"])', ")")),
        (files["broadcast.py"].replace('message.body["hops"] + 1', 'message.body["hop"] + 1'), None),
    ]
    shown = re.findall(r"```\n(E       AssertionError:.*?)```", DOC.read_text(), re.S)
    assert len(shown) == len(variants)
    for (broadcast, tests), block in zip(variants, shown, strict=True):
        (pytester.path / "broadcast.py").write_text(broadcast)
        (pytester.path / "test_broadcast.py").write_text(tests or files["test_broadcast.py"])
        result = pytester.runpytest_subprocess(
            *PLUGIN_ARGS,
            "-p",
            "no:cacheprovider",
            "-k",
            "test_every_node_gets_the_value and tcp",
            timeout=120,
        )
        printed = result.stdout.str()
        stable = [
            line
            for line in block.splitlines()
            # Names of runs, paths, pids, and how many copies each node got (the flood's races) vary.
            if not re.search(r"run \d{8}-|/tmp/|/home/|pid \d|^E +\.\.\.$|^E +received: ", line)
        ]
        missing = [line for line in stable if line not in printed]
        assert not missing, printed

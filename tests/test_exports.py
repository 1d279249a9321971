"""The public surface of ``import netsim``: pinned, documented, typed and cheap to import."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import netsim
import netsim.errors

PUBLIC_NAMES = [
    "App",
    "AppError",
    "CodecError",
    "ConditionError",
    "FaultError",
    "InputError",
    "LimitError",
    "Message",
    "MessageTooLarge",
    "Net",
    "NetsimError",
    "NodeContext",
    "NodeCrashed",
    "NodeFailedToStart",
    "OptionError",
    "ProgramFailed",
    "Run",
    "RunError",
    "RunResult",
    "RunSummary",
    "StartupError",
    "Topology",
    "TopologyError",
    "TraceFormatError",
    "TracedSocket",
    "TransportError",
    "__version__",
    "listens",
    "load_topology",
    "run",
]


def test_all_is_pinned() -> None:
    assert netsim.__all__ == PUBLIC_NAMES


@pytest.mark.parametrize("name", [name for name in PUBLIC_NAMES if name != "__version__"])
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(netsim, name)
    assert inspect.getdoc(value), f"netsim.{name} has no docstring"
    assert name in dir(netsim)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        netsim.nonesuch  # noqa: B018


def test_run_has_its_real_signature() -> None:
    parameters = inspect.signature(netsim.run).parameters
    assert not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters.values())
    assert {"topology", "app", "transport", "duration", "seed", "check"} <= set(parameters)
    assert not any(
        p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in inspect.signature(netsim.load_topology).parameters.values()
    )


def test_the_error_tree_is_the_one_in_netsim_errors() -> None:
    """Every exception class the package exports is a NetsimError defined in netsim.errors, and the
    module's docstring draws every class of the tree."""
    defined = {
        name: value
        for name, value in vars(netsim.errors).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == "netsim.errors"
    }
    exported = {
        name
        for name in PUBLIC_NAMES
        if name.endswith("Error")
        or name in ("NodeCrashed", "NodeFailedToStart", "MessageTooLarge", "ProgramFailed")
    }
    assert exported == set(defined)
    for name, value in defined.items():
        assert issubclass(value, netsim.NetsimError)
        assert name in (netsim.errors.__doc__ or ""), f"{name} is missing from the tree in netsim.errors"


def test_the_package_is_typed() -> None:
    assert (Path(netsim.__file__).parent / "py.typed").is_file()


def test_import_netsim_is_cheap() -> None:
    """``import netsim`` loads none of the launcher, the runtime, networkx or the trace tools."""
    code = (
        "import sys, netsim\n"
        "heavy = [m for m in ('netsim.launch', 'netsim.runtime', 'netsim.trace', 'netsim.topology', "
        "'networkx', 'multiprocess', 'matplotlib', 'typer') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def issubclass_safe(value: object, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)


def test_every_public_name_has_one_home() -> None:
    assert sorted([*netsim._HOMES, "__version__"]) == netsim.__all__

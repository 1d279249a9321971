"""wire and topology are the pure layers: they import no process or socket code, not even lazily.

Read from the source (every import statement, in functions too), because importing ``netsim`` itself
brings in higher layers that these packages do not ask for.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NETSIM = Path(__file__).resolve().parents[2] / "netsim"
FORBIDDEN = ("socket", "selectors", "subprocess", "multiprocessing", "multiprocess", "asyncio")
FORBIDDEN_NETSIM = ("transport", "runtime", "launch", "cli", "apps", "trace")


def imported_modules(path: Path) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    return modules


def is_forbidden(module: str) -> bool:
    top, _, rest = module.partition(".")
    if top == "netsim":
        return rest.split(".")[0] in FORBIDDEN_NETSIM
    return top in FORBIDDEN


@pytest.mark.parametrize("package", ["wire", "topology"])
def test_package_imports_no_process_or_socket_code(package: str) -> None:
    files = sorted((NETSIM / package).rglob("*.py"))
    assert files
    found = {
        f"{path.relative_to(NETSIM.parent)}: {module}"
        for path in files
        for module in imported_modules(path)
        if is_forbidden(module)
    }
    assert not found


def test_the_check_sees_a_forbidden_import() -> None:
    assert (
        is_forbidden("socket")
        and is_forbidden("netsim.runtime.node")
        and is_forbidden("multiprocessing.pool")
    )
    assert not is_forbidden("netsim.errors") and not is_forbidden("netsim.vocabulary")
    assert not is_forbidden("networkx") and not is_forbidden("socketserverlike")

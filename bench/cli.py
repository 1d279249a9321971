"""CLI responsiveness: the wall time of whole ``netsim`` commands, each in a fresh process.

    python bench/cli.py [--repeat 9] [--no-imports]

Times, from spawn to exit, ``netsim --version``, ``netsim --help``, ``netsim topo validate`` on a
5-node GML and a 5-node GraphML file, and ``netsim run ring:4 --app flood`` (its run directory in a
temporary directory), each as ``python -m netsim ...`` in a fresh interpreter. Beside them, measured in
the same run: ``python -c pass`` (the interpreter alone), ``python -c "import typer"``, and two floors
of any typer CLI, a one-command typer app printing its rich ``--help`` and the same app run with one
string argument (typer converts every argument and option that is not a flag through a pydantic
``TypeAdapter``, so any command that takes one imports pydantic).

The cases run round-robin, once each per round, so that a busy moment on a shared VM slows every case
alike; the first round is a warm-up and is not timed. Besides the wall time, the CPU time the process
and its children used (user + system, from ``getrusage``) is shown: on a loaded VM it moves far less
than the wall time. The children may write bytecode caches (the bench clears
``PYTHONDONTWRITEBYTECODE`` for them), so the timed runs read compiled modules as an installed netsim
does; the warm-up writes any that are missing. Output goes to pipes, not a terminal.

Goals (issue 15), judged on the median wall time: ``--version`` and ``--help`` under 0.15 s,
``topo validate`` on a small file under 0.3 s, ``run ring:4 --app flood`` under 0.6 s. Unless
``--no-imports``, one more run of each netsim case under ``python -X importtime`` shows where its
import time goes, per top-level package (importtime's own overhead inflates those figures: compare
them with each other, not with the wall times).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from _common import Spread, child_pids, console, machine_line, make_table, ratio, temp_dir

CHILD_TIMEOUT_S = 60.0

# Five nodes in a ring, as GML and as GraphML: what a user validates by hand.
RING5_GML = "graph [\n" + "".join(f'  node [ id {i} label "n{i}" ]\n' for i in range(5))
RING5_GML += "".join(f"  edge [ source {i} target {(i + 1) % 5} ]\n" for i in range(5)) + "]\n"
RING5_GRAPHML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
    '  <key id="transport" for="edge" attr.name="transport" attr.type="string"/>\n'
    '  <graph id="ring5" edgedefault="undirected">\n'
    + "".join(f'    <node id="n{i}"/>\n' for i in range(5))
    + "".join(
        f'    <edge source="n{i}" target="n{(i + 1) % 5}"><data key="transport">tcp</data></edge>\n'
        for i in range(5)
    )
    + "  </graph>\n</graphml>\n"
)

# A one-command typer app (the argv it runs with is appended): what any typer CLI pays.
TYPER_APP = textwrap.dedent(
    """\
    import typer

    app = typer.Typer(add_completion=False)

    @app.command()
    def hello(name: str) -> None:
        \"\"\"Say hello.\"\"\"
        typer.echo(f"hello {name}")

    """
)

# The import table's columns, in this order: a column sums the top-level packages it names (rich with
# markdown-it and pygments, pydantic with its own dependencies, multiprocess with dill; numpy, which
# networkx's GraphML reader imports); every other package (the standard library, orjson, msgspec, ...)
# counts as "other".
PACKAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "netsim": ("netsim",),
    "typer": ("typer",),
    "rich": ("rich", "markdown_it", "mdurl", "pygments"),
    "pydantic": ("pydantic", "pydantic_core", "annotated_types", "typing_inspection"),
    "networkx": ("networkx",),
    "numpy": ("numpy",),
    "multiprocess": ("multiprocess", "dill"),
}


@dataclass(frozen=True, slots=True)
class Case:
    """One command line to time: its label, the interpreter's arguments, and its goal in seconds."""

    label: str
    argv: tuple[str, ...]
    goal_s: float | None = None

    @property
    def is_netsim(self) -> bool:
        return self.argv[:2] == ("-m", "netsim")


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    cpu_s: float  # user + system, the process and every child it waited for


def make_cases(work_dir: Path) -> list[Case]:
    gml, graphml, runs = work_dir / "ring5.gml", work_dir / "ring5.graphml", work_dir / "runs"
    gml.write_text(RING5_GML)
    graphml.write_text(RING5_GRAPHML)
    netsim = ("-m", "netsim")
    return [
        Case("python -c pass", ("-c", "pass")),
        Case('python -c "import typer"', ("-c", "import typer")),
        Case("typer app --help (floor)", ("-c", TYPER_APP + 'app(["--help"], prog_name="hello")')),
        Case("typer app NAME (floor)", ("-c", TYPER_APP + 'app(["world"], prog_name="hello")')),
        Case("netsim --version", (*netsim, "--version"), 0.15),
        Case("netsim --help", (*netsim, "--help"), 0.15),
        Case("netsim topo validate ring5.gml", (*netsim, "topo", "validate", str(gml)), 0.3),
        Case("netsim topo validate ring5.graphml", (*netsim, "topo", "validate", str(graphml)), 0.3),
        Case(
            "netsim run ring:4 --app flood",
            (*netsim, "run", "ring:4", "--app", "flood", "--seed", "1", "--out", str(runs)),
            0.6,
        ),
    ]


def child_env() -> dict[str, str]:
    """This process's environment (PYTHONPATH included), with bytecode caches allowed."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(case: Case, env: dict[str, str], extra: tuple[str, ...] = ()) -> tuple[Sample, str]:
    """Run ``case`` once: its times and its stderr. Exits the bench if the command fails."""
    argv = [sys.executable, *extra, *case.argv]
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    wall_s = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{case.label}: exit code {completed.returncode}\n{completed.stderr[-2000:]}")
    return Sample(wall_s, children_cpu_s() - cpu_before), completed.stderr


def import_times(case: Case, env: dict[str, str]) -> dict[str, float]:
    """Self import time in seconds per top-level package, from one run under ``-X importtime``."""
    _, stderr = run_once(case, env, ("-X", "importtime"))
    per_package: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if self_us.isdigit():  # not the header line
            per_package[name.split(".")[0]] += int(self_us) / 1e6
    return per_package


def report(samples: dict[Case, list[Sample]], imports: dict[Case, dict[str, float]], repeat: int) -> None:
    out = console()
    out.print(f"[bold]bench/cli.py[/bold]: {machine_line()}")
    out.print(
        f"{repeat} timed round(s) after one warm-up, the cases round-robin; cells are median (min-max) "
        "ms of the whole process, spawn to exit; bytecode caches allowed."
    )
    out.print()
    wall = {case: Spread.of([sample.wall_s for sample in values]) for case, values in samples.items()}
    cpu = {case: Spread.of([sample.cpu_s for sample in values]) for case, values in samples.items()}
    bare, typer_import = (wall[case] for case in list(samples)[:2])
    rows = []
    verdicts: list[tuple[Case, float, str]] = []
    for case in samples:
        goal = verdict = "-"
        if case.goal_s is not None:
            goal = f"< {case.goal_s * 1e3:.0f}"
            verdict = "PASS" if wall[case].median < case.goal_s else "MISS"
            verdicts.append((case, case.goal_s, verdict))
        rows.append(
            [
                case.label,
                wall[case].format(0, 1e3),
                ratio(wall[case].median, bare.median),
                ratio(wall[case].median, typer_import.median),
                cpu[case].format(0, 1e3),
                goal,
                verdict,
            ]
        )
    out.print(
        make_table(
            "A command in a fresh process",
            ["case", "wall ms", "vs python -c pass", "vs import typer", "CPU ms", "goal ms", "verdict"],
            rows,
            caption=(
                "Each case is `python ARGS`, netsim's as `python -m netsim ...`. CPU: user + system time of "
                "the process and its children (the run's nodes). The topology files are 5-node rings; the "
                "run writes its run directory into a temporary directory."
            ),
        )
    )
    if imports:
        grouped = {name for packages in PACKAGE_COLUMNS.values() for name in packages}
        rows = []
        for case, times in imports.items():
            cells = []
            for packages in PACKAGE_COLUMNS.values():
                loaded = [times[name] for name in packages if name in times]
                cells.append(f"{sum(loaded) * 1e3:.0f}" if loaded else "-")
            other = sum(value for name, value in times.items() if name not in grouped)
            rows.append([case.label, *cells, f"{other * 1e3:.0f}", f"{sum(times.values()) * 1e3:.0f}"])
        out.print(
            make_table(
                "Import time by top-level package, ms (one run under -X importtime; '-': not imported)",
                ["case", *PACKAGE_COLUMNS, "other", "total"],
                rows,
                caption=(
                    "Self times summed over each package's modules; 'other' is the standard library and the "
                    "rest. The run case counts its node processes' imports too."
                ),
            )
        )
    out.print()
    for case, goal_s, verdict in verdicts:
        out.print(
            f"Goal: {case.label} under {goal_s * 1e3:.0f} ms: [bold]{verdict}[/bold] "
            f"(median {wall[case].median * 1e3:.0f} ms)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per case (default 9)")
    parser.add_argument(
        "--no-imports", action="store_true", help="skip the -X importtime run of each netsim case"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    env = child_env()
    with temp_dir("netsim-bench-cli-") as work:
        cases = make_cases(Path(work))
        samples: dict[Case, list[Sample]] = {case: [] for case in cases}
        for round_number in range(args.repeat + 1):
            for case in cases:
                sample, _ = run_once(case, env)
                if round_number:  # round 0 warms the caches up
                    samples[case].append(sample)
            if round_number:
                print(f"  round {round_number}/{args.repeat} done", file=sys.stderr)
        imports = {}
        if not args.no_imports:
            imports = {case: import_times(case, env) for case in cases if case.is_netsim}
    report(samples, imports, args.repeat)
    leftover = child_pids()
    console().print(f"Leftover child processes: {len(leftover)}{' ' + str(leftover) if leftover else ''}")
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())

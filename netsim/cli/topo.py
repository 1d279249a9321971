"""``netsim topo``: generate, show and validate topologies (a thin skin over ``netsim.topology``).

Each command imports the library functions it calls: the file parsers, the writers and ``describe``
load networkx, which the help does without (it names only the extensions and generator forms), and
only ``show`` draws tables.
"""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netsim.cli.common import handles_errors, stderr, stdout
from netsim.cli.terminal import visible, visible_markup
from netsim.errors import ConditionError, OptionError
from netsim.topology import EXTENSION_FORMATS, GENERATOR_FORMS
from netsim.vocabulary import DEFAULT_TRANSPORT

if TYPE_CHECKING:
    from rich.table import Table

    from netsim.topology.model import Topology

app = typer.Typer(
    help="Generate, inspect and validate topologies (GML, GraphML, node-link JSON, edge lists, generators).",
    no_args_is_help=True,
)

_SPEC_HELP = "A topology file (.gml, .graphml, .json, .edgelist, .adjlist) or a generator spec (ring:8)."
_FORMATS = ", ".join(EXTENSION_FORMATS)

SpecArgument = Annotated[str, typer.Argument(metavar="FILE_OR_SPEC", help=_SPEC_HELP)]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed for the random generator (random:N:P).")]


@app.command("gen")
@handles_errors
def gen_command(
    kind: Annotated[
        str, typer.Argument(metavar="KIND", help=f"Generator kind: {', '.join(GENERATOR_FORMS)}.")
    ],
    args: Annotated[
        list[str],
        typer.Argument(metavar="ARGS", help="Its arguments, e.g. 8 (ring), 4x4 (grid), 50 0.1 (random)."),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help=f"File to write; its extension picks the format ({_FORMATS})."),
    ],
    seed: SeedOption = None,
) -> None:
    """Generate a topology and write it to a file, e.g. `netsim topo gen grid 4x4 -o grid.graphml`."""
    from netsim.topology import canonical_spec, from_graph, generate_graph, write_topology

    spec = canonical_spec(kind, args)
    topology = from_graph(generate_graph(kind, args, seed), spec)
    write_topology(topology, output)
    stderr.print(
        f"wrote {visible_markup(output)}: {len(topology.nodes)} nodes, {len(topology.links)} links",
        highlight=False,
    )


@app.command("show")
@handles_errors
def show_command(
    spec: SpecArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the description as JSON.")] = False,
    nodes: Annotated[bool, typer.Option("--nodes", help="Also list every node.")] = False,
    links: Annotated[bool, typer.Option("--links", help="Also list every link.")] = False,
    latency: Annotated[
        str | None, typer.Option("--latency", help="Default link latency to show, e.g. 10ms or geo.")
    ] = None,
    seed: SeedOption = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Also show where a run on this Ray cluster would put each node (ray, ray://HOST:PORT or "
            "HOST:PORT), and how many links would cross hosts.",
        ),
    ] = None,
    placement: Annotated[
        str, typer.Option("--placement", help="With --cluster: balanced, spread or pack.")
    ] = "balanced",
) -> None:
    """Describe a topology: size, transports, apps, degrees, components, link conditions, warnings."""
    from netsim.shaping.conditions import check_condition
    from netsim.shaping.links import link_condition_rows, topology_conditions
    from netsim.topology import describe, load_topology

    if latency is not None:
        try:
            check_condition("latency", latency)
        except ConditionError as error:
            raise OptionError(f"--latency: {error}") from None
    topology = load_topology(spec, seed=seed)
    summary = describe(topology)
    conditions = link_condition_rows(
        topology_conditions(topology, {"latency": latency} if latency else {}, DEFAULT_TRANSPORT)
    )
    summary["link_conditions"] = conditions
    placed = None
    if cluster is not None:
        from netsim.launch.cluster.placement import describe as describe_placement
        from netsim.launch.cluster.show import cluster_placement

        placed = cluster_placement(topology, cluster, placement, seed=seed or 0)
        summary["placement"] = placed.to_json()
    if as_json:
        stdout.print_json(data=summary)
        return
    for table in _tables(topology, summary, nodes, links):
        stderr.print(table)
    if conditions:
        stderr.print(_conditions_table(conditions))
    for warning in summary["warnings"]:
        stderr.print(f"[yellow]warning:[/] {visible_markup(warning)}", highlight=False)
    _print_code_app_notes(topology)
    if placed is not None:
        stderr.print(f"placement ({placed.mode}) on {cluster}:", highlight=False)
        for line in describe_placement(placed):
            stderr.print(f"  {visible_markup(line)}", highlight=False)


@app.command("validate")
@handles_errors
def validate_command(spec: SpecArgument, seed: SeedOption = None) -> None:
    """Check that a topology loads; exit 2 with the reason if it does not."""
    from netsim.shaping.links import topology_conditions
    from netsim.topology import load_topology
    from netsim.topology.commands import check_topology_commands

    topology = load_topology(spec, seed=seed)
    check_topology_commands(topology)
    # The links' conditions (latency, loss, ...) too: what `netsim run` would refuse is not "ok".
    topology_conditions(topology, {}, DEFAULT_TRANSPORT)
    stderr.print(f"ok: {len(topology.nodes)} nodes, {len(topology.links)} links", highlight=False)
    for warning in topology.warnings:
        stderr.print(f"warning: {visible(warning)}", highlight=False, markup=False)
    _print_code_app_notes(topology)


def _print_code_app_notes(topology: "Topology") -> None:
    """One line per app spec that is Python code named by the topology: netsim run needs leave to run it."""
    from netsim.topology.parse import format_names

    for spec, names in topology.code_apps().items():
        shown = format_names([visible(name) for name in names])
        stderr.print(
            f"note: node{'s' if len(names) > 1 else ''} {shown} name{'' if len(names) > 1 else 's'} app "
            f"{visible(repr(spec))}, Python code "
            "the topology points at: netsim run imports it only with --allow-topology-apps "
            "(or --app with the same spec)",
            highlight=False,
            markup=False,
        )
    for line, names in topology.commands().items():
        shown = format_names([visible(name) for name in names])
        stderr.print(
            f"note: node{'s' if len(names) > 1 else ''} {shown} run{'' if len(names) > 1 else 's'} cmd "
            f"{visible(repr(line))}, a program the "
            "topology names: netsim run starts it only with --allow-topology-apps "
            "(or --cmd with the same line)",
            highlight=False,
            markup=False,
        )


def _conditions_table(rows: list[dict[str, Any]]) -> "Table":
    from rich.table import Table  # only `topo show` draws tables

    table = Table(title="link conditions (a -> b / b -> a)")
    for column in ("link", "latency ms", "jitter ms", "loss", "bandwidth", "queue", "duplicate", "reorder"):
        table.add_column(column, justify="left" if column == "link" else "right")

    def pair(forward: Any, backward: Any, fmt: str = "{}") -> str:
        if forward == backward:
            return "-" if forward in (None, 0, 0.0) else fmt.format(forward)
        return f"{fmt.format(forward)} / {fmt.format(backward)}"

    for row in rows:
        forward, backward = row["a_to_b"], row["b_to_a"]
        table.add_row(
            visible_markup(f"{row['a']} -- {row['b']}"),
            pair(forward["latency_ms"], backward["latency_ms"], "{:.3f}"),
            pair(forward["jitter_ms"], backward["jitter_ms"], "{:.3f}"),
            pair(forward["loss"], backward["loss"]),
            pair(forward["bandwidth_bps"], backward["bandwidth_bps"], "{:,.0f} bit/s"),
            # A queue holds a number of messages or of bytes, never both: one column.
            pair(
                forward["queue_messages"] or forward["queue_bytes"],
                backward["queue_messages"] or backward["queue_bytes"],
            ),
            pair(forward["duplicate"], backward["duplicate"]),
            pair(forward["reorder"], backward["reorder"]),
        )
    return table


def _tables(
    topology: "Topology", summary: dict[str, Any], with_nodes: bool, with_links: bool
) -> "list[Table]":
    from rich.table import Table

    overview = Table(title=f"topology {visible_markup(summary['name'])}", show_header=False)
    degree = summary["degree"]
    sizes = ", ".join(map(str, summary["component_sizes"]))
    isolated = ", ".join(summary["isolated"]) or "none"
    for label, value in (
        ("source", summary["source"]),
        ("nodes", summary["nodes"]),
        ("links", summary["links"]),
        ("degree", f"min {degree['min']}, max {degree['max']}, mean {degree['mean']}"),
        ("connected", "yes" if summary["connected"] else "no"),
        ("components", f"{summary['components']} (sizes {sizes})"),
        ("isolated nodes", isolated),
    ):
        overview.add_row(label, visible_markup(value))
    tables = [overview, _counts("transport", summary["transports"]), _counts("app", summary["apps"])]
    if with_nodes:
        node_table = Table("index", "name", "app", "degree", title="nodes")
        for node in topology.nodes:
            degree_of = len(topology.neighbours(node.name))
            node_table.add_row(
                str(node.index),
                visible_markup(node.name),
                visible_markup(node.app or "(default)"),
                str(degree_of),
            )
        tables.append(node_table)
    if with_links:
        link_table = Table("a", "b", "transport", title="links")
        for link in topology.links:
            link_table.add_row(
                visible_markup(link.a), visible_markup(link.b), visible_markup(link.transport or "(default)")
            )
        tables.append(link_table)
    return tables


def _counts(what: str, counts: dict[str, int]) -> "Table":
    from rich.table import Table

    table = Table(what, "count", title=f"{what}s")
    for name, count in counts.items():
        table.add_row(visible_markup(name), str(count))
    return table

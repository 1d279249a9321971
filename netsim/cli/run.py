"""``netsim run``: run a simulation, show live progress, print the summary."""

# No `from __future__ import annotations` in a module of typer commands: typer evaluates string
# annotations again each time it builds a command, which made building them ten times slower
# (docs/architecture.md, "cli/").
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from netsim.cli.common import handles_errors, stderr, stdout
from netsim.cli.terminal import visible, visible_markup
from netsim.vocabulary import BUILTIN_APP_NAMES, DEFAULT_APP, DEFAULT_TRANSPORT, TRANSPORT_NAMES

if TYPE_CHECKING:
    from netsim.launch.launcher import Progress

MAX_FAILURES_SHOWN = 5
SHAPING = "Link conditions (defaults for links whose edge does not set them)"
FAULTS = "Faults"

app = typer.Typer()


def _link_default(flag: str, help_text: str) -> Any:
    """A link-condition option: text the library checks, the default of every link that lacks it."""
    return typer.Option(flag, help=help_text, rich_help_panel=SHAPING)


@app.command("run")
@handles_errors
def run_command(
    topology: Annotated[
        str,
        typer.Argument(
            help="A topology file (.gml .graphml .json .edgelist .adjlist) "
            "or a generator spec such as ring:8."
        ),
    ],
    app_spec: Annotated[
        str,
        typer.Option(
            "--app",
            "-a",
            help=f"The node program: {', '.join(BUILTIN_APP_NAMES)}, module:Class (an App), or "
            "file.py:main / module:main (a socket program, def main(net); docs/socket-programs.md).",
        ),
    ] = DEFAULT_APP,
    transport: Annotated[
        str,
        typer.Option("--transport", "-t", help=f"Default link transport: {', '.join(TRANSPORT_NAMES)}."),
    ] = DEFAULT_TRANSPORT,
    duration: Annotated[
        float, typer.Option("--duration", "-d", help="Stop after this many seconds at most.")
    ] = 30.0,
    seed: Annotated[
        int | None, typer.Option("--seed", "-s", help="Seed for generators and apps (random if not given).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory that receives the run directory.")
    ] = Path("runs"),
    quiet: Annotated[
        float, typer.Option("--quiet", help="End the run after this many seconds with no traffic.")
    ] = 0.5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json on stdout instead of a table.")
    ] = False,
    latency: Annotated[
        str | None, _link_default("--latency", "Default link latency: 50ms, 1.5s, or geo.")
    ] = None,
    jitter: Annotated[
        str | None, _link_default("--jitter", "Default jitter: each delay varies by +- this.")
    ] = None,
    loss: Annotated[
        str | None, _link_default("--loss", "Default probability (0..1) that a message is lost.")
    ] = None,
    bandwidth: Annotated[
        str | None, _link_default("--bandwidth", "Default bandwidth: 10Mbit, 512kbit, 2MB/s.")
    ] = None,
    queue: Annotated[
        str | None, _link_default("--queue", "Default queue: 100 (messages) or 64KB (bytes).")
    ] = None,
    duplicate: Annotated[
        str | None, _link_default("--duplicate", "Default probability that a message is duplicated.")
    ] = None,
    faults_file: Annotated[
        Path | None,
        typer.Option("--faults", help="A fault schedule file (YAML or JSON).", rich_help_panel=FAULTS),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="One fault, e.g. '2s partition a,b | c', '5s heal', '1s kill n3', "
            "'every 2s random-partition'.",
            rich_help_panel=FAULTS,
        ),
    ] = None,
    reorder: Annotated[
        str | None, _link_default("--reorder", "Default reorder probability (datagram links).")
    ] = None,
    allow_topology_apps: Annotated[
        bool,
        typer.Option(
            "--allow-topology-apps",
            help="Run the Python code (module:Class, file.py:Class) that nodes' app attributes name, "
            "and the programs their cmd attributes name.",
        ),
    ] = False,
    cmd: Annotated[
        str | None,
        typer.Option(
            "--cmd",
            help="Run this program on every node instead of an app (any language; Maelstrom's protocol "
            'on stdin/stdout), e.g. --cmd "python3 echo.py".',
        ),
    ] = None,
    init_timeout: Annotated[
        float, typer.Option("--init-timeout", help="Seconds each --cmd program has to answer init.")
    ] = 10.0,
    routing: Annotated[
        str,
        typer.Option(
            "--routing",
            help="A program's message to a non-neighbour: shortest-path (forwarded hop by hop) or none.",
        ),
    ] = "shortest-path",
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Spread the nodes over a Ray cluster's hosts: ray (the running cluster), ray://HOST:PORT "
            'or HOST:PORT. Needs the extra: pip install "netsim-sockets\\[ray]".',
            rich_help_panel="Many machines",
        ),
    ] = None,
    placement: Annotated[
        str,
        typer.Option(
            "--placement",
            help="How nodes go to hosts: balanced (by CPUs, cutting few links), spread or pack; a node "
            "attribute host pins a node.",
            rich_help_panel="Many machines",
        ),
    ] = "balanced",
    workload: Annotated[
        str | None,
        typer.Option(
            "--workload",
            "-w",
            help="Drive the nodes with clients: echo, unique-ids, broadcast, g-set, g-counter, pn-counter, "
            "lin-kv, kafka; then check the history.",
            rich_help_panel="Workload",
        ),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit", help="Seconds the clients issue operations.", rich_help_panel="Workload"
        ),
    ] = 10.0,
    rate: Annotated[
        float,
        typer.Option("--rate", help="Operations per second, over all clients.", rich_help_panel="Workload"),
    ] = 10.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Clients (c1, c2, ...).", rich_help_panel="Workload")
    ] = 5,
    op_timeout: Annotated[
        float,
        typer.Option(
            "--op-timeout",
            help="Seconds a client waits for a reply (then: info).",
            rich_help_panel="Workload",
        ),
    ] = 5.0,
    final_wait: Annotated[
        float,
        typer.Option("--final-wait", help="Seconds before the final reads.", rich_help_panel="Workload"),
    ] = 2.0,
    topology_hint: Annotated[
        str | None,
        typer.Option(
            "--topology-hint",
            help="broadcast: the topology message from grid, line, tree or total (default: the links).",
            rich_help_panel="Workload",
        ),
    ] = None,
    services: Annotated[
        str,
        typer.Option(
            "--services",
            help="Services hosted as nodes, comma-separated, or none.",
            rich_help_panel="Workload",
        ),
    ] = "seq-kv,lin-kv,lww-kv,lin-tso",
    shape_clients: Annotated[
        bool,
        typer.Option(
            "--shape-clients",
            help="Apply the default link conditions to client and service links too.",
            rich_help_panel="Workload",
        ),
    ] = False,
    checker: Annotated[
        list[str] | None,
        typer.Option(
            "--checker",
            help="Also judge the history with module:function (repeatable).",
            rich_help_panel="Workload",
        ),
    ] = None,
) -> None:
    """Run TOPOLOGY: one OS process per node, real sockets on every link, one trace.

    Edge attributes (latency_ms, jitter_ms, loss, bandwidth, queue, duplicate, reorder) shape a link;
    the shaping options give the links without them a default.
    """
    link_defaults = {
        key: value
        for key, value in (
            ("latency", latency),
            ("jitter_ms", jitter),
            ("loss", loss),
            ("bandwidth", bandwidth),
            ("queue", queue),
            ("duplicate", duplicate),
            ("reorder", reorder),
        )
        if value is not None
    }
    # Here, not at the top: the launcher, the node runtime and the topology loader are this command's
    # alone, and `netsim --help` or `netsim topo` should not pay for them.
    from netsim.launch.run import run

    if cmd is not None and app_spec != DEFAULT_APP:
        from netsim.errors import OptionError

        raise OptionError(
            "--app and --cmd both given", hint="a node runs a Python app or a program: keep one"
        )
    options = None
    if workload is not None:
        from netsim.workloads.setup import WorkloadOptions

        options = WorkloadOptions(
            name=workload,
            time_limit_s=time_limit,
            rate=rate,
            concurrency=concurrency,
            timeout_s=op_timeout,
            final_wait_s=final_wait,
            topology_hint=topology_hint,
            services=tuple(name for name in services.split(",") if name and name != "none"),
            shape_clients=shape_clients,
        )
    with _ProgressLine(enabled=not as_json) as progress:
        result = run(
            topology,
            app=app_spec,
            transport=transport,
            duration=duration,
            seed=seed,
            out=out,
            quiet=quiet,
            conditions=link_defaults,
            faults=fault or None,
            faults_file=faults_file,
            on_progress=progress.update,
            allow_topology_apps=allow_topology_apps,
            cmd=cmd,
            init_timeout=init_timeout,
            workload=options,
            routing=routing,
            checkers=checker or [],
            cluster=cluster,
            placement=placement,
        )
    summary = result.summary.to_dict()
    if as_json:
        stdout.print_json(orjson.dumps(summary).decode())
    else:
        _print_summary(summary)
    raise typer.Exit(result.exit_code)


class _ProgressLine:
    """A live progress display on stderr, when stderr is a terminal: a bar of the nodes that are up
    while the run starts, the messages so far while it runs, a bar of the nodes that have exited
    while it stops, and a spinner while the trace is merged. A large run takes a while to start and to
    stop; the bar says how far along it is."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and stderr.is_terminal
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> "_ProgressLine":
        if self.enabled:
            # Only a terminal gets the display, so only then is rich.progress imported.
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[detail]}"),
                console=stderr,
                transient=True,
                refresh_per_second=8,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("starting", total=None, detail="")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, progress: "Progress") -> None:
        if self._bar is None:
            return
        messages = f"messages sent {progress.messages_sent:,} received {progress.messages_received:,}"
        if progress.phase == "starting":
            # Forked, then bound, then ready (links up): the bar counts ready nodes.
            detail = f"forked {progress.nodes_forked:,}, bound {progress.nodes_bound:,}"
            fields = {"description": "starting", "total": progress.nodes, "completed": progress.nodes_ready}
        elif progress.phase == "running":
            detail = f"done {progress.nodes_done:,}  {messages}"
            fields = {"description": "running ", "total": progress.nodes, "completed": progress.nodes_done}
        elif progress.phase == "stopping":
            detail = messages
            fields = {"description": "stopping", "total": progress.nodes, "completed": progress.nodes_exited}
        else:
            detail = "merging the nodes' trace parts"
            fields = {"description": "finishing", "total": progress.nodes, "completed": progress.nodes}
        self._bar.update(self._task, detail=detail, **fields)


def _print_summary(summary: dict[str, Any]) -> None:
    ok = summary["exit_status"] == "ok"
    table = Table(title=f"run {visible_markup(summary['run_id'])}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    exit_status, ended_by = visible_markup(summary["exit_status"]), visible_markup(summary["ended_by"])
    status = f"[green]{exit_status}[/]" if ok else f"[red]{exit_status}[/]"
    # The values are markup: the names, sources and app specs in them are the user's, escaped.
    topology = summary["topology"]
    rows = [
        ("status", f"{status} (ended by {ended_by})"),
        ("topology", f"{visible_markup(topology['name'])}  ({visible_markup(topology['source'])})"),
        ("nodes / links", f"{summary['nodes']} / {summary['links']}"),
        ("app / transport", f"{visible_markup(summary['app'])} / {visible_markup(summary['transport'])}"),
        ("seed", str(summary["seed"])),
        ("messages sent / received", f"{summary['messages_sent']:,} / {summary['messages_received']:,}"),
        ("bytes sent / received", f"{summary['bytes_sent']:,} / {summary['bytes_received']:,}"),
        ("errors", str(summary["errors"])),
        ("start-up / run", f"{summary['timing']['startup_s']:.2f} s / {summary['duration_s']:.2f} s"),
    ]
    cluster = summary.get("cluster")
    if isinstance(cluster, dict):
        hosts = ", ".join(
            f"{visible_markup(host['name'])} {visible_markup(host['address'])} ({host['nodes']} nodes)"
            + (" [red]lost[/]" if host.get("lost") else "")
            for host in cluster["hosts"]
        )
        rows.append(("hosts", hosts))
        rows.append(("links across hosts", f"{cluster['cross_host_links']} of {cluster['links']}"))
    for key, value in rows:
        table.add_row(key, value)
    stderr.print(table)
    # Outside the table, so a narrow terminal never cuts the path short.
    stderr.print(f"trace: {visible(summary['trace'])}", highlight=False, markup=False)
    for warning in summary.get("warnings", []):
        stderr.print(f"[yellow]warning:[/] {visible_markup(warning)}", highlight=False)
    failures = summary["node_failures"]
    for failure in failures[:MAX_FAILURES_SHOWN]:
        name, exit_code, error = failure["name"], failure["exit_code"], failure["error"]
        if name is None:
            # The run's own failure (its start-up, a host lost): no node to name.
            stderr.print(f"[bold red]run failed[/]: {visible_markup(error)}", highlight=False)
            continue
        stderr.print(
            f"[bold red]node {visible_markup(repr(name))} failed[/] (exit code {exit_code}): "
            f"{visible_markup(error)}",
            highlight=False,
        )
        if failure.get("log"):
            stderr.print(f"  traceback in {visible_markup(failure['log'])}", highlight=False)
    if len(failures) > MAX_FAILURES_SHOWN:
        stderr.print(f"... and {len(failures) - MAX_FAILURES_SHOWN} more node failures (see summary.json)")
    if isinstance(summary.get("workload"), dict):
        _print_verdict(summary["workload"])


def _print_verdict(workload: dict[str, Any]) -> None:
    """The workload's verdict table: valid or not (and why), the ops and their latencies, msgs-per-op."""
    from netsim.trace.records import format_ms, format_share

    valid = workload.get("valid")
    verdict = {True: "[green]valid[/]", False: "[red]invalid[/]"}.get(valid, "[yellow]unknown[/]")
    stats = workload.get("stats") or {}
    latency = stats.get("latency_ms") or {}
    table = Table(
        title=f"workload {visible_markup(str(workload.get('workload')))}",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("verdict", verdict),
        ("ops (ok / fail / info)", _ops_cell(workload.get("ops", 0), stats)),
        ("availability", format_share(stats.get("availability"))),
        (
            "latency p50 / p99 / max",
            " / ".join(format_ms(latency.get(key)) for key in ("p50", "p99", "max")),
        ),
        ("msgs-per-op", "-" if workload.get("msgs_per_op") is None else f"{workload['msgs_per_op']:.2f}"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    stderr.print(table)
    if workload.get("explanation"):
        stderr.print(f"[red]why:[/] {visible_markup(workload['explanation'])}", highlight=False)


def _ops_cell(invoked: int, stats: dict[str, Any]) -> str:
    """Every operation and how it ended; the final reads, which ``ops`` leaves out, named apart."""
    ok, fail, info = (stats.get(kind, 0) for kind in ("ok", "fail", "info"))
    total = ok + fail + info
    finals = total - invoked
    cell = f"{total:,} ({ok:,} / {fail:,} / {info:,})"
    return f"{cell}, {finals:,} of them final reads" if finals > 0 else cell

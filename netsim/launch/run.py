"""``netsim.run()``: the Python API behind ``netsim run``.

Loads and checks everything the user gave before any process starts (``netsim.launch.run_checks``; bad
input is an InputError, exit code 2), then launches, merges the per-node traces and writes
``summary.json``.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import random
import secrets
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim import __version__
from netsim.apps.registry import AppTarget, app_spec
from netsim.clock import now_ns, wall_clock_iso
from netsim.errors import (
    InputError,
    NodeCrashed,
    NodeFailedToStart,
    OptionError,
    RunError,
    StartupError,
)
from netsim.launch.faults import FaultRunner
from netsim.launch.finish import merge_parts, traffic_totals, what_ran, write_header_part
from netsim.launch.forkserver import ForkServer
from netsim.launch.launcher import (
    Launcher,
    LaunchLimits,
    LaunchOutcome,
    Progress,
    ProgressCallback,
    ReadyCallback,
)
from netsim.launch.limits import ensure_limits, open_fds, run_needs
from netsim.launch.plan import build_plans, link_transport, slug
from netsim.launch.result import Run
from netsim.launch.run_checks import (
    check_link_defaults,
    check_out_dir,
    check_reorder_has_a_datagram_link,
    check_runnable,
    fault_schedule,
    seconds_option,
)
from netsim.launch.signals import StopSignals
from netsim.launch.socket_dir import make_socket_dir, remove_socket_dir
from netsim.launch.socket_programs import (
    check_socket_program_links,
    check_socket_program_mains,
    lease_host_base,
    node_hosts,
    socket_program_nodes,
)
from netsim.runs.layout import (
    HISTORY_DIR_NAME,
    LAUNCHER_PART_NAME,
    NODE_DIR_NAME,
    RELAY_PART_NAME,
    TOPOLOGY_FILE_NAME,
)
from netsim.runs.summary import NodeFailure, RunSummary, RunTiming, write_summary
from netsim.runtime.plan import RuntimeSettings
from netsim.shaping.conditions import (
    MAX_STARTUP_TIMEOUT_S,
)
from netsim.shaping.faults import (
    FaultSchedule,
)
from netsim.shaping.links import LinkConditionsMap, topology_conditions
from netsim.topology import load_topology, write_topology_json
from netsim.topology.commands import check_run_command
from netsim.topology.generate import check_seed
from netsim.topology.model import Topology
from netsim.trace.schema import CLOCK_NAME, HEADER_TYPE, SCHEMA
from netsim.transport import TRANSPORT_NAMES
from netsim.vocabulary import DEFAULT_APP, DEFAULT_TRANSPORT
from netsim.wire.auth import RunKey

if TYPE_CHECKING:
    import networkx as nx

    from netsim.launch.cluster.placement import Placement
    from netsim.launch.cluster.ray_cluster import RayCluster
    from netsim.launch.cluster.relay import ClusterForkServer
    from netsim.workloads.setup import WorkloadOptions

ROUTINGS = ("shortest-path", "none")
# A run that ended so, and in which no node failed (a hung node that had to be ended is a failure).
OK_ENDINGS = ("done", "quiet", "duration")


def run(
    topology: str | os.PathLike[str] | Topology | nx.Graph,
    *,
    app: str | AppTarget = DEFAULT_APP,
    transport: str = DEFAULT_TRANSPORT,
    duration: float = 30.0,
    seed: int | None = None,
    out: str | os.PathLike[str] = "runs",
    quiet: float = 0.5,
    startup_timeout: float = 60.0,
    conditions: dict[str, Any] | None = None,
    faults: list[str | dict[str, Any]] | None = None,
    faults_file: str | os.PathLike[str] | None = None,
    on_progress: ProgressCallback | None = None,
    on_ready: ReadyCallback | None = None,
    allow_topology_apps: bool = False,
    check: bool = False,
    cmd: str | None = None,
    init_timeout: float = 10.0,
    workload: WorkloadOptions | None = None,
    checkers: Sequence[str | Callable[..., Any]] | None = None,
    routing: str = "shortest-path",
    cluster: str | None = None,
    placement: str = "balanced",
) -> Run:
    """Run ``topology`` (a file, a generator spec such as ``ring:8``, a Topology or a networkx graph)
    to completion; the returned ``Run`` reads the run's directory (``netsim.launch.result``).

    The run ends when every node's app has called ``ctx.stop()`` ("done"), when no node has sent or
    received anything and none holds a timer for ``quiet`` seconds ("quiet"), after ``duration``
    seconds ("duration"), when a node crashes ("failure"), or on Ctrl-C ("interrupted").
    ``conditions`` gives every link without its own attributes a default latency_ms, jitter_ms, loss,
    bandwidth, queue, duplicate or reorder (see ``netsim.shaping.conditions``).
    ``faults`` (lines such as ``"2s partition a,b | c"``) and ``faults_file`` (YAML or JSON) schedule
    faults; see ``netsim.shaping.faults``. While faults are still to come, the run does not end as
    done or quiet.
    ``on_progress`` is called about ten times a second; ``on_ready`` once, when every node is up,
    with each node's pid and listener addresses.
    ``cmd`` (a command line, split as a shell splits it but run without one) makes every node that
    has no ``app`` or ``cmd`` attribute of its own run that program instead of ``app``, speaking
    Maelstrom's protocol on its stdin and stdout (``netsim.runtime.program``); each program must
    answer ``init`` within ``init_timeout`` seconds. ``routing``: "shortest-path" forwards a program's
    message to a node that is not its neighbour hop by hop (``netsim.runtime.routing``); "none" drops
    it (traced) and tells the program node-not-found.
    ``workload`` (``netsim.workloads.setup.WorkloadOptions``) adds the workload's clients and the
    services as nodes, ends the run once the clients are done, then checks the clients' history
    (``history.jsonl``, ``results.json`` and the summary's ``workload``; ``checkers`` adds users'
    ``module:function`` checkers); see docs/workloads.md.
    A node whose ``app`` attribute names Python code (``module:Class``, ``file.py:Class``) rather
    than a built-in app is refused unless ``allow_topology_apps`` is true or ``app`` is that same spec:
    a topology file is data, and running the code it points at is the user's choice.
    With ``check=True`` a run that did not end ok raises, once its directory is finished:
    ``NodeCrashed`` naming the first node that failed, with its traceback; ``StartupError`` when the
    nodes did not come up (``NodeFailedToStart``, which is both, when a node failed before the start);
    ``RunError`` for any other ending (a stop signal, a launcher error). The error's ``result`` is the
    Run.
    ``cluster`` spreads the nodes over the hosts of a Ray cluster: ``"ray"`` (the cluster this machine
    belongs to), ``"ray://HOST:PORT"`` or ``"HOST:PORT"``; ``placement`` is ``balanced`` (by each host's
    CPUs, cutting few links), ``spread`` or ``pack``, and a node attribute ``host`` pins a node
    (docs/cluster.md).
    Every bound on these values is in ``netsim.shaping.conditions`` (durations, link conditions),
    ``netsim.shaping.faults`` and ``netsim.topology.generate`` (seeds, generator sizes).
    """
    # pytest leaves this frame out of a failed test's traceback when the error is the run's own verdict
    # (check=True, a bad option): the caller's line and the error say it all, not this function's body.
    __tracebackhide__ = _is_users_error
    if not isinstance(app, str):
        # An App class or a main(net) function: the nodes import it by the name it was defined under.
        app = app_spec(app)
    duration = seconds_option("--duration", duration)
    quiet = seconds_option("--quiet", quiet)
    startup_timeout = seconds_option("startup_timeout", startup_timeout, MAX_STARTUP_TIMEOUT_S)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    check_seed(seed)
    if transport not in TRANSPORT_NAMES:
        raise OptionError(
            f"unknown transport {transport!r}", hint=f"use one of: {', '.join(TRANSPORT_NAMES)}"
        )
    check_link_defaults(conditions or {})
    init_timeout = seconds_option("--init-timeout", init_timeout, MAX_STARTUP_TIMEOUT_S)
    if cmd is not None:
        check_run_command(cmd)
    if routing not in ROUTINGS:
        raise OptionError(f"unknown --routing {routing!r}", hint=f"use one of: {', '.join(ROUTINGS)}")
    if workload is not None:
        workload.check()
    if checkers:
        if workload is None:
            raise OptionError("checkers judge a workload's history: there is none without --workload")
        # Loaded now, before anything starts: a checker that cannot be loaded is an error of the
        # command, not of a run that has already taken its time.
        from netsim.workloads.results import load_checker

        for checker in checkers:
            load_checker(checker)
    check_out_dir(out)
    if cluster is not None:
        # Imported here: a run on one host does without them (and without Ray).
        from netsim.launch.cluster.launch import (
            check_cluster_options,
            cluster_summary,
            launcher_needs_over_hosts,
            start_cluster,
        )
        from netsim.launch.cluster.relay import ClusterForkServer

        check_cluster_options(cluster, placement)
    elif placement != "balanced":
        raise OptionError(
            f"--placement {placement!r} places nodes on a cluster's hosts: it needs --cluster",
            hint="add --cluster ray (or ray://HOST:PORT), or leave --placement out",
        )
    # What the program around the launcher holds, counted before the fork server's link adds one.
    inherited_fds = open_fds()
    # The process that will fork the nodes starts now and imports while the topology loads (over many
    # hosts, each host's agent starts its own).
    server: ForkServer | ClusterForkServer | None = ForkServer.start() if cluster is None else None
    hosts = None
    engine: RayCluster | None = None
    relay: ClusterForkServer | None = None
    placed: Placement | None = None
    try:
        topo = topology if isinstance(topology, Topology) else load_topology(topology, seed=seed)
        if workload is not None:
            duration = max(duration, workload.run_seconds(len(topo.nodes)))
        check_runnable(topo, app, transport, allow_topology_apps=allow_topology_apps, cmd=cmd)
        socket_programs = socket_program_nodes(topo, app, cmd)
        check_socket_program_links(topo, socket_programs, workload=workload is not None)
        check_socket_program_mains(topo, app, socket_programs)
        if socket_programs:
            hosts = lease_host_base()
        host_base, host_warning = (hosts.base, hosts.warning) if hosts is not None else (0, None)
        shaped_links = topology_conditions(topo, conditions or {}, transport)
        check_reorder_has_a_datagram_link(topo, conditions or {}, transport)
        schedule = fault_schedule(topo, faults, faults_file, shaped_links, transport, duration, seed)
        app_label = slug(_program_label(cmd) if cmd is not None else app.rpartition(":")[2], 16)
        started = f"{datetime.datetime.now():%Y%m%d-%H%M%S}"
        run_id = f"{started}-{slug(topo.name, 24)}-{app_label}-{secrets.token_hex(2)}"
        run_dir = Path(out) / run_id
        servers = [node.name for node in topo.nodes]
        configs: dict[str, dict[str, Any]] = {}
        # Faults act on the links of the topology the user gave, never on a workload's client links.
        user_topology = topo
        if workload is not None:
            # Conditions and faults were worked out on the user's topology: client and service links
            # are not shaped unless asked.
            # Imported here: a run without a workload does without them (netsim run's start-up).
            from netsim.workloads.results import judge
            from netsim.workloads.setup import client_names, with_workload_nodes

            topo, configs = with_workload_nodes(topo, workload, seed=seed, run_dir=run_dir)
            if workload.shape_clients:
                shaped_links = topology_conditions(topo, conditions or {}, transport)
        # The last check, before the run directory exists: enough open files and processes for the
        # whole run, or a LimitError now rather than a run that stops half started.
        restarted = [fault.nodes[0] for fault in schedule.one_off if fault.action == "restart"]
        needs = run_needs(
            topo, transport, inherited_fds=inherited_fds, restarted=restarted, faults=bool(schedule)
        )
        run_key = RunKey.new().key
        cluster_header = None
        if cluster is None:
            ensure_limits(needs)
        else:
            engine, placed = start_cluster(
                cluster, placement, topo, transport, seed, socket_programs, workload
            )
            # The nodes run on the hosts; the launcher holds two ends of each one's control stream.
            ensure_limits(launcher_needs_over_hosts(needs, len(placed.hosts)))
            cluster_header = {"engine": "ray", "address": cluster, **placed.to_json()}

        node_dir = run_dir / NODE_DIR_NAME
        try:
            node_dir.mkdir(parents=True)
        except OSError as error:
            # What os.access could not tell: a read-only or full file system, a kernel's own directory.
            reason = error.strerror or error
            raise OptionError(
                f"--out {os.fsdecode(out)}: cannot create the run directory {run_dir}: {reason}",
                hint="pick a directory you can write to",
            ) from None
        if workload is not None:
            (run_dir / HISTORY_DIR_NAME).mkdir()
        write_topology_json(topo, run_dir / TOPOLOGY_FILE_NAME)
        header = _header(run_id, topo, app, transport, seed, cmd)
        if socket_programs:
            header["node_hosts"] = node_hosts(topo, host_base, socket_programs)
        if workload is not None:
            header["workload"] = {
                **dataclasses.asdict(workload),
                "clients": client_names(workload),
                "servers": servers,
            }
        if cluster_header is not None:
            header["cluster"] = cluster_header
            assert engine is not None and placed is not None
            server = relay = ClusterForkServer(
                placed, run_key, node_dir, engine.launcher_address(), node_dir / RELAY_PART_NAME
            )
            engine.serve(relay.address, run_key, relay.host_lost)
        assert server is not None
        write_header_part(node_dir, header)

        # Stop signals are noted from here until the summary is written: whatever ends the run, the
        # directory is finished, and the signal shows in the summary and the exit code.
        with StopSignals() as signals:
            outcome, launcher_error = _launch(
                topo,
                app,
                transport,
                seed,
                node_dir,
                startup_timeout,
                duration,
                quiet,
                shaped_links,
                schedule,
                signals,
                on_progress,
                on_ready,
                server,
                cmd,
                init_timeout,
                configs,
                len(servers) if workload is not None else 0,
                frozenset(client_names(workload)) if workload is not None else None,
                routing != "none",
                user_topology,
                socket_programs,
                host_base,
                run_key,
            )
            if relay is not None:
                # The agents' files are in, and the clocks measured at both ends: the header says how.
                relay.close()
                header["cluster"]["hosts"] = relay.hosts_json()
            if on_progress is not None:
                # The trace of a large run takes a moment to merge: say so.
                on_progress(
                    Progress(
                        phase="merging",
                        nodes=len(topo.nodes),
                        nodes_bound=0,
                        nodes_ready=0,
                        nodes_done=0,
                        elapsed_s=0.0,
                        messages_sent=0,
                        messages_received=0,
                    )
                )
            try:
                warnings = merge_parts(run_dir, header)
            except OSError as error:
                # No room (ENOSPC, EFBIG under a file size limit): the nodes' parts are still there.
                raise RunError(
                    f"{run_dir}: the run ended ({outcome.ended_by}), but its trace could not be merged: "
                    f"{error.strerror or error}",
                    hint=f"make room, then finish it with: netsim runs recover {run_dir}",
                ) from None
            summary = RunSummary(
                **what_ran(run_dir, header),
                shaped_links=len(shaped_links),
                **traffic_totals(run_dir),
                duration_s=round(outcome.running_s, 6),
                exit_status="ok" if outcome.ended_by in OK_ENDINGS and not outcome.failures else "failed",
                ended_by=outcome.ended_by,
                signal=outcome.signal,
                node_failures=[
                    NodeFailure(
                        **{key: failure[key] for key in NodeFailure.__struct_fields__ if key in failure}
                    )
                    for failure in outcome.failures
                ],
                faults=outcome.faults,
                timing=RunTiming(
                    startup_s=round(outcome.startup_s, 6),
                    running_s=round(outcome.running_s, 6),
                    shutdown_s=round(outcome.shutdown_s, 6),
                ),
                started_at=header["started_at"],
                netsim_version=__version__,
                warnings=list(topo.warnings) + ([host_warning] if host_warning else []) + warnings,
            )
            if cluster_header is not None:
                summary.cluster = cluster_summary(header["cluster"])
            if workload is not None:
                summary.workload = judge(run_dir, workload.name, servers, extra_checkers=list(checkers or ()))
            write_summary(run_dir, summary)
            for failure in outcome.failures:
                if failure.get("traceback") and failure.get("log"):
                    # The node wrote its traceback to its log itself unless it died before it could.
                    log_path = Path(failure["log"])
                    if failure["traceback"].strip() not in log_path.read_text(errors="replace"):
                        with log_path.open("a") as log:
                            log.write(failure["traceback"])
    finally:
        if server is not None:
            server.close()
        if engine is not None:
            engine.close()
        if hosts is not None:
            hosts.close()
    if launcher_error is not None:
        # A bug in netsim, or the caller's own ending: the run directory is finished, then it goes on.
        raise launcher_error
    result = Run(run_dir=run_dir, summary=summary)
    if check and not result.ok:
        raise _run_error(result, outcome.failures)
    return result


def _is_users_error(excinfo: Any) -> bool:
    """For pytest's ``__tracebackhide__``: a run that failed, or options or a topology it refused
    (not a bug of netsim's, whose frames would matter)."""
    return bool(excinfo.errisinstance((RunError, InputError)))


def _run_error(result: Run, failures: list[dict[str, Any]]) -> RunError:
    """Why ``result`` did not end ok, as the error ``run(check=True)`` raises."""
    for failure in failures:
        if failure.get("host_lost"):
            return RunError(f"run {result.summary.run_id}: {failure['error']}", result=result)
        if failure.get("name") is not None:
            crashed = NodeFailedToStart if failure.get("during_startup") else NodeCrashed
            return crashed(
                failure["name"],
                failure.get("exit_code"),
                failure.get("traceback") or failure["error"],
                result=result,
            )
    summary = result.summary
    if failures and summary.ended_by == "failure":
        # A failure that names no node is the start-up's (see the launcher's failures).
        return StartupError(f"run {summary.run_id}: {failures[0]['error']}", result=result)
    why = f" ({summary.signal})" if summary.signal else ""
    detail = f": {failures[0]['error']}" if failures else ""
    return RunError(f"run {summary.run_id} ended by {summary.ended_by}{why}{detail}", result=result)


def _launch(
    topo: Topology,
    app: str,
    transport: str,
    seed: int,
    node_dir: Path,
    startup_timeout: float,
    duration: float,
    quiet: float,
    shaped_links: LinkConditionsMap,
    schedule: FaultSchedule,
    signals: StopSignals,
    on_progress: ProgressCallback | None,
    on_ready: ReadyCallback | None,
    server: ForkServer | ClusterForkServer,
    cmd: str | None,
    init_timeout: float,
    configs: dict[str, dict[str, Any]],
    servers: int,
    done_when: frozenset[str] | None,
    forwarding: bool,
    fault_topology: Topology,
    socket_programs: frozenset[str],
    host_base: int,
    run_key: bytes,
) -> tuple[LaunchOutcome, BaseException | None]:
    """Run the node processes; never raises: an error inside the launcher is returned with the outcome,
    after every node has been stopped, so that the caller still finishes the run directory."""
    socket_dir = make_socket_dir()
    launcher_error: BaseException | None = None
    outcome = LaunchOutcome(ended_by="failure")
    try:
        plans = build_plans(
            topo,
            default_app=app,
            default_transport=transport,
            seed=seed,
            socket_dir=socket_dir,
            node_dir=node_dir,
            settings=RuntimeSettings(startup_timeout_s=startup_timeout, program_init_timeout_s=init_timeout),
            default_cmd=cmd,
            configs=configs,
            servers=servers,
            forwarding=forwarding,
            socket_programs=socket_programs,
            host_base=host_base,
            conditions=shaped_links,
            # Held in memory by the launcher, its nodes and its host agents only (see docs/security.md).
            run_key=run_key,
        )
        limits = LaunchLimits(
            duration_s=duration, quiet_s=quiet, startup_timeout_s=startup_timeout, done_when=done_when
        )
        fault_runner = None
        if schedule:

            def fault_runner(launcher: Launcher) -> FaultRunner:
                trace_part = str(node_dir / LAUNCHER_PART_NAME)
                return FaultRunner(launcher, schedule, fault_topology, shaped_links, transport, trace_part)

        launcher = Launcher(
            plans,
            limits,
            on_progress=on_progress,
            on_ready=on_ready,
            faults=fault_runner,
            signals=signals,
            server=server,
        )
        outcome = launcher.run()
    except KeyboardInterrupt as error:
        # Before the launcher had its own handling in place (it notes Ctrl-C from its start on).
        launcher_error = error
        outcome.ended_by, outcome.signal = "interrupted", "SIGINT"
    except BaseException as error:  # noqa: BLE001 - reported with the run's ending, then raised again
        # A bug in netsim, or the caller's own ending (pytest-timeout's Failed, a callback's SystemExit):
        # either way the nodes are stopped and the run directory is finished before it goes on.
        launcher_error = error
        outcome.ended_by = "launcher-error"
        outcome.failures = [
            {"name": None, "exit_code": None, "error": f"{type(error).__name__}: {error}", "traceback": ""}
        ]
    finally:
        remove_socket_dir(socket_dir)
    return outcome, launcher_error


def _program_label(cmd: str) -> str:
    """A short name for a run's program in its run id: its script or executable's file name."""
    words = shlex.split(cmd)
    named = next((word for word in words if "/" in word or "." in word), words[0])
    return os.path.basename(named.rstrip("/")) or words[0]


def _header(
    run_id: str, topo: Topology, app: str, transport: str, seed: int, cmd: str | None = None
) -> dict[str, Any]:
    commands = {
        node.name: node.cmd or cmd for node in topo.nodes if node.cmd or (cmd is not None and not node.app)
    }
    return {
        "type": HEADER_TYPE,
        "schema": SCHEMA,
        "run_id": run_id,
        "netsim_version": __version__,
        "topology": {
            "name": topo.name,
            "source": topo.source,
            "nodes": [node.name for node in topo.nodes],
            "links": [[link.a, link.b, link_transport(link.transport, transport)] for link in topo.links],
        },
        "node_apps": {node.name: node.app or app for node in topo.nodes if node.name not in commands},
        "node_cmds": commands,
        "app": app if cmd is None else cmd,
        "transport": transport,
        "seed": seed,
        "started_at": wall_clock_iso(),
        "start_ts_ns": now_ns(),
        "clock": CLOCK_NAME,
    }

"""What a run needs of the per-process limits (open files, processes), and getting it before it starts.

``run_needs`` counts, from the topology alone, the file descriptors the busiest process of the run
holds and the processes it starts; ``settle_limits`` decides, from those needs and the limits as they
are, which soft limits to raise or that the run cannot start (a ``LimitError``); ``ensure_limits``
reads the limits, asks ``settle_limits`` and raises the soft ones. Both counts are pure functions,
tested against the descriptors a real run's processes hold, so they cannot drift unseen.

**The launcher** holds, for each node process it starts, its end of the node's control channel and
both pipe ends of multiprocess's process sentinel (3 a node); besides those its selector, the start
gate's two ends, the fault runner's trace part, and, for a moment while it forks a node, that node's
end of the control channel and the sentinel's two child ends. A restarted node's earlier process
keeps its sentinel's two ends. At the end it merges the trace, opening every part at once (one per
node process, restarts included, and the fault runner's) plus the merged file, while the sentinels
of every process it started may still be open.

**A node process** is forked from the launcher and inherits what the launcher's process held then:
every descriptor the program around the launcher had open (counted when the run is checked), the
launcher's selector, and both sentinel ends of every node forked before it (multiprocess leaves them
open in the child: 2 a node, so the last node of a large run holds most). It closes the launcher's
control channel ends and the start gate's write end. Its own: the start gate's read end, its end of
the control channel, its sentinel's end, the /dev/null multiprocess puts on stdin, its selector, its
trace part, its log, and the pipe its descriptors 1 and 2 write into (the read end; 1 and 2 replace
descriptors already counted). Then one listener per transport its links use, and one socket per
link end: the connecting end's socket or the accepted one on a stream transport, each end's own
bound and connected link socket on a datagram transport (the listener receives for all of them).
The two kinds of transport come to the same count.

A margin covers what no topology says: an app's own files and child processes, a connection held
while the one that replaces it is accepted, strangers' connections waiting for a hello (bounded by
``netsim.runtime.handshake``), Python's own.

Processes: RLIMIT_NPROC counts every process (and thread) of the user's real uid, so the check adds
the run's node processes to what the user runs already. The kernel does not apply it to root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from netsim.errors import LimitError
from netsim.launch.plan import link_transport
from netsim.topology.model import Topology

resource: ModuleType | None
try:
    import resource
except ImportError:  # not a POSIX system
    resource = None

# ---- what a run needs ---------------------------------------------------------------------------------

# The launcher, per node process: its end of the control channel and the sentinel's two pipe ends.
LAUNCHER_FDS_PER_NODE = 3
# What a retired process (a restarted node's earlier one) keeps open in the launcher: its sentinel.
SENTINEL_FDS = 2
# The launcher's own, whatever the size of the run: its selector and the start gate's two ends.
LAUNCHER_FIXED_FDS = 3
# While it forks a node: that node's end of the control channel and the sentinel's two child ends.
LAUNCHER_FORK_FDS = 3
# The merged trace, written while every part is open.
MERGE_OUTPUT_FDS = 1
# A node's own, besides its sockets: the launcher's selector (inherited), the start gate's read end,
# its control channel end, its sentinel end, stdin on /dev/null, its selector, its trace part, its log,
# the read end of the pipe behind its descriptors 1 and 2.
NODE_FIXED_FDS = 9
# What no topology says (see the module's docstring).
FD_MARGIN = 64
# An app's own child processes, and processes the user starts meanwhile.
PROCESS_MARGIN = 32


@dataclass(frozen=True, slots=True)
class RunNeeds:
    """What a run needs of its processes' limits: open files (margin included) and processes."""

    source: str
    nodes: int
    # The launcher's descriptors at its busiest (forking the last node, or merging the trace).
    launcher_fds: int
    # The node process that holds the most descriptors once its links are up, and how many.
    busiest_node: str | None
    busiest_node_fds: int
    # Node processes alive at once (a restarted node's earlier process has exited before).
    processes: int

    @property
    def open_files(self) -> int:
        """The soft RLIMIT_NOFILE the run needs: every node process inherits the launcher's."""
        return max(self.launcher_fds, self.busiest_node_fds)


def run_needs(
    topology: Topology,
    default_transport: str,
    *,
    inherited_fds: int,
    restarted: Sequence[str] = (),
    faults: bool = False,
) -> RunNeeds:
    """What running ``topology`` needs, margins included.

    ``inherited_fds``: the descriptors the launcher's process holds before the run (``open_fds()``);
    ``restarted``: the node named by each ``restart`` fault; ``faults``: whether the run has a fault
    runner (its trace part is open in the launcher, and so in every node forked after it).
    """
    per_node = node_fds(
        topology, default_transport, inherited_fds=inherited_fds, restarted=restarted, faults=faults
    )
    busiest = max(per_node, key=per_node.__getitem__, default=None)
    return RunNeeds(
        source=topology.source,
        nodes=len(topology.nodes),
        launcher_fds=launcher_fds(
            len(topology.nodes), inherited_fds=inherited_fds, restarts=len(restarted), faults=faults
        )
        + FD_MARGIN,
        busiest_node=busiest,
        busiest_node_fds=(per_node[busiest] if busiest is not None else 0) + FD_MARGIN,
        processes=len(topology.nodes),
    )


def launcher_fds(nodes: int, *, inherited_fds: int, restarts: int = 0, faults: bool = False) -> int:
    """The launcher's descriptors at its busiest, without the margin."""
    fault_part = 1 if faults else 0
    started = nodes + restarts  # node processes over the whole run
    forking = (
        inherited_fds
        + LAUNCHER_FIXED_FDS
        + fault_part
        + LAUNCHER_FDS_PER_NODE * nodes
        + SENTINEL_FDS * restarts
        + LAUNCHER_FORK_FDS
    )
    # Merging: every process's sentinel may still be open (the launcher is not freed yet when a fault
    # runner refers to it), and every part is open at once.
    merging = inherited_fds + SENTINEL_FDS * started + started + fault_part + MERGE_OUTPUT_FDS
    return max(forking, merging)


def node_fds(
    topology: Topology,
    default_transport: str,
    *,
    inherited_fds: int,
    restarted: Sequence[str] = (),
    faults: bool = False,
) -> dict[str, int]:
    """Each node process's descriptors once its links are up, without the margin; a restarted node's
    figure is that of its busiest process."""
    degree = {node.name: 0 for node in topology.nodes}
    transports: dict[str, set[str]] = {node.name: set() for node in topology.nodes}
    for link in topology.links:
        transport = link_transport(link.transport, default_transport)
        for end in (link.a, link.b):
            degree[end] += 1
            transports[end].add(transport)
    inherited = inherited_fds + (1 if faults else 0)
    own = {name: NODE_FIXED_FDS + len(transports[name]) + degree[name] for name in degree}
    # Forked in the topology's order: the i-th inherits the sentinels of the i nodes before it.
    counts = {
        node.name: inherited + SENTINEL_FDS * position + own[node.name]
        for position, node in enumerate(topology.nodes)
    }
    # A restart forks after every first process, and after the restarts before it, and the process it
    # replaces keeps its sentinel: the k-th restart inherits those of len(nodes) - 1 + k processes (and
    # has no start gate: one fewer than counted).
    for number, name in enumerate(restarted, start=1):
        figure = inherited + SENTINEL_FDS * (len(topology.nodes) - 1 + number) + own[name]
        counts[name] = max(counts[name], figure)
    return counts


# ---- the limits as they are, and what to do about them ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Limit:
    """A resource limit; None for unlimited."""

    soft: int | None
    hard: int | None


@dataclass(frozen=True, slots=True)
class SoftLimits:
    """The soft limits to set before the run starts; None leaves a limit as it is."""

    open_files: int | None = None
    processes: int | None = None


def settle_limits(
    needs: RunNeeds,
    *,
    open_files: Limit,
    processes: Limit | None,
    user_processes: int | None,
    user: str,
    root: bool,
) -> SoftLimits:
    """The soft limits to raise so that the run has what it needs, or a LimitError saying why it cannot.

    ``processes``: RLIMIT_NPROC (None where there is none); ``user_processes``: the processes and
    threads the user runs now (None if unknown: the launcher alone is counted); ``root``: the real uid
    is 0, to whom the kernel does not apply RLIMIT_NPROC.
    """
    needed_files = needs.open_files
    if not _enough(open_files.hard, needed_files):
        raise LimitError(_open_files_problem(needs, open_files.hard, user), needed=needed_files)
    set_open_files = None if _enough(open_files.soft, needed_files) else needed_files
    set_processes = None
    if processes is not None and not root:
        running = user_processes if user_processes is not None else 1
        needed = running + needs.processes + PROCESS_MARGIN
        if not _enough(processes.hard, needed):
            raise LimitError(_processes_problem(needs, running, needed, processes.hard, user), needed=needed)
        set_processes = None if _enough(processes.soft, needed) else needed
    return SoftLimits(open_files=set_open_files, processes=set_processes)


def _enough(limit: int | None, needed: int) -> bool:
    return limit is None or limit >= needed


def _open_files_problem(needs: RunNeeds, hard: int | None, user: str) -> str:
    needed = needs.open_files
    who = f"the launcher {needs.launcher_fds:,}, {LAUNCHER_FDS_PER_NODE} a node"
    if needs.busiest_node is not None:
        who += f"; node {needs.busiest_node!r} {needs.busiest_node_fds:,}"
    return (
        f"{needs.source}: {needs.nodes:,} nodes need {needed:,} open files in one process ({who}) but "
        f"the hard limit (ulimit -Hn) is {hard:,}: raise it and run again: "
        f"`sudo prlimit --pid $$ --nofile=:{needed}` for this shell, "
        f"or '{user} hard nofile {needed}' in /etc/security/limits.conf for new logins"
    )


def _processes_problem(needs: RunNeeds, running: int, needed: int, hard: int | None, user: str) -> str:
    return (
        f"{needs.source}: {needs.nodes:,} nodes need {needs.processes:,} processes, and user {user} "
        f"runs {running:,} processes and threads already: the run needs a process limit of {needed:,} "
        f"but the hard limit (ulimit -Hu) is {hard:,}: raise it and run again: "
        f"`sudo prlimit --pid $$ --nproc=:{needed}` for this shell, "
        f"or '{user} hard nproc {needed}' in /etc/security/limits.conf for new logins"
    )


# ---- reading and setting them -------------------------------------------------------------------------

# Descriptors assumed open before the run where they cannot be counted (no /proc/self/fd, /dev/fd).
UNCOUNTED_FDS = 16


def open_fds() -> int:
    """How many descriptors this process holds now."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            # Listing the directory opens one more, which the listing shows.
            return len(os.listdir(directory)) - 1
        except OSError:
            continue
    return UNCOUNTED_FDS


def user_processes(uid: int) -> int | None:
    """The processes and threads whose real uid is ``uid``, as RLIMIT_NPROC counts them; None without
    a /proc to read."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    total = 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                text = status.read()
        except OSError:
            continue  # gone meanwhile
        real_uid, threads = None, 1
        for line in text.splitlines():
            if line.startswith(b"Uid:"):
                real_uid = int(line.split()[1])
            elif line.startswith(b"Threads:"):
                threads = int(line.split()[1])
        if real_uid == uid:
            total += threads
    return total


def ensure_limits(needs: RunNeeds) -> None:
    """Raise this process's soft limits to what the run needs (its node processes inherit them), or
    raise a LimitError: called before anything of the run exists."""
    if resource is None:  # not a POSIX system: nothing to check
        return
    uid = os.getuid()
    nproc = getattr(resource, "RLIMIT_NPROC", None)
    processes = _limit(nproc) if nproc is not None else None
    root = uid == 0
    soft = settle_limits(
        needs,
        open_files=_limit(resource.RLIMIT_NOFILE),
        processes=processes,
        user_processes=user_processes(uid) if processes is not None and not root else None,
        user=_user_name(uid),
        root=root,
    )
    if soft.open_files is not None:
        _set_soft(resource.RLIMIT_NOFILE, soft.open_files, "open files", needs)
    if soft.processes is not None and nproc is not None:
        _set_soft(nproc, soft.processes, "processes", needs)


def _limit(which: int) -> Limit:
    assert resource is not None
    soft, hard = resource.getrlimit(which)
    infinity = resource.RLIM_INFINITY
    return Limit(soft=None if soft == infinity else soft, hard=None if hard == infinity else hard)


def _set_soft(which: int, value: int, what: str, needs: RunNeeds) -> None:
    assert resource is not None
    _, hard = resource.getrlimit(which)
    try:
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError) as error:
        # Linux refuses a soft limit above fs.nr_open, whatever the hard one says.
        raise LimitError(
            f"{needs.source}: the run needs a limit of {value:,} {what}, which the hard limit allows, "
            f"but the kernel refused to raise the soft limit to it: {error}",
            needed=value,
        ) from None


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)

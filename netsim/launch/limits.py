"""What a run needs of the per-process limits (open files, processes), and getting it before it starts.

``run_needs`` counts, from the topology alone, the file descriptors the busiest process of the run
holds and the processes it starts; ``settle_limits`` decides, from those needs and the limits as they
are, which soft limits to raise or that the run cannot start (a ``LimitError``); ``ensure_limits``
reads the limits, asks ``settle_limits`` and raises the soft ones. Both counts are pure functions,
tested against the descriptors a real run's processes hold, so they cannot drift unseen.

A run has three kinds of process: the launcher, its fork server (``netsim.launch.forkserver``) and
the node processes, which the server forks. No process of the run inherits the launcher's
descriptors: the server starts with descriptors 0, 1 and 2 and its link to the launcher only, and
each node keeps of the server's only what is said below. Each takes the launcher's soft limits,
once raised (the server at set-up, the nodes from it), so the run needs the largest of the three.

**The launcher** holds, for each node process, its end of the node's control socket (1 a node),
which it closes when the node exits; a restarted node's earlier process has exited before its new
one is forked. Besides those: whatever the program around it held when the run began
(``inherited_fds``), its selector, its link to the fork server and the fault runner's trace part.
At the end, the nodes and the server gone, it merges the trace, opening every part at once (one per
node process, restarts included, and the fault runner's) plus the merged file.

**The fork server** holds the same few whatever the size of the run: descriptors 0, 1 and 2, its link
to the launcher, its selector, the two ends of its SIGCHLD wake-up pipe and of the start gate (closed
when the run starts), and for a moment while it forks a node the socketpair of its control socket.

**A node process** keeps of the server's descriptors 0, 1 and 2, the start gate's read end (which it
closes when the run starts; a restarted node has none) and its control socket. Its own: its selector,
its trace part, its log, and the read end of the pipe that its descriptors 1 and 2 now write into.
Then one listener per transport its links use, and one socket per link end: the connecting end's
socket or the accepted one on a stream transport, each end's own bound and connected link socket on
a datagram transport (the listener receives for all of them). The two kinds of transport come to
the same count. A node holds the most once its links are up, until the run starts.

A margin covers what no topology says: an app's own files and child processes, what an app module
opens when the server imports it (every node inherits it), a connection held while the one that
replaces it is accepted, strangers' connections waiting for a hello (bounded by
``netsim.runtime.handshake``), a restarted node's earlier control socket whose exit is reported
late, Python's own.

Processes: the launcher, the fork server and one per node. RLIMIT_NPROC counts every process (and
thread) of the user's real uid, so the check adds the run's node processes to what the user runs
already, the launcher and its server included: both run when the run is checked. The kernel checks
it at each fork, in the server, against the soft limit the server took from the launcher. It does not
apply it to root.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from netsim.errors import LimitError
from netsim.launch.plan import link_transport
from netsim.topology.model import Topology
from netsim.trace.merge import MERGE_FAN_IN

resource: ModuleType | None
try:
    import resource
except ImportError:  # not a POSIX system
    resource = None

# ---- what a run needs ---------------------------------------------------------------------------------

# The launcher, per node process: its end of the node's control socket.
LAUNCHER_FDS_PER_NODE = 1
# The launcher's own, whatever the size of the run: its selector and its link to the fork server.
LAUNCHER_FIXED_FDS = 2
# The merged trace, written while every part is open.
MERGE_OUTPUT_FDS = 1
# The fork server's, whatever the size of the run: descriptors 0, 1 and 2, its link to the launcher,
# its selector, the two ends of its wake-up pipe and the start gate's two ends.
FORK_SERVER_FDS = 9
# While it forks a node: the two ends of the node's control socket.
FORK_SERVER_FORK_FDS = 2
# A node's own, besides its sockets: descriptors 0, 1 and 2, the start gate's read end, its control
# socket, its selector, its trace part, its log, the read end of the pipe behind its descriptors 1 and 2.
NODE_FIXED_FDS = 9
# What no topology says (see the module's docstring).
FD_MARGIN = 64
# An app's own child processes, and processes the user starts meanwhile.
PROCESS_MARGIN = 32
# Processes of the run that exist when it is checked: the launcher and its fork server.
RUNNING_PROCESSES = 2


@dataclass(frozen=True, slots=True)
class RunNeeds:
    """What a run needs of its processes' limits: open files (margin included) and processes."""

    source: str
    nodes: int
    # The launcher's descriptors at its busiest (every node up, or merging the trace).
    launcher_fds: int
    # The fork server's at its busiest (forking a node before the run starts).
    fork_server_fds: int
    # The node process that holds the most descriptors once its links are up, and how many.
    busiest_node: str | None
    busiest_node_fds: int
    # Node processes alive at once (a restarted node's earlier process has exited before).
    processes: int

    @property
    def open_files(self) -> int:
        """The soft RLIMIT_NOFILE the run needs: every process of the run takes the launcher's."""
        return max(self.launcher_fds, self.fork_server_fds, self.busiest_node_fds)


def run_needs(
    topology: Topology,
    default_transport: str,
    *,
    inherited_fds: int,
    restarted: Sequence[str] = (),
    faults: bool = False,
) -> RunNeeds:
    """What running ``topology`` needs, margins included.

    ``inherited_fds``: the descriptors the launcher's process holds before the run (``open_fds()``
    before the fork server starts); ``restarted``: the node named by each ``restart`` fault; ``faults``:
    whether the run has a fault runner (its trace part is open in the launcher).
    """
    per_node = node_fds(topology, default_transport)
    busiest = max(per_node, key=per_node.__getitem__, default=None)
    return RunNeeds(
        source=topology.source,
        nodes=len(topology.nodes),
        launcher_fds=launcher_fds(
            len(topology.nodes), inherited_fds=inherited_fds, restarts=len(restarted), faults=faults
        )
        + FD_MARGIN,
        fork_server_fds=FORK_SERVER_FDS + FORK_SERVER_FORK_FDS + FD_MARGIN,
        busiest_node=busiest,
        busiest_node_fds=(per_node[busiest] if busiest is not None else 0) + FD_MARGIN,
        processes=len(topology.nodes),
    )


def launcher_fds(nodes: int, *, inherited_fds: int, restarts: int = 0, faults: bool = False) -> int:
    """The launcher's descriptors at its busiest, without the margin."""
    fault_part = 1 if faults else 0
    # Every node up: a restarted node's earlier socket is closed when its exit is reported, before
    # the new process is forked.
    every_node_up = inherited_fds + LAUNCHER_FIXED_FDS + fault_part + LAUNCHER_FDS_PER_NODE * nodes
    # Merging, once every node and the server have exited and the fault runner's part is closed: a part
    # per node process over the whole run and the fault runner's, of which the merge holds at most
    # MERGE_FAN_IN open at once (more are merged in rounds), and the file it writes.
    merging = inherited_fds + min(nodes + restarts + fault_part, MERGE_FAN_IN) + MERGE_OUTPUT_FDS
    return max(every_node_up, merging)


def node_fds(topology: Topology, default_transport: str) -> dict[str, int]:
    """Each node process's descriptors once its links are up and until the run starts, without the
    margin. A restarted node's later processes have no start gate: one fewer than its first."""
    degree = {node.name: 0 for node in topology.nodes}
    transports: dict[str, set[str]] = {node.name: set() for node in topology.nodes}
    for link in topology.links:
        transport = link_transport(link.transport, default_transport)
        for end in (link.a, link.b):
            degree[end] += 1
            transports[end].add(transport)
    return {name: NODE_FIXED_FDS + len(transports[name]) + degree[name] for name in degree}


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
    threads the user runs now, the launcher and its fork server included (None if unknown: those two
    alone are counted); ``root``: the real uid is 0, to whom the kernel does not apply RLIMIT_NPROC.
    """
    needed_files = needs.open_files
    if not _enough(open_files.hard, needed_files):
        raise LimitError(_open_files_problem(needs, open_files.hard, user), needed=needed_files)
    set_open_files = None if _enough(open_files.soft, needed_files) else needed_files
    set_processes = None
    if processes is not None and not root:
        running = user_processes if user_processes is not None else RUNNING_PROCESSES
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
    if needs.fork_server_fds == needed > max(needs.launcher_fds, needs.busiest_node_fds):
        who += f"; the fork server {needs.fork_server_fds:,}"
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
    """Raise this process's soft limits to what the run needs (the fork server takes them at set-up,
    and its nodes from it), or raise a LimitError: called before the run directory or any node exists."""
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

"""Programs named by a topology (a node's ``cmd``) or by a run (``--cmd``): is each one there to run?

A command line is split as a POSIX shell would split it (``shlex``), without a shell: no pipes,
redirections or variables. Its first word is the executable: a path (relative to the current
directory) when it holds a ``/``, else a name looked up on ``PATH``, as ``execvp`` does.
"""

from __future__ import annotations

import os
import shlex
import shutil

from netsim.errors import OptionError, TopologyError
from netsim.topology.model import Topology
from netsim.topology.parse import format_names


def command_problem(line: str) -> str | None:
    """What stops ``line`` from running (its executable missing or not executable), or None."""
    try:
        argv = shlex.split(line)
    except ValueError as error:
        return f"cannot be split into arguments: {error}"
    if not argv:
        return "is blank"
    executable = argv[0]
    if "/" in executable:
        if not os.path.isfile(executable):
            return f"names {executable!r}, which is not a file (from {os.getcwd()})"
        if not os.access(executable, os.X_OK):
            return (
                f"names {executable!r}, which is not executable (chmod +x it, or run it with its interpreter)"
            )
        return None
    if shutil.which(executable) is None:
        return f"names {executable!r}, which is not on PATH"
    return None


def check_run_command(line: str) -> None:
    """Raise OptionError if the run's ``--cmd`` cannot run."""
    problem = command_problem(line)
    if problem is not None:
        raise OptionError(
            f"--cmd {line!r} {problem}", hint="give the command line of a program that exists here"
        )


def check_topology_commands(topology: Topology) -> None:
    """Raise TopologyError for the first node's ``cmd`` that cannot run."""
    for line, names in topology.commands().items():
        problem = command_problem(line)
        if problem is not None:
            shown = format_names(names)
            raise TopologyError(
                topology.source,
                f"node{'s' if len(names) > 1 else ''} {shown}",
                f"cmd {line!r} {problem}",
                hint="fix the node's cmd attribute, or install the program",
            )

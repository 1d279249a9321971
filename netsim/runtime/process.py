"""A node's OS process: its entry point, its life from set-up to an exit code, and each way it ends.

A node is forked by the run's fork server (``netsim.launch.forkserver``), its parent; the launcher
drives it over its control socket. Life of a node (see ``netsim.runtime.control``):
bind listeners and link sockets -> report ``bound`` -> receive ``addresses`` -> connect links ->
accept the links whose hello names a neighbour -> report ``ready`` -> ``start`` (app runs) ->
``drain`` (app stops; held messages are released) -> ``quiesced`` -> ``shut`` (once every node has
quiesced: output is flushed, stream links are half-closed and read to EOF) -> ``drained`` -> ``close``
(read what is left, close every socket) -> ``closed`` -> exit 0.
An exception in the app (or in netsim) is logged with its traceback, reported as ``crashed``, and the
node exits 1 after flushing its trace. SIGTERM or SIGHUP end it with 128 + the signal; a node whose
launcher died (the kernel ends the fork server with it, and tells the node) cleans up by itself and
exits 3.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import sys
import traceback
from collections.abc import Callable

from netsim.errors import NetsimError, ProgramFailed
from netsim.runtime import control
from netsim.runtime.app import App, MainFailed
from netsim.runtime.bounds import CRASH_LINE_LIMIT, CRASH_TEXT_LIMIT, bounded_lines
from netsim.runtime.context import NodeContext
from netsim.runtime.control import ControlSocket
from netsim.runtime.launcher_pipes import ControlChannel, StartGate
from netsim.runtime.lifeline import (
    NodeTerminated,
    become_subreaper,
    die_with_launcher,
    end_descendants,
    ignore_stop_signals,
    launcher_alive,
    name_process,
    own_process_group,
    stop_on_signals,
)
from netsim.runtime.node import Node
from netsim.runtime.plan import NodePlan
from netsim.runtime.program import ProgramApp

# The ``stop`` reason and exit code of a node whose launcher died before the run ended.
LAUNCHER_GONE = "launcher-gone"
EXIT_ORPHANED = 3


def node_main(
    plan: NodePlan,
    conn: ControlSocket,
    load_app: Callable[[str], type[App] | Callable[..., object]],
    start_gate: tuple[int, int] | None = None,
    parent_pid: int | None = None,
) -> None:
    """Entry point of a node process; never returns (it ends with ``os._exit``).

    ``load_app``: turns the plan's app spec into its class (the fork server passes the app registry's).
    ``start_gate``: the pipe whose EOF starts every node at once; None for a node that starts on the
    launcher's ``start`` (a restarted one). ``parent_pid``: the process that forked this one, whose
    death means the launcher's (``netsim.launch.forkserver``).
    """
    own_process_group()
    stop_on_signals()
    name_process(f"netsim {plan.name}")
    launcher = os.getppid() if parent_pid is None else parent_pid
    exit_code = EXIT_ORPHANED
    node: Node | None = None
    try:
        if die_with_launcher(launcher):
            become_subreaper()
            gate_fd = None
            if start_gate is not None:
                # Only the launcher may hold the write end: the gate opens when its last copy closes.
                os.close(start_gate[1])
                gate_fd = start_gate[0]
            try:
                node = Node(plan, conn)
                exit_code = run_node(node, load_app, start_gate_fd=gate_fd, launcher_pid=launcher)
            except NetsimError as error:
                exit_code = 1
                with contextlib.suppress(OSError):
                    conn.send(control.CRASHED, traceback=f"{type(error).__name__}: {error}")
    except NodeTerminated as termination:
        # Before the node could handle it (during set-up): nothing to close yet but the processes.
        exit_code = 128 + termination.signum
    finally:
        # Whatever the app started ends with its node; then what they all wrote is in the log.
        ignore_stop_signals()
        end_descendants()
        if node is not None:
            node.log_file.drain()
        os._exit(exit_code)


# netsim's own files: frames in them are the loop around the app, not the app.
_NETSIM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _app_frames(error: BaseException) -> str:
    """The frames of ``error``'s traceback outside netsim (the app's), formatted; "" if there are none."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(_NETSIM_DIR)
    ]
    return (
        bounded_lines("".join(traceback.format_list(frames)), CRASH_LINE_LIMIT, CRASH_TEXT_LIMIT)
        if frames
        else ""
    )


def run_node(
    node: Node,
    load_app: Callable[[str], type[App] | Callable[..., object]],
    *,
    start_gate_fd: int | None,
    launcher_pid: int,
) -> int:
    """The whole life of the node process; returns its exit code."""
    try:
        _redirect_output(node)
        node.log(f"node {node.name!r} (index {node.plan.index}) pid {os.getpid()}")
        program = ProgramApp(node) if node.plan.cmd is not None else None
        if program is not None:
            node.app = program
        else:
            target = load_app(node.plan.app)
            # A class is an App; a plain function is a socket program's main(net).
            if isinstance(target, type):
                node.app = target()
            else:
                # Imported here: it brings threading, which an App's node does without (its memory).
                from netsim.runtime.socket_program import SocketProgramApp

                node.app = SocketProgramApp(node, target)
        node.context = NodeContext(node, node.plan.seed)
        listeners, links = node.link_setup.bind()
        if program is not None:
            # Initialised before the node says it is bound, and so before the start barrier opens.
            program.launch()
        node.tell(control.BOUND, listeners=listeners, links=links)
        node.link_setup.receive_addresses()
        commands = ControlChannel(node, node.conn)
        node.selector.register(node.conn.fileno(), selectors.EVENT_READ, commands)
        # Commands that came behind the address book, in the same read, are not the selector's to see.
        commands.dispatch(node.conn.take_pending())
        if start_gate_fd is not None:
            node.selector.register(start_gate_fd, selectors.EVENT_READ, StartGate(node, start_gate_fd))
        node.serve()
        if node.orphaned:
            return _end_orphaned(node)
        node.shutdown.close_all("shutdown")
        node.trace_stop("shutdown")
        node.trace.flush()
        node.tell(control.CLOSED, counters=node.counters)
        return 0
    except NodeTerminated as termination:
        # SIGTERM or SIGHUP: the launcher's last resort when a cooperative stop timed out, or the
        # kernel saying that the launcher died.
        if not launcher_alive(launcher_pid):
            return _end_orphaned(node)
        where = _app_frames(termination)
        if where:
            # A callback that never returned: where it was is what its author needs to see.
            node.log(f"ended by {termination} while in the app's code:\n{where}")
        node.shutdown.close_all("terminated")
        node.trace_stop("terminated")
        return 128 + termination.signum
    except BaseException as error:  # noqa: BLE001 - every failure is reported, then the node exits
        return _crash(node, error)
    finally:
        node.trace.close()
        if node.end_program_calls is not None:
            node.end_program_calls()


def _end_orphaned(node: Node) -> int:
    """Leave nothing behind without the launcher: sockets, socket files, the run's socket directory."""
    # The kernel's SIGTERM and the control channel's EOF both say so: one clean-up is enough.
    ignore_stop_signals()
    node.orphaned = True
    node.shutdown.close_all(LAUNCHER_GONE)
    node.trace_stop(LAUNCHER_GONE)
    node.trace.flush()
    # Every node of the run does this; the directory goes with the first, and the launcher that
    # would have removed it is gone. Its sockets' connections live on until each node closes them.
    shutil.rmtree(node.plan.socket_dir, ignore_errors=True)
    return EXIT_ORPHANED


def _crash(node: Node, error: BaseException) -> int:
    if isinstance(error, MainFailed):
        # The program's traceback, from main down: the node's loop that re-raised it is netsim's.
        text = error.text
    elif isinstance(error, ProgramFailed):
        # The program's own story (exit status, stderr) says more than netsim's stack.
        text = f"{error}\n"
    else:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if isinstance(error, SystemExit):
        # sys.exit() in an app ends the node, not the run: a failure like any other, named.
        text += f"the app called sys.exit({error.code!r}); a node's app ends with ctx.stop()\n"
    # Bounded: an app's exception message is anything it raised, 50 MB as well as one line.
    text = bounded_lines(text, CRASH_LINE_LIMIT, CRASH_TEXT_LIMIT)
    node.log_file.write_always(f"node {node.name!r} crashed:\n{text}")
    last_line = text.strip().splitlines()[-1] if text.strip() else repr(error)[:CRASH_LINE_LIMIT]
    try:
        node.trace.event("error", error=f"node crashed: {last_line}")
        node.shutdown.close_all("crash")
        node.trace_stop("crash")
        node.trace.flush()
    finally:
        node.tell(control.CRASHED, traceback=text)
    return 1


def _redirect_output(node: Node) -> None:
    """print() in an app, and anything written to fds 1 and 2, lands in the node's log, up to its cap."""
    sys.stdout.flush()
    sys.stderr.flush()
    log_file = node.log_file
    pipe = log_file.capture_descriptors()
    sys.stdout = sys.stderr = log_file  # type: ignore[assignment]
    node.selector.register(pipe, selectors.EVENT_READ, log_file)

"""The fork server: a small process that forks every node of a run, started while the launcher loads.

Why not fork from the launcher: ``fork()`` copies the parent's page tables, and whatever the parent
holds each child maps. A launcher that has read a 1,000-node topology and built its plans forks a node
in ~1.7 ms on a 2-vCPU VM; a process that holds only netsim's runtime forks one in ~0.25 ms, and each
node then maps far less (``bench/launch.py`` measures both). The server is a fresh interpreter that
imports the runtime and the apps, so starting it costs no wall time: the launcher meanwhile reads the
topology and writes the run directory.

Why ``os.fork`` and not ``multiprocess.Process``: a Process keeps two pipe ends in its parent for each
child, which every later child inherits (thousands of descriptors per node in a large run), and each
``start()`` polls every earlier child (O(N²) ``waitpid`` calls). The server holds nothing per node but
its pid; it learns of exits from SIGCHLD.

Before its first fork of a large run the server rehearses a node's start-up in its own process
(``netsim.runtime.rehearsal``), so that its nodes find that code warmed and leave its pages shared,
and, where the interpreter has immortal objects (CPython 3.12 and later), makes its heap immortal
(``netsim.launch.immortal``), so that its nodes do not copy a page to count a reference.

The nodes are the server's children. It puts each in its own process group, ends that group when the
node exits and only then reaps it (so the group id cannot have been reused), and reports the exit
code. It asks the kernel for SIGTERM when the launcher dies, and each node asks for SIGTERM when the
server dies: a dead launcher still takes every node down, which then cleans up after itself
(``netsim.runtime.process``).

Protocol (``netsim.runtime.control`` framing: JSON objects over a private socketpair). Launcher ->
server: ``setup`` (sys.path, node names, run key, apps to import), then ``fork`` (plans, gated or
not), ``open-gate``, ``signal`` (pid, signal number), ``quit``. Server -> launcher: ``ready``,
``forked`` (index, generation, pid; it carries the launcher's end of the node's control socket as
SCM_RIGHTS), ``fork-failed`` (index, error), ``exited`` (pid, exit code). Over many hosts the launcher's
"server" is the relay to the host agents (``netsim.launch.cluster.relay``), which also says
``host-lost`` (host, address, error, the indexes of its nodes).
"""

from __future__ import annotations

import array
import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

from netsim.errors import LimitError
from netsim.launch.control_link import ControlLink
from netsim.runtime.control import ControlDecoder, encode_control

if TYPE_CHECKING:
    import subprocess

SETUP = "setup"
FORK = "fork"
OPEN_GATE = "open-gate"
SIGNAL = "signal"
QUIT = "quit"
READY = "ready"
FORKED = "forked"
FORK_FAILED = "fork-failed"
EXITED = "exited"
HOST_LOST = "host-lost"

# The resource limits the server takes from the launcher at set-up (soft limits only).
LIMITS_PASSED_ON = ("RLIMIT_NOFILE", "RLIMIT_NPROC")

# Runs of this many nodes or more have the server rehearse a node's start-up before its first fork
# (netsim.runtime.rehearsal): ~20 ms for each transport the run uses, for ~0.3 MiB less memory in each
# node (bench/launch.py).
REHEARSE_FROM_NODES = 100

# A node that returns from node_main (it never should) ends with this code.
EXIT_RETURNED = 70

# The server imports netsim from where the launcher did. The path goes in the environment, which the
# bootstrap clears at once so that no node, nor anything a node's app runs, inherits it.
PATH_VARIABLE = "NETSIM_FORK_SERVER_PATH"
_BOOTSTRAP = (
    f"import json, os, sys; sys.path[:] = json.loads(os.environ.pop({PATH_VARIABLE!r})); "
    "from netsim.launch.forkserver import main; main(int(sys.argv[1]))"
)


# ---- the launcher's side ---------------------------------------------------------------------------


class ForkServer:
    """The launcher's handle on its fork server: a process and the control link to it."""

    def __init__(self, process: subprocess.Popen[bytes], link: ControlLink) -> None:
        self.process = process
        self.link = link
        self.closed = False

    @classmethod
    def start(cls) -> ForkServer:
        # Imported here, in the launcher, not at the top: subprocess imports threading, and every node
        # forked from a server that has loaded threading runs its after-fork hook, which copies ~360
        # KiB of shared pages into the node (bench/launch.py, memory per node).
        import subprocess

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # After the descriptor, the launcher's own command line: ``ps`` shows the server and every
        # node (they are its forks) with the run they belong to.
        command = [sys.executable, "-c", _BOOTSTRAP, str(theirs.fileno()), "netsim-fork-server", *sys.argv]
        try:
            process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, PATH_VARIABLE: json.dumps(sys.path)},
            )
        except BlockingIOError:
            ours.close()
            # fork() says EAGAIN when the user runs as many processes as RLIMIT_NPROC allows.
            raise LimitError(
                "cannot start netsim's fork server: this user runs as many processes as its limit "
                "allows (ulimit -u): end some, or raise the limit, and run again",
                needed=0,
            ) from None
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(process, ControlLink(ours, takes_fds=True))

    @property
    def pid(self) -> int:
        return self.process.pid

    def setup(
        self,
        node_names: tuple[str, ...],
        run_key: bytes,
        apps: list[str],
        program_links: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.link.send(
            SETUP,
            sys_path=sys.path,
            node_names=node_names,
            run_key=run_key.hex(),
            program_links=program_links,
            apps=apps,
            soft_limits=_soft_limits(),
        )

    def send(self, kind: str, **fields: Any) -> None:
        self.link.send(kind, **fields)

    def close(self, timeout_s: float = 5.0) -> None:
        """Ask the server to quit and wait for it; kill it if it does not. Once is enough."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.link.send(QUIT)
        self.link.close()
        import subprocess

        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pass  # killed below
        finally:
            # Also when the wait was cut short (a timeout, an interrupt): never leave it unreaped.
            if self.process.returncode is None:
                self.process.kill()
                self.process.wait()


def _soft_limits() -> dict[str, int]:
    """The launcher's soft limits on open files and processes, which it may have raised for this run
    (``netsim.launch.limits``) after the server started: the server and its nodes take them too."""
    try:
        import resource
    except ImportError:
        return {}
    limits = {}
    for name in LIMITS_PASSED_ON:
        which = getattr(resource, name, None)
        if which is not None:
            limits[name] = resource.getrlimit(which)[0]
    return limits


# ---- the server's side ------------------------------------------------------------------------------


def _end_if_orphaned(launcher_pid: int) -> None:
    if os.getppid() != launcher_pid:
        os._exit(128 + signal.SIGTERM)  # as SIGTERM's default would: the launcher died


def main(fd: int) -> None:
    """Entry point of the fork server process (see ``_BOOTSTRAP``)."""
    from netsim.runtime.lifeline import die_with_launcher, name_process

    # Ctrl-C, a closed terminal and a SIGTERM to the group (`timeout`, `kill -TERM -PGID`) reach the
    # launcher's process group, which the server is in: the launcher decides what they mean and stops
    # the nodes itself. A SIGTERM ends the server only once the launcher is gone (die_with_launcher).
    launcher_pid = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: _end_if_orphaned(launcher_pid))
    name_process("netsim-forksrv")
    code = 0
    try:
        _preload()
        if die_with_launcher(os.getppid()):
            _Server(socket.socket(fileno=fd)).serve()
    except BaseException:  # noqa: BLE001 - a bug here: shown on the launcher's stderr
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _preload() -> None:
    """Import what every node runs, once, before any fork: a node must not import anything itself."""
    from netsim.apps.registry import resolve_app
    from netsim.runtime import process  # noqa: F401 - imported for its children
    from netsim.vocabulary import BUILTIN_APP_NAMES

    for name in BUILTIN_APP_NAMES:
        resolve_app(name)


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = ControlDecoder()
        self.selector = selectors.DefaultSelector()
        self.live: set[int] = set()
        self.gate: tuple[int, int] | None = None
        self.node_names: tuple[str, ...] = ()
        self.run_key = b""
        self.program_links: tuple[tuple[int, int], ...] = ()
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        # SIGCHLD only writes a byte to the wake-up pipe; the loop reaps.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_write, warn_on_full_buffer=False)
        self.selector.register(sock, selectors.EVENT_READ, "launcher")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "exits")
        self.quitting = False
        # Whether this server has rehearsed a node's start-up (netsim.runtime.rehearsal) and made its
        # heap immortal (netsim.launch.immortal), which it does once, before its first fork of a large run.
        self.rehearsed = False

    def serve(self) -> None:
        while not self.quitting:
            for key, _ in self.selector.select():
                if key.data == "exits":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_read, 4096):
                            pass
                    self._reap()
                elif not self._read_launcher():
                    return

    def _read_launcher(self) -> bool:
        data = self.sock.recv(1 << 20)
        if not data:
            # The launcher is gone: so is the server. Its nodes are told by the kernel and clean up.
            return False
        for request in self.decoder.feed(data):
            self._on_request(request)
        return True

    def _on_request(self, request: dict[str, Any]) -> None:
        kind = request["kind"]
        if kind == SETUP:
            self._setup(request)
        elif kind == FORK:
            self._fork_all(request["plans"], gated=request["gated"])
        elif kind == OPEN_GATE:
            self._close_gate()
        elif kind == SIGNAL:
            if request["pid"] in self.live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(request["pid"], request["signum"])
        elif kind == QUIT:
            self.quitting = True

    def _setup(self, request: dict[str, Any]) -> None:
        from netsim.apps.registry import resolve_app
        from netsim.errors import NetsimError

        sys.path[:] = request["sys_path"]
        _take_soft_limits(request["soft_limits"])
        self.node_names = tuple(request["node_names"])
        self.run_key = bytes.fromhex(request["run_key"])
        self.program_links = tuple((a, b) for a, b in request["program_links"])
        for spec in request["apps"]:
            # Imported once here, shared by every node; a node that cannot load its app says why.
            with contextlib.suppress(NetsimError, Exception):
                if not isinstance(resolve_app(spec), type):
                    # A socket program's node runs it beside its loop: the runtime for that, once too.
                    import netsim.runtime.socket_program  # noqa: F401
                    import netsim.runtime.traced_socket  # noqa: F401
        # Forked nodes read the gate's EOF: it opens when the server closes the write end.
        self.gate = os.pipe()
        self._send(encode_control(READY, pid=os.getpid()))

    def _fork_all(self, plans: list[dict[str, Any]], *, gated: bool) -> None:
        from netsim.runtime.plan import plan_from_json

        node_plans = [
            plan_from_json(plan, self.node_names, self.run_key, self.program_links) for plan in plans
        ]
        first_large_fork = not self.rehearsed and len(self.node_names) >= REHEARSE_FROM_NODES
        if first_large_fork:
            self.rehearsed = True
            _rehearse({link.transport for plan in node_plans for link in plan.links})
        # What exists now is shared copy-on-write with every child; gc in a child must not touch it.
        gc.collect()
        if first_large_fork:
            # After the collection, so that no garbage is made immortal.
            from netsim.launch.immortal import immortalize_heap

            immortalize_heap()
        gc.freeze()
        for plan in node_plans:
            if not self._fork(plan, gated=gated):
                return

    def _fork(self, plan: Any, *, gated: bool) -> bool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except OSError as error:
            ours.close()
            theirs.close()
            self._send(encode_control(FORK_FAILED, index=plan.index, error=str(error)))
            return False
        if pid == 0:
            ours.close()
            self._become_node(plan, theirs, gated=gated)
        # The node does the same first thing: whichever runs first, it leads its own group before
        # anything else could happen to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        theirs.close()
        self.live.add(pid)
        fields = {"index": plan.index, "generation": plan.generation, "pid": pid}
        self._send(encode_control(FORKED, **fields), fd=ours.fileno())
        ours.close()
        return True

    def _become_node(self, plan: Any, sock: socket.socket, *, gated: bool) -> None:
        """In the child: drop what is the server's, then be the node. Never returns."""
        from netsim.apps.registry import resolve_app
        from netsim.runtime.control import ControlSocket
        from netsim.runtime.lifeline import set_handler
        from netsim.runtime.process import node_main

        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
                set_handler(signum, signal.SIG_DFL)
            self.selector.close()
            self.sock.close()
            os.close(self.wake_read)
            os.close(self.wake_write)
            gate = self.gate if gated else None
            if self.gate is not None and not gated:
                os.close(self.gate[0])
                os.close(self.gate[1])
            node_main(plan, ControlSocket(sock), resolve_app, gate, os.getppid())
        finally:
            os._exit(EXIT_RETURNED)

    def _close_gate(self) -> None:
        if self.gate is not None:
            os.close(self.gate[1])
            os.close(self.gate[0])
            self.gate = None

    def _reap(self) -> None:
        while True:
            try:
                exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if exited is None or exited.si_pid == 0:
                return
            pid = exited.si_pid
            # What the node's app started ends with it; the group goes before the node is reaped,
            # while its id, the node's pid, cannot belong to anyone else.
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            self.live.discard(pid)
            self._send(encode_control(EXITED, pid=pid, exit_code=os.waitstatus_to_exitcode(status)))

    def _send(self, data: bytes, fd: int | None = None) -> None:
        if fd is None:
            self.sock.sendall(data)
            return
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
        sent = self.sock.sendmsg([data], rights)
        if sent < len(data):
            self.sock.sendall(data[sent:])


def _rehearse(transports: set[str]) -> None:
    """Rehearse; a rehearsal that fails costs its nodes memory, not the run: it goes on without one."""
    from netsim.runtime.rehearsal import rehearse

    with contextlib.suppress(Exception):
        rehearse(sorted(transports))


def _take_soft_limits(limits: dict[str, int]) -> None:
    import resource

    for name, soft in limits.items():
        which = getattr(resource, name)
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (soft, hard))

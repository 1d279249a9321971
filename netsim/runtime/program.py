"""A node that runs a program: the node process starts it and speaks Maelstrom's protocol with it.

The program (any executable, any language) is the node process's child, in a process group of its
own, and ends with the node (``lifeline.end_descendants``). It reads messages on its stdin and writes
them on its stdout, one JSON object per line (``netsim.wire.maelstrom``); what it writes on its stderr
goes to the node's log, and its last lines name the cause when the program fails.

Before the node reports its sockets bound, it sends the program ``init`` and waits for ``init_ok``, so
that every program of the run is initialised before the start barrier opens. Then ``ProgramApp`` sits
where a Python app would: a message from a neighbour becomes a line on the program's stdin, and a line
on its stdout a message to a neighbour, its body carried verbatim inside netsim's envelope (the
message type is the body's type). A reply's ``in_reply_to`` is matched to the netsim message it
answers, so the trace pairs requests and replies. A line that is not a valid message is traced as an
``error`` (with its first bytes) and dropped; a message to a node that does not exist, or that is not
a neighbour, is traced and dropped too, and gets an ``error`` reply (code 1, node-not-found) when it
had a ``msg_id``. A program that exits, or never answers ``init``, fails its node with its exit code
or signal and the last lines of its stderr.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import os
import select
import selectors
import shlex
import signal
import time
from typing import TYPE_CHECKING, Any

import orjson

from netsim.errors import MessageTooLarge, ProgramFailed
from netsim.runtime.app import App
from netsim.runtime.routing import HOP_LIMIT, first_hops, unwrap, wrap
from netsim.wire.framing import MAX_FRAME_BYTES
from netsim.wire.maelstrom import (
    NODE_NOT_FOUND,
    QUOTED_BYTES,
    LineDecoder,
    LineError,
    ProgramMessage,
    encode_line,
    error_body,
    init_body,
    parse_line,
)

if TYPE_CHECKING:
    from netsim.runtime.context import NodeContext
    from netsim.runtime.node import Node
    from netsim.wire.message import Message

# The environment variable that names the node's directory for state kept across restarts.
STATE_DIR_VARIABLE = "NETSIM_STATE_DIR"
# Lines of the program's stderr kept to explain its failure.
STDERR_TAIL_LINES = 10
# The msg_id of netsim's init message.
INIT_MSG_ID = 1
# Requests whose netsim message id a reply can still be matched to, per node.
REPLY_MEMORY = 65_536
# How long a program that closed its stdout has to exit before it counts as gone.
EXIT_GRACE_S = 1.0
READ_BYTES = 1 << 16
# What may wait for a program that does not read its stdin; more is dropped, each drop traced.
STDIN_BACKLOG_BYTES = 64 << 20


class ProgramApp(App):
    """The app of a node that runs ``plan.cmd``."""

    def __init__(self, node: Node) -> None:
        assert node.plan.cmd is not None
        self.node = node
        self.argv = list(node.plan.cmd)
        self.pid = 0
        self.stdin = _ProgramInput(self)
        self.stdout: _ProgramOutput | None = None
        self.stderr: _ProgramErrors | None = None
        self.ctx: NodeContext | None = None
        # What the program said before the run started: sent once it has.
        self._early: list[ProgramMessage] = []
        # (peer, body msg_id) -> the netsim id of that request, for the reply's in_reply_to.
        self._requests: dict[tuple[str, int], str] = {}
        self._node_names = frozenset(node.plan.node_names)
        # Worked out when a message first needs forwarding (routing.first_hops): index -> index.
        self._hops: dict[int, int] | None = None
        self._index_of: dict[str, int] = {}

    # ---- start: spawn, init ---------------------------------------------------------------------------

    def launch(self) -> None:
        """Start the program and initialise it; raises ProgramFailed if it does not answer init_ok."""
        node = self.node
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        environment = dict(os.environ)
        if node.plan.state_dir:
            os.makedirs(node.plan.state_dir, exist_ok=True)
            environment[STATE_DIR_VARIABLE] = node.plan.state_dir
        try:
            self.pid = os.posix_spawnp(
                self.argv[0],
                self.argv,
                environment,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, stdin_read, 0),
                    (os.POSIX_SPAWN_DUP2, stdout_write, 1),
                    (os.POSIX_SPAWN_DUP2, stderr_write, 2),
                ],
                setpgroup=0,
                # The node handles these itself; the program gets the defaults back.
                setsigdef=(signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE, signal.SIGCHLD),
                setsigmask=(),
            )
        except OSError as error:
            for fd in (stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write):
                os.close(fd)
            raise ProgramFailed(self.command, f"could not be started: {error.strerror or error}") from None
        for fd in (stdin_read, stdout_write, stderr_write):
            os.close(fd)
        self.stdin.fd = stdin_write
        self.stdout = _ProgramOutput(self, stdout_read)
        self.stderr = _ProgramErrors(self, stderr_read)
        node.trace.event("app", data={"kind": "program", "pid": self.pid, "cmd": self.command})
        self._initialise()
        for handler in (self.stdout, self.stderr):
            os.set_blocking(handler.fd, False)
            node.selector.register(handler.fd, selectors.EVENT_READ, handler)
        os.set_blocking(stdin_write, False)
        exit_watch = _ProgramExit.open(self)
        if exit_watch is not None:
            node.selector.register(exit_watch.fd, selectors.EVENT_READ, exit_watch)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def _initialise(self) -> None:
        node = self.node
        assert self.stdout is not None and self.stderr is not None
        servers = node.plan.servers or len(node.plan.node_names)
        body = init_body(INIT_MSG_ID, node.name, list(node.plan.node_names[:servers]))
        self._write_blocking(encode_line(node.name, node.name, body))
        timeout_s = node.plan.settings.program_init_timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self.failure(f"did not answer init with init_ok within {timeout_s:g} s")
            readable, _, _ = select.select([self.stdout.fd, self.stderr.fd], [], [], left)
            if self.stderr.fd in readable:
                self.stderr.on_readable()
            if self.stdout.fd in readable:
                answered = False
                for message in self.stdout.read_messages():
                    in_reply_to = message.body.get("in_reply_to")
                    if not answered and message.type == "init_ok" and in_reply_to != INIT_MSG_ID:
                        raise self.failure(
                            f"answered init (msg_id {INIT_MSG_ID}) with an init_ok whose in_reply_to is "
                            f"{in_reply_to!r}, not {INIT_MSG_ID}"
                        )
                    if not answered and in_reply_to == INIT_MSG_ID:
                        if message.type != "init_ok":
                            raise self.failure(f"answered init with {message.type!r}: {message.body}")
                        node.trace.event("app", data={"kind": "init_ok", "pid": self.pid})
                        answered = True
                    else:
                        # Sent once the run starts, whether written before init_ok or after it.
                        self._early.append(message)
                if answered:
                    return

    def _write_blocking(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.stdin.fd, view) :]
        except BrokenPipeError:
            raise self.failure("closed its stdin before init") from None

    # ---- the run ------------------------------------------------------------------------------------

    def on_start(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        early, self._early = self._early, []
        for message in early:
            self.route(message)

    def on_message(self, ctx: NodeContext, message: Message) -> None:
        body = message.body
        src = message.src
        forwarded = unwrap(body)
        if forwarded is not None:
            src, dest, hops, body = forwarded
            if dest != self.node.name:
                self._forward(message, src, dest, hops, body)
                return
        if isinstance(body, dict):
            msg_id = body.get("msg_id")
            if isinstance(msg_id, int):
                requests = self._requests
                requests[(src, msg_id)] = message.id
                if len(requests) > REPLY_MEMORY:
                    del requests[next(iter(requests))]
            if "type" not in body:
                body = {**body, "type": message.type}
        else:
            # From a Python app: the body the program sees still has a type.
            body = {"type": message.type, "value": body}
        self.stdin.write(encode_line(src, self.node.name, body))

    def route(self, message: ProgramMessage) -> None:
        """Send what the program wrote: to a neighbour, back to itself, on towards a node further away
        (``netsim.runtime.routing``), or nowhere (traced)."""
        ctx = self.ctx
        if ctx is None:
            self._early.append(message)
            return
        node = self.node
        dest = message.dest
        if dest == node.name:
            self.stdin.write(encode_line(message.src, dest, message.body))
            return
        if dest not in node.links_by_peer:
            hop = self._first_hop(dest)
            if hop is not None:
                self._send(
                    hop, message.type, wrap(message.src, dest, 1, message.body), self._reply_to(message)
                )
            elif dest not in self._node_names:
                self._undeliverable(message, f"{dest} is not a node of this run")
            elif node.plan.program_links:
                self._undeliverable(message, f"no route from {node.name} to {dest}")
            else:
                self._undeliverable(message, f"{dest} is not a neighbour of {node.name}")
            return
        body = message.body
        if message.src != node.name and self._first_hop(dest) == dest:
            # The receiver's program sees src as this one wrote it (a proxy that answers for a client),
            # as when a message is forwarded or sent to the node itself: the envelope carries it. Only
            # to a program's node (a link forwarding runs over): a Python app would see the envelope.
            body = wrap(message.src, dest, 1, body)
        self._send(dest, message.type, body, self._reply_to(message))

    def _reply_to(self, message: ProgramMessage) -> str | None:
        """The netsim id of the request a reply answers, if it came to this node (for the trace)."""
        in_reply_to = message.body.get("in_reply_to")
        return self._requests.get((message.dest, in_reply_to)) if isinstance(in_reply_to, int) else None

    def _send(self, peer: str, message_type: str, body: Any, reply_to: str | None = None) -> None:
        assert self.ctx is not None
        try:
            self.ctx.send(peer, message_type, body, in_reply_to=reply_to)
        except MessageTooLarge as error:
            # Quoted as the program wrote it would be: the first bytes of its body.
            first = orjson.dumps(body)[:QUOTED_BYTES].decode("utf-8", "backslashreplace")
            self.node.write_error(
                f"program message to {peer} dropped: {error}: {first!r}", peer=peer, msg_type=message_type
            )

    def _first_hop(self, dest: str) -> str | None:
        """The neighbour a message to ``dest`` goes through, or None (no route, or no forwarding)."""
        plan = self.node.plan
        if self._hops is None:
            self._hops = first_hops(plan.index, plan.program_links) if plan.program_links else {}
            self._index_of = {name: index for index, name in enumerate(plan.node_names)}
        index = self._index_of.get(dest)
        hop = self._hops.get(index) if index is not None else None
        return plan.node_names[hop] if hop is not None else None

    def _forward(self, message: Message, src: str, dest: str, hops: int, body: Any) -> None:
        """A forwarded message on its way through this node to ``dest``."""
        node = self.node
        hop = self._first_hop(dest)
        if hop is None or hops >= HOP_LIMIT:
            why = f"no route to {dest}" if hop is None else f"it has taken {hops} hops, the limit"
            node.write_error(f"forwarded message from {src} to {dest} dropped: {why}", msg_type=message.type)
            return
        node.trace.event(
            "forward",
            msg_id=message.id,
            msg_type=message.type,
            peer=hop,
            data={"src": src, "dest": dest, "hops": hops + 1},
        )
        self._send(hop, message.type, wrap(src, dest, hops + 1, body))

    def _undeliverable(self, message: ProgramMessage, why: str) -> None:
        self.node.write_error(
            f"program message to {message.dest} dropped: {why}", peer=message.dest, msg_type=message.type
        )
        msg_id = message.msg_id
        if msg_id is not None:
            reply = error_body(NODE_NOT_FOUND, why, msg_id)
            self.stdin.write(encode_line(message.dest, self.node.name, reply))

    def bad_line(self, error: LineError) -> None:
        self.node.write_error(f"program wrote a line that is not a message: {error.describe()}")

    def failure(self, what: str) -> ProgramFailed:
        """The error that fails the node: ``what`` happened, with the last lines of the stderr."""
        assert self.stderr is not None
        self.stderr.drain()
        return ProgramFailed(self.command, what, stderr_tail=list(self.stderr.tail))

    def exited(self) -> ProgramFailed:
        """The program closed its stdout: the failure that says how it ended."""
        deadline = time.monotonic() + EXIT_GRACE_S
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() >= deadline:
                return self.failure("closed its stdout")
            time.sleep(0.005)
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            with contextlib.suppress(ValueError):
                return self.failure(f"was killed by signal {number} ({signal.Signals(number).name})")
            return self.failure(f"was killed by signal {number}")
        return self.failure(f"exited with code {os.waitstatus_to_exitcode(status)}")


class _ProgramInput:
    """The program's stdin: lines queue here until the pipe takes them."""

    def __init__(self, program: ProgramApp) -> None:
        self.program = program
        self.fd = -1
        self.pending = bytearray()
        self.watched = False
        self.closed = False
        self.dropped = 0

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.pending) + len(data) > STDIN_BACKLOG_BYTES:
            # The program does not read its stdin: a bound, not the node's memory without end.
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                self.program.node.write_error(
                    f"program's stdin holds {len(self.pending):,} bytes it has not read: message dropped "
                    f"({self.dropped:,} so far)"
                )
            return
        # Written once the loop finds the pipe writable, right after this turn's callbacks: the lines
        # of one turn (a burst of messages read at once) go to the program in one write(2).
        self.pending += data
        if not self.watched:
            self.program.node.selector.register(self.fd, selectors.EVENT_WRITE, self)
            self.watched = True

    def on_readable(self) -> None:
        pass

    def on_writable(self) -> None:
        try:
            written = os.write(self.fd, self.pending)
        except BlockingIOError:
            return
        except BrokenPipeError:
            written = len(self.pending)
            self.closed = True
        del self.pending[:written]
        if not self.pending:
            self.program.node.selector.unregister(self.fd)
            self.watched = False


class _ProgramOutput:
    """The program's stdout, cut into messages."""

    def __init__(self, program: ProgramApp, fd: int) -> None:
        self.program = program
        self.fd = fd
        self.decoder = LineDecoder(MAX_FRAME_BYTES)
        self.closed = False

    def read_messages(self) -> list[ProgramMessage]:
        """What the pipe holds now, as messages; bad lines are traced. Raises ProgramFailed at EOF."""
        try:
            data = os.read(self.fd, READ_BYTES)
        except BlockingIOError:
            return []
        if not data:
            self.closed = True
            raise self.program.exited()
        messages: list[ProgramMessage] = []
        name = self.program.node.name
        for line in self.decoder.feed(data):
            parsed = parse_line(line, name) if isinstance(line, bytes) else line
            if isinstance(parsed, LineError):
                self.program.bad_line(parsed)
            elif parsed is not None:
                messages.append(parsed)
        return messages

    def on_readable(self) -> None:
        route = self.program.route
        for message in self.read_messages():
            route(message)

    def on_writable(self) -> None:
        pass


class _ProgramErrors:
    """The program's stderr: into the node's log, its last lines kept."""

    def __init__(self, program: ProgramApp, fd: int) -> None:
        self.program = program
        self.fd = fd
        self.tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._partial = b""
        self.closed = False
        # A character cut between two reads is decoded whole.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def on_readable(self) -> None:
        try:
            data = os.read(self.fd, READ_BYTES)
        except BlockingIOError:
            return
        if not data:
            self.closed = True
            with contextlib.suppress(KeyError, ValueError):
                self.program.node.selector.unregister(self.fd)
            if self._partial:
                self.tail.append(self._partial.decode("utf-8", "replace"))
                self._partial = b""
            return
        self.program.node.log_file.write(self._decoder.decode(data))
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-4096:]
        self.tail.extend(line.decode("utf-8", "replace") for line in lines[-STDERR_TAIL_LINES:])

    def drain(self) -> None:
        """Read what the program wrote and was not read yet (it may have just died)."""
        os.set_blocking(self.fd, False)
        while not self.closed and select.select([self.fd], [], [], 0)[0]:
            self.on_readable()

    def on_writable(self) -> None:
        pass


class _ProgramExit:
    """The program's process, watched through a pidfd (Linux 5.3): readable once it has exited, even
    while a child of its own still holds its stdout open (no end of file comes then)."""

    def __init__(self, program: ProgramApp, fd: int) -> None:
        self.program = program
        self.fd = fd

    @classmethod
    def open(cls, program: ProgramApp) -> _ProgramExit | None:
        try:
            return cls(program, os.pidfd_open(program.pid))
        except (AttributeError, OSError):
            return None  # no pidfds here: the end of its stdout is all there is to go by

    def on_readable(self) -> None:
        program = self.program
        output = program.stdout
        # What it wrote before it went is still delivered: read its stdout until it is empty.
        while output is not None and not output.closed and select.select([output.fd], [], [], 0)[0]:
            messages = output.read_messages()  # raises the failure at the end of the pipe
            if not messages and not select.select([output.fd], [], [], 0)[0]:
                break
            for message in messages:
                program.route(message)
        raise program.exited()

    def on_writable(self) -> None:
        pass

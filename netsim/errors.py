"""The netsim error tree: every error a user can see is one of these.

    NetsimError                 root; ``exit_code`` says how the CLI exits
    ├── InputError              the user's input is wrong (exit 2)
    │   ├── TopologyError       a topology file or generator spec (file, element, hint)
    │   ├── AppError            an app name or ``module:Class`` that cannot be used
    │   ├── OptionError         a command-line option or API argument out of range
    │   ├── ConditionError      a link condition value (latency, loss, bandwidth, ...); also a ValueError
    │   ├── FaultError          a fault that cannot be scheduled; also a ValueError
    │   ├── LimitError          a run that needs more open files or processes than the hard limit allows
    │   └── TraceFormatError    a trace file that is not ``netsim-trace/1`` (file, line)
    ├── CodecError              bytes that are not a valid netsim frame or message
    ├── ProgramFailed           a node's program (``--cmd``) could not start, failed init or exited
    ├── TransportError          a socket operation netsim cannot carry out
    │   └── MessageTooLarge     a message bigger than its transport can carry
    └── RunError                a simulation that did not end ok (exit 1); ``result`` is its Run
        ├── StartupError        nodes did not come up (bind, connect, barrier)
        ├── NodeCrashed         a node process raised or died (node, exit code, traceback)
        └── NodeFailedToStart   a node that failed before the start: a StartupError and a NodeCrashed

``netsim.run`` reports a failed run in its result (``result.exit_code``, the summary's
``node_failures``); with ``check=True`` it raises the ``RunError`` that says why instead, after the run
directory is finished. Inside a node, a ``StartupError`` ends the node before its app starts.

``ConditionError`` and ``FaultError`` name the value at fault; the caller that knows where it was found
(an edge of a topology file, a ``--faults`` line) raises a ``TopologyError`` or ``OptionError`` from them.
Lower layers convert ``OSError``, ``KeyError`` and friends into these at exactly one place each:
topology loading (``netsim.topology.load``), the wire format (``netsim.wire``), the transports
(``netsim.transport``) and the launcher (``netsim.launch``). The CLI catches ``NetsimError`` once.
"""

from __future__ import annotations

from typing import Any


class NetsimError(Exception):
    """Root of every error netsim raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Messages quote what the user gave (a name, a value): a 5 MB value stays one readable line.
        message = _bounded(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else _bounded(hint)

    def __str__(self) -> str:
        return self.message


class InputError(NetsimError):
    """Something the user gave netsim is wrong; fixing the input fixes the error."""

    exit_code = 2


class TopologyError(InputError):
    """A topology file or spec that cannot be run, naming the file and the element at fault."""

    def __init__(self, source: str, element: str | None, problem: str, *, hint: str | None = None) -> None:
        where = f"{source}: {element}" if element else source
        super().__init__(f"{where}: {problem}", hint=hint)
        self.source = source
        self.element = element
        self.problem = problem


class AppError(InputError):
    """An app name or ``module:Class`` spec that does not resolve to a usable app."""


class OptionError(InputError):
    """An option value outside what netsim accepts."""


class ConditionError(InputError, ValueError):
    """A link condition value that cannot be used; the caller adds where it was found."""


class FaultError(InputError, ValueError):
    """A fault that cannot be scheduled; the caller says where it came from."""


class LimitError(InputError):
    """A run that needs more open files or processes than the system lets it have, found before it
    starts; the message says what it needs, the limit, and how to raise it. ``needed`` is the number."""

    def __init__(self, message: str, *, needed: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.needed = needed


class TraceFormatError(InputError):
    """A trace that does not follow ``netsim-trace/1``."""

    def __init__(self, path: str, line: int | None, problem: str, *, hint: str | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}", hint=hint)
        self.path = path
        self.line = line
        self.problem = problem


class CodecError(NetsimError):
    """Bytes that are not a valid frame or message; the connection that sent them is closed."""


class ProgramFailed(NetsimError):
    """A node's program failed: how, and the last lines it wrote on its stderr (the node's failure)."""

    def __init__(self, command: str, what: str, *, stderr_tail: list[str] | None = None) -> None:
        self.command = command
        self.stderr_tail = list(stderr_tail or [])
        # The verdict comes last, as in a Python traceback: a one-line report shows the last line.
        message = f"program {command!r} {what}"
        last = next((line.strip() for line in reversed(self.stderr_tail) if line.strip()), None)
        if last is not None:
            shown = "\n".join(f"  {line}" for line in self.stderr_tail)
            # Its stderr's last line on the verdict's too: the one line a summary shows says why.
            message = f"the last lines of its stderr:\n{shown}\n{message}: {last[:200]}"
        super().__init__(message)


class TransportError(NetsimError):
    """A socket operation that failed in a way netsim reports rather than retries."""


class MessageTooLarge(TransportError):
    """A message larger than the transport carries in one frame or datagram."""

    def __init__(self, transport: Any, size: int, limit: int) -> None:
        if isinstance(transport, str):
            name, why = transport, ""
        else:
            name = transport.name
            kernel_limit = transport.max_message_bytes
            why = f" ({kernel_limit} bytes a datagram, less the run's proof)" if kernel_limit != limit else ""
        super().__init__(
            f"{name}: a message of {size} bytes exceeds the transport's limit of {limit} bytes{why}",
            hint="send a smaller body, or use a stream transport (tcp, tcp6, unix) for large messages",
        )
        self.transport = name
        self.size = size
        self.limit = limit


class RunError(NetsimError):
    """A simulation that did not end ok; raised by ``netsim.run(..., check=True)``.

    ``result`` is the finished run's ``Run`` (its directory, summary and exit code), or None when
    the error is raised inside a node.
    """

    def __init__(self, message: str, *, hint: str | None = None, result: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


class StartupError(RunError):
    """Nodes failed to bind, connect or reach the start barrier."""


class NodeCrashed(RunError):
    """A node process raised an exception, died, or had to be ended; ``node`` names it."""

    # How the message places the failure in the run ("" while it ran).
    when = ""

    def __init__(self, node: str, exit_code: int | None, traceback_text: str, *, result: Any = None) -> None:
        last_line = traceback_text.strip().splitlines()[-1] if traceback_text.strip() else "no traceback"
        message = f"node {node!r} failed{self.when} (exit code {exit_code}): {last_line}"
        super().__init__(message, result=result)
        self.node = node
        self.node_exit_code = exit_code
        self.traceback_text = traceback_text


class NodeFailedToStart(NodeCrashed, StartupError):
    """A node that failed before the start barrier: the nodes did not come up (a ``StartupError``), and
    the error names the node and holds its traceback as ``NodeCrashed`` does."""

    when = " during start-up"


# An error's message and hint at most: the head (where, what) and the tail (the fix) of a longer one.
MESSAGE_LIMIT = 2_000


def _bounded(text: str) -> str:
    if len(text) <= MESSAGE_LIMIT:
        return text
    head, tail = MESSAGE_LIMIT * 3 // 4, MESSAGE_LIMIT // 4
    return f"{text[:head]} [... {len(text) - head - tail:,} characters left out ...] {text[-tail:]}"

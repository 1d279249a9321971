"""netsim: run distributed systems for real, one OS process per node, real sockets on every link.

The Python API mirrors the CLI: ``netsim.run(...)`` is ``netsim run``, ``netsim.load_topology(...)``
reads what ``netsim topo`` reads, and node programs subclass ``netsim.App``::

    import netsim

    class Hello(netsim.App):
        def on_start(self, ctx: netsim.NodeContext) -> None:
            for peer in ctx.neighbours:
                ctx.send(peer, "hello")
            ctx.stop()

    run = netsim.run("ring:4", app="mymodule:Hello", check=True)
    print(run.summary.messages_sent, run.run_dir)
    for event in run.messages("hello", node="n1"):   # the trace, streamed and filtered
        print(event["ts_ns"], event["peer"])

Every name here is imported on first use (PEP 562), so ``import netsim`` stays cheap; type checkers
and IDEs see the real definitions through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.lazy_exports import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from netsim.errors import (
        AppError,
        CodecError,
        ConditionError,
        FaultError,
        InputError,
        LimitError,
        MessageTooLarge,
        NetsimError,
        NodeCrashed,
        NodeFailedToStart,
        OptionError,
        ProgramFailed,
        RunError,
        StartupError,
        TopologyError,
        TraceFormatError,
        TransportError,
    )
    from netsim.launch.result import Run, RunResult
    from netsim.launch.run import run
    from netsim.runs.summary import RunSummary
    from netsim.runtime.app import App
    from netsim.runtime.context import NodeContext
    from netsim.runtime.net import Net, listens
    from netsim.runtime.traced_socket import TracedSocket
    from netsim.topology import load_topology
    from netsim.topology.model import Topology
    from netsim.wire.message import Message

# Public name -> the module that defines it (tests/test_exports.py holds the two lists together).
_HOMES: dict[str, str] = {
    "App": "netsim.runtime.app",
    "Message": "netsim.wire.message",
    "NodeContext": "netsim.runtime.context",
    "Net": "netsim.runtime.net",
    "listens": "netsim.runtime.net",
    "TracedSocket": "netsim.runtime.traced_socket",
    "Run": "netsim.launch.result",
    "RunResult": "netsim.launch.result",
    "RunSummary": "netsim.runs.summary",
    "Topology": "netsim.topology.model",
    "load_topology": "netsim.topology",
    "run": "netsim.launch.run",
    **{
        name: "netsim.errors"
        for name in (
            "AppError",
            "CodecError",
            "ConditionError",
            "FaultError",
            "InputError",
            "LimitError",
            "MessageTooLarge",
            "NetsimError",
            "NodeCrashed",
            "NodeFailedToStart",
            "OptionError",
            "ProgramFailed",
            "RunError",
            "StartupError",
            "TopologyError",
            "TraceFormatError",
            "TransportError",
        )
    },
}

__all__ = [
    "App",
    "AppError",
    "CodecError",
    "ConditionError",
    "FaultError",
    "InputError",
    "LimitError",
    "Message",
    "MessageTooLarge",
    "Net",
    "NetsimError",
    "NodeContext",
    "NodeCrashed",
    "NodeFailedToStart",
    "OptionError",
    "ProgramFailed",
    "Run",
    "RunError",
    "RunResult",
    "RunSummary",
    "StartupError",
    "Topology",
    "TopologyError",
    "TraceFormatError",
    "TracedSocket",
    "TransportError",
    "__version__",
    "listens",
    "load_topology",
    "run",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals(), __all__)

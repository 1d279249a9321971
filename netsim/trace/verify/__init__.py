"""Checking a trace against the guarantees of ``netsim-trace/1``, in one streaming pass.

``verify_trace`` reads events through ``TraceReader`` and runs seven checks side by side:

* ``mirror``: both ends of every stream connection record the same address pair, mirrored, and every
  message's receive sees the addresses of its send the other way round;
* ``exactly_once``: every message on a reliable transport is received once, and nothing is received
  twice. Loss on udp/udp6 is counted, not failed, and so is what netsim does on purpose: ``drop`` and
  ``duplicate`` events (link conditions, partitions) and nodes a ``fault`` event kills or restarts;
* ``fifo``: on every stream connection, messages are received in the order they were sent;
* ``lamport``: a receive's clock is above its send's and above everything its node recorded before;
* ``receive_has_send``: no message is received before (or without) being sent;
* ``sockets_closed``: every socket a started node opened is closed before it stops;
* ``program_bytes``: a socket program's receives took bytes some node sent (``program_bytes``).

Memory stays O(nodes + sockets + messages in flight): a send waits in a dict keyed by ``msg_id`` until
its first receive takes it out, and ids already sent are kept as one bitmap of sequence numbers per
sending node (``msg_id`` is ``"<node>:<seq>"``), not a set of every id. A message that is never received
(udp loss) stays in flight until the end of the trace, held as a few fields rather than its record.

The lamport check is what the writer can promise, not "a node's values increase line by line": a node
stamps a message when the app queues it but records the ``send`` when the kernel takes it, so a send
can follow, in the trace, a receive with a higher clock. What does hold, and is checked: a receive's
clock is above every clock its node recorded earlier, and sends on one stream connection leave in stamp
order (datagrams may not: link conditions can reorder them on purpose).

Modules: ``checks`` (the ``Verifier``: the checks' state and the pass, which ``netsim trace report``
feeds in the one pass it makes for all its sections), ``result`` (what is reported), ``message_ids``
(the set of ids already sent).
"""

from __future__ import annotations

import os

from netsim.trace.field_types import names_wrong_field_types
from netsim.trace.reader import TraceReader, cyclic_gc_paused, resolve_trace_path
from netsim.trace.verify.checks import Verifier
from netsim.trace.verify.result import CHECK_DESCRIPTIONS, CHECK_NAMES, CheckResult, VerifyReport

__all__ = ["CHECK_DESCRIPTIONS", "CHECK_NAMES", "CheckResult", "Verifier", "VerifyReport", "verify_trace"]


@names_wrong_field_types
def verify_trace(
    run_or_trace: str | os.PathLike[str], *, strict: bool = True, max_examples: int = 5
) -> VerifyReport:
    """Check a run directory's or trace file's trace against the format's guarantees, in one pass.

    ``strict=False`` skips malformed lines (counted in ``skipped_lines``) instead of raising
    ``TraceFormatError``. Each check keeps its first ``max_examples`` offending events.
    """
    with TraceReader(resolve_trace_path(run_or_trace), strict=strict) as reader, cyclic_gc_paused():
        across_hosts = isinstance(reader.header.get("cluster"), dict)
        verifier = Verifier(max_examples, reader.records_at, across_hosts=across_hosts)
        verifier.consume(reader)
        return verifier.report(str(reader.path), reader.header, reader.skipped_count)

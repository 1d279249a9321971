"""The report's second process: a forked child makes the verify and diagram sections in a pass of its own
over the trace, while this process makes its pass for the summary, the event table, the stats and the plot.

The sections cost about as much as each other (verify is the dearest analysis, the diagram reads its
lanes' events once more), so on a machine with a second core the report takes about as long as the longer
of the two passes. The child's sections come back as HTML over a pipe, with the analyses it could not
import or that failed (``ReportBuild.unavailable`` and ``failed``); the child reports nothing else. If
it fails for any reason (a malformed line in strict mode, say, or a kill), this process makes the two
sections itself, with a pass of its own: the page is the same either way. Like the SQLite export's
second half, there is no child without ``os.fork``, while the caller runs other threads (fork copies only
the calling thread, so a lock another one holds would stay held in the child), on one core, or for a
trace under ``SIDE_PASS_MIN_BYTES``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from typing import Any

import orjson

from netsim.trace.reader import TraceReader
from netsim.trace.report.analysis import ReportBuild, read_once
from netsim.trace.report.diagram import diagram_fed, diagram_section
from netsim.trace.report.verify import verify_fed, verify_section

# The trace size from which a child makes the side sections: below it, a fork and a second read of the
# trace cost more than the two analyses fed in the report's own pass (a 5,000-node flood of 350,000
# events is 64 MB; its verify and diagram take about 2 s).
SIDE_PASS_MIN_BYTES = 32 << 20
SIDE_SECTIONS = ("verify", "diagram")


def side_sections(build: ReportBuild, reader: TraceReader) -> dict[str, str]:
    """The verify and diagram sections of ``reader``'s trace, from a pass of their own."""
    verify, diagram = verify_fed(build), diagram_fed(build)
    read_once(reader, [verify.add_all, diagram.add_all])
    build.skipped_lines = reader.skipped_count
    return {"verify": verify_section(build, verify), "diagram": diagram_section(build, diagram)}


class SidePass:
    """A forked child making ``side_sections`` of ``build``'s trace.

    ``sections()`` waits for it and returns its sections (adding what it could not import or what failed
    to ``build``), or None if it failed; ``close()`` (also on leaving the ``with`` block) kills it if it
    still runs and reaps it.
    """

    def __init__(self, build: ReportBuild) -> None:
        read_end, write_end = os.pipe()
        # Anything buffered would otherwise be written twice, once by each process.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                os.close(read_end)
                # Ctrl-C reaches the whole process group; the parent handles it and kills the child.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                # The collector would walk (and so copy) the heap the child shares with its parent.
                gc.freeze()
                with TraceReader(build.trace_path) as reader:
                    sections = side_sections(build, reader)
                result = {"sections": sections, "unavailable": build.unavailable, "failed": build.failed}
                with open(write_end, "wb") as pipe:
                    pipe.write(orjson.dumps(result))
                status = 0
            except BaseException:  # noqa: BLE001, S110 - the parent makes the sections itself and reports
                pass
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid: int | None = pid
        self._pipe = open(read_end, "rb")  # noqa: SIM115 - closed by close()
        self._build = build

    def __enter__(self) -> SidePass:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def sections(self) -> dict[str, str] | None:
        """Wait for the child; its sections, or None if it did not make them."""
        assert self._pid is not None
        data = self._pipe.read()  # to its end: the child writes once, when it is done, then exits
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        try:
            result: dict[str, Any] = orjson.loads(data)
            sections = {name: result["sections"][name] for name in SIDE_SECTIONS}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if not all(isinstance(html, str) for html in sections.values()):
            return None
        self._build.unavailable.update(result.get("unavailable") or {})
        self._build.failed.update(result.get("failed") or {})
        return sections

    def close(self) -> None:
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None
        self._pipe.close()


def start_side_pass(build: ReportBuild) -> SidePass | None:
    """A child making the verify and diagram sections, if the trace is big enough, a second core is there
    and fork is safe; None to make them in this process's pass."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cores < 2:
        return None
    try:
        if build.trace_path.stat().st_size < SIDE_PASS_MIN_BYTES:
            return None
        return SidePass(build)
    except OSError:  # no process to spare: one process will do
        return None

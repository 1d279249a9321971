"""The report on two cores: verify, the diagram and the plot's picture made by a forked child while this
process does the other sections.

On a big trace the report's one pass is most of its time, and it costs more than the analyses' own
passes added up. Measured on the 1,009,473-event flood of ``bench/trace.py``: verify alone added 4.9 s
of CPU to a bare read of the trace, and 9.2 s to the pass that fed every other analysis too, whose
tables then compete with verify's for the caches. So a trace of ``SPLIT_MIN_BYTES`` or more, on a
machine that gives this process a second CPU, is read twice, once by each process:

* a forked child (``AsideChild``) feeds verify and the diagram's counts in a pass of its own and
  renders verify's section, while this process feeds the others;
* this process then hands the child the plot's counts (``Traffic``, as JSON on a pipe), and the child
  draws the picture (~2 s: importing matplotlib, drawing 25,000 links and the PNG) while this process
  renders the stats, and then the diagram, from the counts the child hands it (``NodeMessages``, as
  JSON on a third pipe): the diagram reads the trace once more, ~0.6 s that would otherwise have come
  after the child's pass and before its plot;
* the child writes its sections' HTML to a second pipe as JSON. The page is the same, byte for byte.

If the child fails for any reason (killed, out of memory, a bug), this process renders those sections
itself, after its own, so the report ends as a one-process report would. Without ``os.fork``, or when the
caller runs other threads (fork copies only the calling thread: a lock another one holds would stay held
in the child), the report runs in one process, as ``export_sqlite`` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from netsim.trace.helper_process import fork_helper, kill_and_reap, may_fork
from netsim.trace.reader import TraceReader
from netsim.trace.report.analysis import Fed, ReportBuild, read_once
from netsim.trace.report.diagram import diagram_fed, diagram_section
from netsim.trace.report.plot import plot_section
from netsim.trace.report.verify import verify_fed, verify_section
from netsim.trace.schema import header_start_ts_ns

if TYPE_CHECKING:
    from netsim.trace.diagram.lanes import NodeMessages
    from netsim.trace.plot_counts import Traffic
    from netsim.trace.verify import Verifier

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

# A trace this big or bigger is reported by two processes; below it a second read costs more than it
# saves (8 MiB is some 40,000 events: verify takes a few tenths of a second there).
SPLIT_MIN_BYTES = 8 << 20
# The sections the child reads the trace for: verify, the costliest analysis, and the diagram, which
# needs nothing the other sections count. With the plot's picture, the child's share takes about as
# long as the rest of the report.
ASIDE_SECTIONS = ("verify", "diagram")
PLOT_SECTION = "plot"
# ... of which this one is drawn by this process, from the counts the child sends it, while the child
# draws the plot: the two then end at about the same time.
DIAGRAM_SECTION = "diagram"


@dataclass(frozen=True, slots=True)
class AsideSections:
    """The HTML of the child's sections, and the analyses that were missing or failed."""

    html: dict[str, str]
    unavailable: dict[str, str]
    failed: dict[str, str]

    def to_json(self) -> bytes:
        return orjson.dumps({"html": self.html, "unavailable": self.unavailable, "failed": self.failed})

    @classmethod
    def from_json(cls, data: bytes, sections: set[str]) -> AsideSections:
        """What ``to_json`` wrote for ``sections``; ValueError for anything else (say, a child cut off)."""
        value = orjson.loads(data)
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        parts = [value.get(key) for key in ("html", "unavailable", "failed")]
        if not all(isinstance(part, dict) for part in parts):
            raise ValueError("html, unavailable or failed is missing")
        html, unavailable, failed = parts
        if set(html) != sections:
            raise ValueError(f"sections {sorted(html)}, not {sorted(sections)}")
        for part in parts:
            if not all(isinstance(text, str) for text in part.values()):
                raise ValueError("a value is not text")
        return cls(html, unavailable, failed)


def aside_sections(
    run_or_trace: str | os.PathLike[str], trace_path: Path, traffic: Traffic | None = None
) -> AsideSections:
    """The sections of ``ASIDE_SECTIONS``, from a pass of their own over the trace, and the plot's
    picture of ``traffic`` where it is given."""
    build, html = _read_and_render(run_or_trace, trace_path)
    if traffic is not None:
        html[PLOT_SECTION] = plot_section(build, traffic)
    return AsideSections(html, dict(build.unavailable), dict(build.failed))


def _read_and_render(
    run_or_trace: str | os.PathLike[str], trace_path: Path
) -> tuple[ReportBuild, dict[str, str]]:
    build, verify, diagram = _read(run_or_trace, trace_path)
    html = {"verify": verify_section(build, verify)}
    del verify  # its in-flight sends go before the diagram reads the trace again
    html["diagram"] = diagram_section(build, diagram)
    return build, html


def _read(
    run_or_trace: str | os.PathLike[str], trace_path: Path
) -> tuple[ReportBuild, Fed[Verifier], Fed[NodeMessages]]:
    """The pass of the aside sections: verify and the diagram's counts, fed."""
    with TraceReader(trace_path) as reader:
        build = ReportBuild(run_or_trace, trace_path, reader.header, header_start_ts_ns(reader.header))
        verify, diagram = verify_fed(build), diagram_fed(build)
        read_once(reader, [verify.add_all, diagram.add_all])
        build.skipped_lines = reader.skipped_count
    return build, verify, diagram


def _diagram_data(diagram: Fed[NodeMessages]) -> tuple[bytes | None, Fed[NodeMessages]]:
    """The diagram's counts as JSON for the parent; or None, and what to make the section of here,
    where they failed (the section says how) or cannot be JSON."""
    try:
        counts = diagram.take()
    except Exception:  # noqa: BLE001 - diagram_section raises it again, inside the section
        return None, diagram
    try:
        return orjson.dumps(counts.to_data()), diagram
    except TypeError:  # a name that is not a string; orjson's JSONEncodeError is a TypeError
        return None, Fed.given(counts)


def second_cpu() -> bool:
    """Whether this process may run on more than one CPU."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):  # no affinity call here (macOS)
        return (os.cpu_count() or 1) > 1


def start_aside(run_or_trace: str | os.PathLike[str], trace_path: Path) -> AsideChild | None:
    """A child rendering the aside sections, or None where the report is better made in one process."""
    if not may_fork() or not second_cpu():
        return None
    try:
        if trace_path.stat().st_size < SPLIT_MIN_BYTES:
            return None
        return AsideChild(run_or_trace, trace_path)
    except OSError:  # no process or pipe to spare, or no trace: one process will do, or say why
        return None


class AsideChild:
    """A forked child that renders the aside sections and writes them (``AsideSections.to_json``) to a
    pipe, with the plot's picture if this process sends it the counts first (``send_plot``).

    ``sections()`` waits for it and returns what it rendered, or None if it failed; ``close()`` (also on
    leaving the ``with`` block) kills it if it still runs and reaps it.
    """

    def __init__(self, run_or_trace: str | os.PathLike[str], trace_path: Path) -> None:
        pipes: list[int] = []
        try:
            pipes.extend(os.pipe())  # child to parent: the sections
            pipes.extend(os.pipe())  # parent to child: the plot's counts
            pipes.extend(os.pipe())  # child to parent: the diagram's counts
            pid = fork_helper()
        except OSError:
            for fd in pipes:
                os.close(fd)
            raise
        sections_in, sections_out, counts_in, counts_out, diagram_in, diagram_out = pipes
        if pid == 0:  # the child: never returns into the caller's code
            parents_ends = (sections_in, counts_out, diagram_in)
            _child(run_or_trace, trace_path, parents_ends, counts_in, sections_out, diagram_out)
        os.close(sections_out)
        os.close(counts_in)
        os.close(diagram_out)
        self._pid: int | None = pid
        self._sections = open(sections_in, "rb")  # noqa: SIM115 - closed by close()
        self._counts: Any = open(counts_out, "wb")  # noqa: SIM115 - closed once written, or by close()
        self._diagram = open(diagram_in, "rb")  # noqa: SIM115 - closed once read, or by close()
        self._writer: threading.Thread | None = None
        self._plot_sent = False
        self._diagram_here = False

    def __enter__(self) -> AsideChild:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_plot(self, traffic: Traffic | None) -> bool:
        """Hand the child the plot's counts; whether it draws the picture (if not, this process must).

        A thread writes them: the child reads them only once verify and the diagram are done, and this
        process has the stats to render meanwhile.
        """
        counts, self._counts = self._counts, None
        try:
            data = None if traffic is None else orjson.dumps(traffic.to_data())
        except TypeError:  # orjson's JSONEncodeError: counts it cannot write, drawn here then
            data = None
        if data is None:
            counts.close()
            return False
        self._plot_sent = True
        self._writer = threading.Thread(target=_write_and_close, args=(counts, data), daemon=True)
        self._writer.start()
        return True

    def diagram_counts(self) -> NodeMessages | None:
        """The diagram's counts, once the child has them, for this process to draw the diagram (while
        the child draws the plot); None where the child makes the section itself, or failed."""
        with self._diagram as pipe:
            try:
                data = pipe.read()
            except OSError:
                data = b""
        if not data:
            return None
        from netsim.trace.diagram.lanes import NodeMessages

        try:
            counts = NodeMessages.from_data(orjson.loads(data))
        except ValueError as error:  # orjson's JSONDecodeError is a ValueError too
            log.warning("the report's second process sent %s; rendering its sections here", error)
            return None
        self._diagram_here = True
        return counts

    def sections(self) -> AsideSections | None:
        """Wait for the child; what it rendered, or None if it did not end well."""
        assert self._pid is not None
        # Counts not asked for are not read: the child, which waits to have written them, then goes on
        # (and its sections lack the diagram, which this process then makes, as after any failure).
        self._diagram.close()
        try:
            data = self._sections.read()
        except OSError:
            data = b""
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        self._join_writer()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.warning("the report's second process ended with %s; rendering its sections here", code)
            return None
        expected = {*ASIDE_SECTIONS, *((PLOT_SECTION,) if self._plot_sent else ())}
        if self._diagram_here:
            expected.discard(DIAGRAM_SECTION)
        try:
            return AsideSections.from_json(data, expected)
        except ValueError as error:
            log.warning("the report's second process wrote %s; rendering its sections here", error)
            return None

    def close(self) -> None:
        if self._pid is not None:
            kill_and_reap(self._pid)
            self._pid = None
        if self._counts is not None:
            self._counts.close()
            self._counts = None
        self._join_writer()
        self._sections.close()
        self._diagram.close()

    def _join_writer(self) -> None:
        # The child has ended by now: the write is done, or failed on the closed pipe.
        if self._writer is not None:
            self._writer.join()
            self._writer = None


def _write_and_close(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(OSError), pipe:  # the child died: sections() finds out and says so
        pipe.write(data)


def _write_to(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError), open(fd, "wb") as pipe:  # the parent is gone: so is the report
        pipe.write(data)


def _child(
    run_or_trace: str | os.PathLike[str],
    trace_path: Path,
    parents_ends: tuple[int, ...],
    counts_fd: int,
    sections_fd: int,
    diagram_fd: int,
) -> None:
    """The child's whole life: count, render verify, hand over the diagram's counts, read the plot's
    counts, draw them, write everything, exit."""
    status = 1
    try:
        for fd in parents_ends:
            os.close(fd)
        build, verify, diagram = _read(run_or_trace, trace_path)
        html = {"verify": verify_section(build, verify)}
        del verify  # its tables go before anything more is made here
        # The diagram's counts go to the parent, which draws the diagram while this process draws the
        # plot; counts it cannot be sent (or that failed) make the section here.
        diagram_counts, diagram = _diagram_data(diagram)
        if diagram_counts is None:
            html["diagram"] = diagram_section(build, diagram)
        # A thread writes them: this process goes on to the plot at once, whenever the parent reads.
        writer = threading.Thread(target=_write_to, args=(diagram_fd, diagram_counts or b""), daemon=True)
        writer.start()
        # matplotlib, while the parent still counts (if it cannot be imported, the plot section says so).
        with contextlib.suppress(ImportError):
            import netsim.trace.plot  # noqa: F401
        with open(counts_fd, "rb") as pipe:
            counts = pipe.read()
        if counts:
            from netsim.trace.plot_counts import Traffic

            html[PLOT_SECTION] = plot_section(build, Traffic.from_data(orjson.loads(counts)))
        data = AsideSections(html, dict(build.unavailable), dict(build.failed)).to_json()
        writer.join()
        with open(sections_fd, "wb") as pipe:
            pipe.write(data)
        status = 0
    except BaseException:  # noqa: BLE001, S110 - the parent renders these sections itself
        pass
    finally:
        os._exit(status)


def in_page_order(reasons: dict[str, str], order: tuple[str, ...]) -> dict[str, Any]:
    """``reasons`` with the sections in ``order`` first, in that order: as a one-process report finds them."""
    return {
        **{key: reasons[key] for key in order if key in reasons},
        **{key: value for key, value in reasons.items() if key not in order},
    }

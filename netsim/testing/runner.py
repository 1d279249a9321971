"""What the ``netsim_run`` fixture hands a test: ``netsim.run`` into the test's temporary directory, with
the runs remembered so that the plugin can describe them when the test fails and remove them after it
passes.

``netsim.run`` itself stops every process of a run, and removes its sockets, whether it returns or
raises; what is left to a test's runs is their directories, and a stop signal. A Ctrl-C (or SIGTERM,
SIGHUP) during a run ends the run cleanly, its directory finished, and ``run()`` returns: the runner
then raises the same signal again, so that pytest stops as it does on a Ctrl-C anywhere else.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import netsim
from netsim.launch.result import Run
from netsim.testing.describe import describe_run

if TYPE_CHECKING:
    import networkx as nx


class NetsimRunner:
    """``runner(topology, **options)`` is ``netsim.run(topology, **options)`` with ``out`` defaulting to
    the test's temporary directory. ``runs`` lists the runs made, in order; ``out`` is that directory."""

    def __init__(self, out: Path, *, keep: bool = False) -> None:
        self.out = out
        self.keep = keep
        self.runs: list[Run] = []
        # Directories the runs made in ``out``, with those of runs that raised before returning a Run.
        self.made: list[Path] = []
        # Set by the plugin from the test's reports.
        self.reported_call = False
        self.failed = False
        self._described = False

    def __call__(self, topology: str | os.PathLike[str] | netsim.Topology | nx.Graph, **options: Any) -> Run:
        """Run ``topology`` with ``netsim.run``'s options (``app``, ``transport``, ``conditions``,
        ``faults``, ``seed``, ``check``, ...) and return its ``Run``."""
        __tracebackhide__ = _is_run_error  # the test's own line and the error are what a reader needs
        out = Path(options.setdefault("out", self.out))
        before = _directories(out) if out == self.out else None
        try:
            run = netsim.run(topology, **options)
        except netsim.InputError as error:
            # What to fix is in the message; where in netsim it was found is not the test's business.
            raise error.with_traceback(None)  # noqa: B904 - the same error, without netsim's frames
        except netsim.RunError as error:
            # check=True: the run is finished, and told of like any other when the test fails.
            if isinstance(error.result, Run):
                self._finished(error.result)
            raise
        finally:
            if before is not None:
                self.made += sorted(_directories(out) - before)
        self._finished(run)
        return run

    def _finished(self, run: Run) -> None:
        self.runs.append(run)
        if run.summary.ended_by == "interrupted":
            # The run caught the signal to stop cleanly; the test process gets it now, as if it had come
            # a moment later: KeyboardInterrupt for Ctrl-C, the usual ending for SIGTERM and SIGHUP.
            signal.raise_signal(getattr(signal, run.summary.signal or "SIGINT", signal.SIGINT))

    def finish(self) -> tuple[str, list[Path]]:
        """After the test: remove the run directories of a test that passed, unless asked to keep them;
        returns why the others are kept ("kept", "failed" or "interrupted") and where they are."""
        passed = self.reported_call and not self.failed
        if passed and not self.keep:
            for path in self.made:
                shutil.rmtree(path, ignore_errors=True)
            return "removed", []
        why = "kept" if passed else "failed" if self.failed else "interrupted"
        return why, [path for path in self.made if path.exists()]

    def failure_section(self) -> str | None:
        """What the test's failure report shows of its runs (once): how each ended, its directory and its
        HTML report, written now."""
        if self._described or not (self.runs or self.made):
            return None
        self._described = True
        parts = [_with_report(run) for run in self.runs]
        described = {run.run_dir for run in self.runs}
        for path in self.made:
            if path in described:
                continue
            # A run that raised (pytest-timeout's Failed, say) finishes its directory first.
            finished = _finished_run(path)
            if finished is not None:
                parts.append(_with_report(finished))
            else:
                parts.append(f"run directory of a run that raised before it finished: {path}")
        return "\n\n".join(parts)


def _with_report(run: Run) -> str:
    try:
        report = f"  report: {run.report_path}"
    except Exception as error:  # noqa: BLE001 - the test's own failure is the one to show
        report = f"  report: could not be written ({type(error).__name__}: {error})"
    return f"{describe_run(run)}\n{report}"


def _finished_run(path: Path) -> Run | None:
    from netsim.runs.summary import read_summary

    try:
        return Run(run_dir=path, summary=read_summary(path))
    except Exception:  # noqa: BLE001 - no summary, or one that cannot be read: the path is told instead
        return None


def _directories(out: Path) -> set[Path]:
    try:
        return {path for path in out.iterdir() if path.is_dir()}
    except OSError:
        return set()


def _is_run_error(excinfo: Any) -> bool:
    return bool(excinfo.errisinstance(netsim.NetsimError))

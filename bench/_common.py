"""Small helpers shared by the scripts in bench/: process memory, CPU placement, stats and tables.

Every function here is generic (no netsim imports) so that any bench can use it. Benches are run as
``python bench/NAME.py`` from the repository root; Python then puts ``bench/`` on ``sys.path`` and
``from _common import ...`` works.

Linux only: memory and placement come from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

KIB_PER_MIB = 1024

T = TypeVar("T")

# ---- memory ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Memory:
    """Proportional and resident set size of one process (or a sum of processes), in KiB."""

    pss_kib: int
    rss_kib: int

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.pss_kib + other.pss_kib, self.rss_kib + other.rss_kib)


def read_memory(pid: int) -> Memory | None:
    """PSS and RSS of ``pid`` from ``/proc/<pid>/smaps_rollup``; None if the process is gone.

    PSS (proportional set size) divides every shared page by the number of processes mapping it, so
    the PSS of a set of processes adds up to the memory they really use together. Reading one
    process's smaps_rollup walks its page tables: ~0.2 ms each on a 2-vCPU VM.
    """
    pss = rss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(b"Rss:"):
                    rss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    if pss is None or rss is None:
        return None
    return Memory(pss_kib=pss, rss_kib=rss)


def memory_per_process(pids: Sequence[int]) -> tuple[Memory, int]:
    """Memory summed over ``pids`` and divided by how many could be read; returns (average, count read)."""
    total = Memory(0, 0)
    read = 0
    for pid in pids:
        memory = read_memory(pid)
        if memory is not None:
            total += memory
            read += 1
    if read == 0:
        return Memory(0, 0), 0
    return Memory(total.pss_kib // read, total.rss_kib // read), read


def mib(kib: float) -> float:
    return kib / KIB_PER_MIB


# ---- CPU placement ---------------------------------------------------------------------------------


def parse_cpu_list(text: str) -> set[int]:
    """``"0"``, ``"0,1"`` or ``"0-3,6"`` to a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, sep, high = part.partition("-")
        cpus.update(range(int(low), int(high) + 1) if sep else {int(low)})
    if not cpus:
        raise ValueError(f"no CPUs in {text!r}")
    return cpus


def format_cpu_list(cpus: Iterable[int]) -> str:
    """The inverse of parse_cpu_list, with ranges: {0, 1, 2, 5} -> ``"0-2,5"``."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = previous = None
    for cpu in [*ordered, None]:
        if cpu is not None and previous is not None and cpu == previous + 1:
            previous = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = cpu
    return ",".join(parts)


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity mask; forked children inherit it)."""
    return set(os.sched_getaffinity(0))


def pin_to_cpus(cpus: set[int]) -> None:
    """Restrict this process, and every process it forks from now on, to ``cpus``."""
    os.sched_setaffinity(0, cpus)


def last_cpu(pid: int) -> int | None:
    """The CPU ``pid`` last ran on (field 39 of ``/proc/<pid>/stat``); None if the process is gone.

    Uses raw os.open/os.read: ~10 us per process, so sampling 300 processes costs ~3 ms.
    """
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        stat = os.read(fd, 4096)
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[36])


def cpu_placement(pids: Iterable[int]) -> Counter[int]:
    """How many of ``pids`` last ran on each CPU, at the moment of the call."""
    placement: Counter[int] = Counter()
    for pid in pids:
        cpu = last_cpu(pid)
        if cpu is not None:
            placement[cpu] += 1
    return placement


def format_placement(placement: Counter[int]) -> str:
    """``Counter({0: 152, 1: 148})`` -> ``"cpu0:152 cpu1:148"``."""
    if not placement:
        return "-"
    return " ".join(f"cpu{cpu}:{count}" for cpu, count in sorted(placement.items()))


def format_placements(placements: Iterable[Counter[int]]) -> str:
    """One ``format_placement`` per repeat, separated by ``" / "``."""
    return " / ".join(format_placement(placement) for placement in placements)


def format_cpus(cpus: Iterable[int | None]) -> str:
    """CPU numbers, one per repeat: ``"0,1,?"``, ``?`` where the process was gone when sampled."""
    return ",".join("?" if cpu is None else str(cpu) for cpu in cpus)


def pinning_line(pinned: bool) -> str:
    """The report's line on CPU pinning: the CPUs this process and its children may use, or none."""
    if pinned:
        cpus = format_cpu_list(allowed_cpus())
        return f"Pinned: this process and every process it forks run only on CPU(s) {cpus}."
    return "Not pinned: the scheduler places the processes (see the placement table)."


# ---- processes and files ---------------------------------------------------------------------------


def child_pids(parent: int | None = None) -> list[int]:
    """Live (or unreaped) processes whose parent is ``parent`` (default: this process), from /proc."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


def stop_processes(processes: Iterable[Any], grace_s: float = 2.0) -> None:
    """Terminate each of ``processes`` (multiprocess ``Process``) still alive, kill one that outlives
    ``grace_s``, and join them: the ``finally`` of a baseline, so that no child outlives the bench."""
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join()


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[str]:
    """A fresh temporary directory, removed with everything in it on exit (even on error)."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---- numbers ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of repeated measurements, with their min and max."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no measurements")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def format(self, digits: int = 0, scale: float = 1.0) -> str:
        """``"412 (398-430)"``: median (min-max), each multiplied by ``scale``."""
        median = f"{self.median * scale:,.{digits}f}"
        if self.count == 1 or self.low == self.high:
            return median
        return f"{median} ({self.low * scale:,.{digits}f}-{self.high * scale:,.{digits}f})"


def spread(samples: Iterable[T], value: Callable[[T], float]) -> Spread:
    """The ``Spread`` of ``value(sample)`` over ``samples``."""
    return Spread.of([value(sample) for sample in samples])


def ratio(value: float, baseline: float) -> str:
    """``value / baseline`` as ``"3.41x"``, or ``"-"`` when the baseline is zero."""
    if baseline == 0:
        return "-"
    return f"{value / baseline:.2f}x"


# ---- output ----------------------------------------------------------------------------------------


def console() -> Console:
    """A rich console on stdout; wide when stdout is a file or pipe so that tables do not wrap."""
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def make_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], caption: str | None = None
) -> Table:
    """A rich table; every column but the first is right-aligned (figures)."""
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for position, column in enumerate(columns):
        table.add_column(column, justify="left" if position == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def machine_line() -> str:
    """One line saying what ran the bench: CPU model, CPU count and affinity, kernel, Python."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} CPUs (this process may run on: {format_cpu_list(allowed_cpus())}), "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )

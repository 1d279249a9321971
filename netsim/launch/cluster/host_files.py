"""One host's files at the end of a run over many hosts: its trace parts' times moved into the
launcher's clock (by the host's agent, which the relay tells the clock's correction with ``quit``, so
that each host re-times its own parts, side by side), and written into the run's node directory by
the relay as they come."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import orjson

from netsim.launch.cluster.hostlink import ClockCorrection
from netsim.runs.layout import PART_SUFFIX
from netsim.trace.schema import BATCH_ROW_FIELDS

# The times a trace record holds (durations such as delay_ns are the same on every clock).
_TIMESTAMP_FIELDS = ("ts_ns", "start_ns")
_ROW_TS = BATCH_ROW_FIELDS.index("ts_ns")


def is_trace_part(name: str) -> bool:
    return name.endswith(PART_SUFFIX)


class LineCorrector:
    """A trace part's bytes in, chunk by chunk, and out with its times in the launcher's clock. A line
    cut between two chunks waits for the next; ``end`` gives a last line that never got its newline
    (its node was killed mid-write) as it came."""

    def __init__(self, correction: ClockCorrection) -> None:
        self.to_launcher = correction.to_launcher
        self._partial = b""

    def feed(self, data: bytes) -> bytes:
        data = self._partial + data
        head, newline, self._partial = data.rpartition(b"\n")
        return corrected_lines(head, self.to_launcher) if newline else b""

    def end(self) -> bytes:
        tail, self._partial = self._partial, b""
        return tail


class HostFiles:
    """The files one host's agent sends, written into ``node_dir`` in the order they come (one file at
    a time is open). ``correction``: set when the agent sends its parts as it wrote them, which the
    relay then re-times itself (an agent that ended before the end's clock exchange)."""

    def __init__(self, node_dir: Path) -> None:
        self.node_dir = node_dir
        self.correction: ClockCorrection | None = None
        self._name: str | None = None
        self._file: BinaryIO | None = None
        self._corrector: LineCorrector | None = None

    def write(self, name: str, data: bytes) -> str | None:
        """Append ``data`` to the file ``name``; what is wrong with the name, if anything."""
        if name != self._name:
            problem = self._open(name)
            if problem is not None:
                return problem
        assert self._file is not None
        if self._corrector is not None:
            data = self._corrector.feed(data)
        self._file.write(data)
        return None

    def _open(self, name: str) -> str | None:
        self.end()
        parts = Path(name).parts
        if not parts or os.path.isabs(name) or ".." in parts:
            return f"a file named {name!r}, outside the node directory"
        path = self.node_dir.joinpath(*parts)
        if len(parts) > 1:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._name = name
        self._corrector = (
            LineCorrector(self.correction) if self.correction is not None and is_trace_part(name) else None
        )
        return None

    def end(self) -> None:
        """Finish the file being written."""
        if self._file is not None:
            if self._corrector is not None:
                self._file.write(self._corrector.end())
            self._file.close()
        self._file = self._name = self._corrector = None


def corrected_lines(lines: bytes, to_launcher: Callable[[int], int]) -> bytes:
    """Complete trace lines (without the last newline) with their times passed through ``to_launcher``;
    each ends with a newline. A line that is not a JSON object is kept as it is."""
    out = []
    for line in lines.split(b"\n"):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.append(line)
            continue
        if not isinstance(record, dict):
            out.append(line)
            continue
        for key in _TIMESTAMP_FIELDS:
            value = record.get(key)
            if type(value) is int:
                record[key] = to_launcher(value)
        rows = record.get("rows")
        if isinstance(rows, list):
            # A batch of message events (netsim.trace.schema): each row starts with its ts_ns.
            for row in rows:
                if isinstance(row, list) and row and type(row[_ROW_TS]) is int:
                    row[_ROW_TS] = to_launcher(row[_ROW_TS])
        out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"

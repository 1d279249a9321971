"""One host's files as its agent sends them back at the end of a run over many hosts: written into the
run's node directory, with the times of its trace parts moved into the launcher's clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from netsim.launch.cluster.hostlink import ClockCorrection
from netsim.runs.layout import PART_SUFFIX
from netsim.trace.schema import BATCH_ROW_FIELDS

# The times a trace record holds (durations such as delay_ns are the same on every clock).
_TIMESTAMP_FIELDS = ("ts_ns", "start_ns")
_ROW_TS = BATCH_ROW_FIELDS.index("ts_ns")


class HostFiles:
    """The files of one host, chunk by chunk. ``correction``: the host's clock against the launcher's
    (None: the times are written as they came)."""

    def __init__(self, node_dir: Path) -> None:
        self.node_dir = node_dir
        self.correction: ClockCorrection | None = None
        # A trace part's last line while its newline has not come yet (the next chunk has it).
        self._partial_lines: dict[str, bytes] = {}

    def write(self, name: str, data: bytes) -> str | None:
        """Append ``data`` to the file ``name``; what is wrong with the name, if anything."""
        parts = Path(name).parts
        if not parts or Path(name).is_absolute() or ".." in parts:
            return f"a file named {name!r}, outside the node directory"
        path = self.node_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(PART_SUFFIX) and self.correction is not None:
            data = self._partial_lines.pop(name, b"") + data
            head, newline, tail = data.rpartition(b"\n")
            if tail:
                self._partial_lines[name] = tail
            data = corrected_lines(head, self.correction.to_launcher) if newline else b""
        with path.open("ab") as file:
            file.write(data)
        return None

    def end(self) -> None:
        """A part's last line without its newline (its node was killed mid-write) is kept as it came."""
        for name, tail in self._partial_lines.items():
            with self.node_dir.joinpath(*Path(name).parts).open("ab") as file:
                file.write(tail)
        self._partial_lines.clear()


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

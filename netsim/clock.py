"""The one clock every process of a run reads.

CLOCK_MONOTONIC is system-wide on Linux and macOS, so timestamps taken in different node processes
on one host compare directly. Wall time appears only in headers, for humans.
"""

from __future__ import annotations

import datetime
import time

now_ns = time.monotonic_ns


def wall_clock_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()

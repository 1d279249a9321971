"""The run's socket directory: where its nodes' AF_UNIX sockets live, private to the run."""

from __future__ import annotations

import os
import shutil
import tempfile


def make_socket_dir() -> str:
    """A private (0700) directory for the run's AF_UNIX sockets, with a short path (sun_path is 108 bytes)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    # The launcher's pid in the name tells whose directory it is.
    return tempfile.mkdtemp(prefix=f"netsim-{os.getpid()}-", dir=base)


def remove_socket_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)

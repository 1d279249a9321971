"""An immortal heap (netsim.launch.immortal): a child forked after it reads the parent's objects
without copying their pages, and where the interpreter has no immortal objects nothing is written.

Each case runs in a fresh interpreter: an immortal heap is never freed, which pytest's must be.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netsim.launch.immortal import immortal_count

# A fresh interpreter builds many small objects, optionally makes its heap immortal, freezes the
# collector as the fork server does and forks; the child reads every object (iterating takes a
# reference to each) and reports how many KiB of the parent's pages it copied doing so.
FORK_AND_READ = """
import gc, json, os, sys
from netsim.launch.immortal import immortalize_heap

def private_dirty_kib():
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1])

objects = [(float(number), str(number) * 3) for number in range(OBJECTS)]
made = immortalize_heap() if sys.argv[1] == "immortal" else 0
gc.collect()
gc.freeze()
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    before = private_dirty_kib()
    for pair in objects:
        for item in pair:
            pass
    copied = private_dirty_kib() - before
    os.write(write_end, json.dumps({"made": made, "copied_kib": copied}).encode())
    os._exit(0)
os.close(write_end)
report = json.loads(os.read(read_end, 1000))
os.waitpid(pid, 0)
print(json.dumps(report))
""".replace("OBJECTS", "30_000")


def fork_and_read(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FORK_AND_READ, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(immortal_count() is None, reason="this interpreter has no immortal objects")
def test_a_child_reads_an_immortal_heap_without_copying_it() -> None:
    mortal = fork_and_read("mortal")
    immortal = fork_and_read("immortal")
    # 30,000 tuples, each of a float and a string: ~90,000 objects on ~1,000 pages (~4 MiB).
    assert immortal["made"] >= 90_000
    assert mortal["copied_kib"] > 3_000
    assert immortal["copied_kib"] < mortal["copied_kib"] / 10


@pytest.mark.skipif(immortal_count() is not None, reason="this interpreter has immortal objects")
def test_without_immortal_objects_no_count_is_written() -> None:
    assert fork_and_read("immortal")["made"] == 0
    probe = "import sys; from netsim.launch.immortal import immortalize_heap; x = object(); "
    probe += "before = sys.getrefcount(x); immortalize_heap(); print(sys.getrefcount(x) - before)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0", done.stderr

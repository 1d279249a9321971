"""Make the fork server's heap immortal before it forks a large run, where the interpreter can.

Why: a forked node shares the server's memory until it writes to it, and CPython writes to every
object it touches, if only to count a reference: calling a function raises the counts of the function
and its code, loading a constant raises the constant's. Each such write copies a 4 KiB page into the
node. Since Python 3.12 (PEP 683) an object whose count holds the "immortal" value is never counted
again, neither up nor down, and never freed; the change began as this very use (bpo-40255, "Fixing
Copy on Writes from reference counting", for a pre-fork server). CPython has no call that makes an
existing object immortal, so this module writes the value into each object's header, as CPython sets
it for its own (``Include/refcount.h``), where the header's layout is known: CPython 3.12 and 3.13,
64-bit, little-endian, not free-threaded, not a debug build. Elsewhere (Python 3.11 among them) it
does nothing, and the nodes share what they do not write.

What it costs: the objects alive at that moment are never freed, which in a server that forks one run's
nodes and then only waits is the memory it already holds; and a walk over the heap, 34-38 ms for the
server's ~35,000 objects on a 2-vCPU VM (~0.2 s for ~210,000 where an app imports numpy and
matplotlib). What it saves, at 1,000 nodes on 3.12 and 3.13: ~0.9 MiB of each idle node's ~2.1
(``bench/launch.py``).
"""

from __future__ import annotations

import gc
import sys
import sysconfig
from types import CodeType

# Where this module writes an immortal count: (major, minor) -> the value of the low 32 bits of
# ob_refcnt that CPython gives its own immortal objects (_Py_IMMORTAL_REFCNT), which Py_INCREF skips
# (its count would wrap to 0) and Py_DECREF skips (negative as a 32-bit int). Only versions this
# was measured on (bench/launch.py, tests/launch/test_immortal.py): 3.14 changes the header (flags
# beside the count, a new immortal value) and joins once it has been run here.
IMMORTAL_COUNT = {(3, 12): 0xFFFF_FFFF, (3, 13): 0xFFFF_FFFF}
IMMORTAL_BIT = 0x8000_0000


def immortal_count() -> int | None:
    """The immortal count of this interpreter, or None where its object header is not one we know."""
    known = (
        sys.implementation.name == "cpython"
        and sys.maxsize > 2**32
        and sys.byteorder == "little"
        and not sysconfig.get_config_var("Py_GIL_DISABLED")
        # A debug build counts references in other places too.
        and not hasattr(sys, "gettotalrefcount")
    )
    return IMMORTAL_COUNT.get(sys.version_info[:2]) if known else None


def immortalize_heap() -> int:
    """Make every object reachable from the collector's objects immortal; returns how many it made.

    Call it in the fork server only, once, after its last allocation that the nodes should share and
    before ``gc.freeze()``: its objects then live as long as the process.
    """
    count = immortal_count()
    if count is None:
        return 0
    try:
        import ctypes
    except ImportError:  # an interpreter built without _ctypes
        return 0
    count_at = ctypes.c_uint32.from_address
    get_referents = gc.get_referents
    # The collector tracks containers only; strings, ints, bytes and code objects are reached through
    # the containers that hold them. An object already immortal (CPython's own, or one made here) is
    # passed over (its count's top bit is set, as Py_DECREF tests), so each is visited once.
    pending = gc.get_objects()
    made = 0
    while pending:
        obj = pending.pop()
        header = count_at(id(obj))
        if header.value & IMMORTAL_BIT:
            continue
        header.value = count
        made += 1
        if type(obj) is CodeType:
            # Not a container to the collector, but LOAD_CONST counts references to its constants.
            pending.extend(obj.co_consts)
        else:
            pending.extend(get_referents(obj))
    return made

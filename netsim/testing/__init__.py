"""Testing a protocol with netsim: assertions about a finished run, and the pytest plugin.

``netsim.testing.plugin`` is the pytest plugin (the ``netsim_run`` fixture, the failure report, and
``--netsim-keep``), registered as the ``pytest11`` entry point ``netsim``; the assertions work with any
test runner::

    from netsim.testing import assert_every_node_received, assert_ok, assert_verified

    def test_flood_reaches_everyone(netsim_run):
        run = netsim_run("ring:8", app="flood", seed=1)
        assert_ok(run)
        assert_verified(run)
        assert_every_node_received(run, "flood", exclude=["n0"])

Every name here is imported on first use (PEP 562), as in ``netsim``: pytest loads the plugin in every
session, and a session that runs no simulation pays for none of this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from netsim.testing.asserts import assert_every_node_received, assert_no_loss, assert_ok, assert_verified
    from netsim.testing.describe import describe_run
    from netsim.testing.runner import NetsimRunner

_HOMES: dict[str, str] = {
    **dict.fromkeys(
        ("assert_every_node_received", "assert_no_loss", "assert_ok", "assert_verified"),
        "netsim.testing.asserts",
    ),
    "describe_run": "netsim.testing.describe",
    "NetsimRunner": "netsim.testing.runner",
}

__all__ = [
    "NetsimRunner",
    "assert_every_node_received",
    "assert_no_loss",
    "assert_ok",
    "assert_verified",
    "describe_run",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals(), __all__)

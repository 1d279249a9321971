"""What a node process inherits from the fork server that costs it memory.

A forked Python child copies every page it writes; ``threading``'s after-fork hook alone writes ~360
KiB of them in each node (bench/launch.py measures the memory per node). The fork server imports
only what nodes run, so a node whose app loads none of these modules finds none of them loaded.
"""

from __future__ import annotations

from pathlib import Path

from netsim_testing import load_trace

import netsim

APPS = Path(__file__).with_name("launch_apps.py")


def test_a_node_forked_for_a_plain_app_has_no_threading(tmp_path: Path) -> None:
    result = netsim.run("ring:3", app=f"{APPS}:ReportsModules", seed=1, out=tmp_path, duration=20)
    loaded = [
        event["data"]["loaded"]
        for event in load_trace(result.run_dir)[1]
        if event["event"] == "app" and event["data"].get("kind") == "modules"
    ]
    assert loaded == [[], [], []]

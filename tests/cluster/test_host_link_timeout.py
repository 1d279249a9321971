"""A host link gives up on a network that went away: both its ends bound how long sent data may wait
unacknowledged (``keepalive``), where TCP alone retransmits for minutes. Checked on a real link: two
network namespaces of the test's own joined by a veth pair, which the test then takes down."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from netns_cluster import NetnsCluster

from netsim.launch.cluster.outbox import USER_TIMEOUT_MS

# The sending end, run inside its namespace: connects, sends a little every 50 ms, and prints how long
# after the link went down (the file CUT appears) its send failed.
SENDER = """
import os, socket, sys, time
from netsim.launch.cluster.outbox import keepalive
sock = socket.create_connection((sys.argv[1], 7777), timeout=10)
sock.settimeout(None)
keepalive(sock, user_timeout_ms=int(sys.argv[3]))
print("connected", flush=True)
cut_at = None
while True:
    try:
        sock.send(b"x" * 100)
    except OSError as error:
        print(f"failed {time.monotonic() - cut_at:.1f} {error.errno}", flush=True)
        break
    if cut_at is None and os.path.exists(sys.argv[2]):
        cut_at = time.monotonic()
    time.sleep(0.05)
"""
RECEIVER = """
import socket, sys, time
server = socket.create_server((sys.argv[1], 7777))
connection, _ = server.accept()  # held: a dropped one would reset the sender
time.sleep(60)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.mark.skipif(NetnsCluster.unavailable() is not None, reason=str(NetnsCluster.unavailable()))
def test_a_host_link_whose_network_is_cut_fails_within_its_user_timeout(tmp_path) -> None:
    assert USER_TIMEOUT_MS == 20_000  # what the docs promise ("within ~20 s"); the test uses 1.5 s
    tag = os.getpid() % 100000
    a, b = f"utoa{tag}", f"utob{tag}"
    subnet = 1 + os.getpid() % 250
    addresses = (f"10.232.{subnet}.1", f"10.232.{subnet}.2")
    processes: list[subprocess.Popen[str]] = []
    _ip("netns", "add", a)
    try:
        _ip("netns", "add", b)
        _ip("-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", b)
        for name, device, address in ((a, "veth0", addresses[0]), (b, "veth1", addresses[1])):
            _ip("-n", name, "addr", "add", f"{address}/24", "dev", device)
            _ip("-n", name, "link", "set", device, "up")
        cut = tmp_path / "cut"
        processes.append(
            subprocess.Popen(
                ["ip", "netns", "exec", a, sys.executable, "-c", RECEIVER, addresses[0]], text=True
            )
        )
        time.sleep(0.5)
        sender = subprocess.Popen(
            ["ip", "netns", "exec", b, sys.executable, "-c", SENDER, addresses[0], str(cut), "1500"],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(sender)
        assert sender.stdout is not None and sender.stdout.readline().strip() == "connected"
        time.sleep(0.3)
        _ip("-n", b, "link", "set", "veth1", "down")
        cut.write_text("down")
        line = sender.stdout.readline().split()
        assert line[0] == "failed" and line[2] == "110", line  # ETIMEDOUT
        # Within its user timeout (and the 50 ms between sends): not the minutes of retransmissions.
        assert float(line[1]) < 6.0, line
    finally:
        for process in processes:
            process.kill()
            process.wait()
        for name in (a, b):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)

"""Socket programs the runtime tests run by file path (``path/to/socket_program_apps.py:function``)."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

import netsim


@netsim.listens(9000)
def echo_forever(net):
    """n0 serves forever; every other node asks once and returns (the run ends quiet)."""
    if net.name == "n0":
        server = net.listen(9000)
        while True:
            conn, _ = server.accept()
            conn.sendall(conn.recv(100).upper())
            conn.close()
    conn = net.connect("n0", 9000)
    conn.sendall(net.name.encode())
    net.record(answer=conn.recv(100).decode())
    conn.close()


@netsim.listens("udp:9100")
def restarted_counter(net):
    """Counts its own starts in a file, then answers datagrams: a restart calls main again."""
    marker = os.path.join(os.environ.get("NETSIM_TEST_DIR", "/tmp"), f"starts-{net.name}")
    with open(marker, "a") as starts:
        starts.write("start\n")
    sock = net.listen("udp:9100")
    if net.name == "n1":
        while True:
            data, source = sock.recvfrom(100)
            sock.sendto(data, source)
    sock.settimeout(0.05)
    for _ in range(30):
        sock.sendto(b"ping", (net.host_of("n1"), 9100))
        with contextlib.suppress(TimeoutError):
            sock.recvfrom(100)
        time.sleep(0.02)


def sleeps_then_sends(net):
    """Busy while it sleeps: the run must not end quiet in the middle."""
    if net.name == "n0":
        server = net.listen(9200)
        conn, _ = server.accept()
        net.record(got=conn.recv(100).decode())
        return
    time.sleep(1.2)
    conn = net.connect("n0", 9200)
    conn.sendall(b"late but here")
    conn.close()


def waits_forever(net):
    """Every node waits in recvfrom: idle, so the run ends quiet; its CPU is measured meanwhile."""
    sock = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((net.host, 0))
    sock.recvfrom(10)


@netsim.listens(9300)
def forking_server(net):
    """The tutorial's forking server: each connection is served by a child process, which exits with
    os._exit (nothing of Python's shutdown runs)."""
    if net.name == "n0":
        server = net.listen(9300)
        for _ in range(len(net.neighbours)):
            conn, _ = server.accept()
            if os.fork() == 0:
                server.close()
                conn.sendall(conn.recv(100).upper())
                conn.close()
                os._exit(0)
            conn.close()
        for _ in net.neighbours:
            os.wait()
        return
    conn = net.connect("n0", 9300)
    conn.sendall(net.name.encode())
    net.record(answer=conn.recv(100).decode())


@netsim.listens(9400, "udp:9401")
def stream_and_datagrams(net):
    """n1 streams 3,000 bytes to n0 in uneven sends and sends it five datagrams; n0 reads in 700s."""
    if net.name == "n0":
        conn, _ = net.listen(9400).accept()
        while conn.recv(700):
            pass
        udp = net.listen("udp:9401")
        for _ in range(5):
            udp.recvfrom(100)
        return
    conn = net.connect("n0", 9400)
    for size in (1, 999, 1500, 500):
        conn.sendall(b"s" * size)
    conn.close()
    udp = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for number in range(5):
        udp.sendto(b"datagram %d" % number, net.address_of("n0", 9401, "udp"))


@netsim.listens(9500, "udp:9501")
def reads_part_of_what_it_gets(net):
    """n1 streams 1,000 bytes to n0 and sends it five datagrams; n0 reads 300 bytes and two datagrams."""
    if net.name == "n0":
        conn, _ = net.listen(9500).accept()
        udp = net.listen("udp:9501")
        got = 0
        while got < 300:
            got += len(conn.recv(300 - got))
        for _ in range(2):
            udp.recvfrom(100)
        # The rest stays unread until the end (a close with unread bytes would reset the sender).
        time.sleep(0.3)
        return
    conn = net.connect("n0", 9500)
    conn.sendall(b"s" * 1000)
    udp = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for number in range(5):
        udp.sendto(b"datagram %d" % number, net.address_of("n0", 9501, "udp"))
    time.sleep(0.3)
    conn.close()


def every_node_gives_up(net):
    """Every node prints 5,000 characters without a newline, then raises."""
    sys.stdout.write("y" * 5000)
    raise RuntimeError(f"node {net.name} gives up")

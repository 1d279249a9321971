"""Socket programs (``def main(net)``) the tests in this directory run. Each prints what its calls
returned as ``show(label, value)`` lines (``label repr(value)``), which the tests read back from the
node's log and hold the trace to. Most run on ``line:2``: ``n0`` serves, ``n1`` asks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import selectors
import socket
import sys
import threading
import time

import netsim

PORT = 6000
UDP_PORT = 6001
# A port no test program listens on (each node has its own address: nobody else's either).
CLOSED_PORT = 6009
LATE_SERVER_S = 0.3
DATAGRAMS = 40
FUZZ_BYTES = 200_000


def show(label, value):
    print(f"{label} {value!r}", flush=True)


# ---- every call of the tutorial's table, once -----------------------------------------------------------


def every_call(net):
    if net.name == "n0":
        every_call_server(net)
    else:
        every_call_client(net)


def every_call_server(net):
    udp = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((net.host, UDP_PORT))  # before the TCP exchange, so before the client's first datagram
    ss = net.socket()
    ss.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    show("reuse", ss.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
    ss.bind(("", PORT))  # the wildcard: a node has one address, its own
    ss.listen(4)
    show("listener", ss.getsockname())
    show("fileno", ss.fileno())
    cs, address = ss.accept()
    show("accepted", address)
    show("ping", cs.recv(1024))
    cs.sendall(b"pong")
    lines = cs.makefile("rb")
    show("line", lines.readline())
    lines.close()
    cs.setblocking(True)
    show("end", cs.recv(1024))  # the client shut its side down
    cs.close()
    ss.close()
    for _ in range(2):
        data, address = udp.recvfrom(100)
        show("datagram", (data, address))
        udp.sendto(data.upper(), address)
    udp.close()


def every_call_client(net):
    server = net.host_of("n0")
    # The server binds its port once started: connect_ex says when it listens. A socket whose
    # connect failed is not used again (Linux answers its next connect with ECONNABORTED).
    while True:
        s = net.socket()
        s.settimeout(5.0)
        show("timeout", s.gettimeout())
        code = s.connect_ex((server, PORT))
        show("connect_ex", code)
        if code == 0:
            break
        s.close()
        time.sleep(0.01)
    show("sockname", s.getsockname())
    show("peername", s.getpeername())
    show("sent", s.send(b"ping"))
    show("pong", s.recv(1024))
    s.sendall(b"a line\n")
    s.shutdown(socket.SHUT_WR)
    s.close()
    u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    show("sentto", u.sendto(b"dgram", (server, UDP_PORT)))
    show("answer", u.recvfrom(100))
    u.connect((server, UDP_PORT))
    u.send(b"again")
    show("answer", u.recvfrom(100))
    u.close()


def preloaded(net):
    """Says whether the traced socket's module came with the node (from the fork server) or not."""
    show("preloaded", "netsim.runtime.traced_socket" in sys.modules)
    net.socket().close()


@netsim.listens(PORT)
def peeks(net):
    """n1 sends a line to n0, which peeks at it (MSG_PEEK) before it reads it."""
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        show("peeked", conn.recv(100, socket.MSG_PEEK))
        show("read", conn.recv(100))
        conn.close()
    else:
        s = net.socket()
        s.connect((net.host_of("n0"), PORT))
        s.sendall(b"look first")
        s.close()


# ---- errors ----------------------------------------------------------------------------------------------


def refused(net):
    s = net.socket()
    try:
        s.connect((net.host_of(net.nodes[-1]), CLOSED_PORT))
    except ConnectionRefusedError as error:
        show("refused", error.errno)
    s.close()


def times_out(net):
    u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((net.host, 0))
    u.settimeout(0.05)
    try:
        u.recvfrom(100)
    except TimeoutError as error:
        show("timed_out", str(error))
    u.close()


def fails(net):
    s = net.socket()
    s.close()
    if net.name == "n1":
        raise RuntimeError(f"{net.name} gives up")


# ---- addresses -------------------------------------------------------------------------------------------


def same_port(net):
    """Every node binds the same TCP and UDP port on the wildcard address."""
    s = net.socket()
    s.bind(("", PORT))
    show("tcp", s.getsockname())
    u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", PORT))
    show("udp", u.getsockname())
    s.close()
    u.close()


def late_server(net):
    """n0 listens only after a while; n1's net.connect retries until it does."""
    if net.name == "n0":
        time.sleep(LATE_SERVER_S)
        ss = net.listen(PORT)
        cs, _ = ss.accept()
        show("got", cs.recv(100))
        cs.close()
        ss.close()
    else:
        s = net.connect("n0", PORT)
        show("connected_after", net.elapsed_s)
        s.sendall(b"finally")
        s.close()


@netsim.listens("unix-seqpacket:packets")
def seqpacket_client(net):
    """n1 connects to n0 on an unbound seqpacket socket and sends one packet."""
    if net.name == "n0":
        conn, _ = net.listen("unix-seqpacket:packets").accept()
        show("got", conn.recv(100))
        conn.close()
    else:
        s = net.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(net.path("packets", "n0"))
        s.sendall(b"one packet")
        s.close()


def udp6_unbound(net):
    """On n0: an unbound udp6 socket sends one datagram to a bound one (``::1`` is every node's)."""
    if net.name != "n0":
        return
    receiver = net.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    receiver.bind(("::1", 0))
    sender = net.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sender.sendto(b"to myself", ("::1", receiver.getsockname()[1]))
    show("got", receiver.recvfrom(100))
    sender.close()
    receiver.close()


# ---- other event loops take a traced socket ---------------------------------------------------------------


@netsim.listens(PORT)
def with_selectors(net):
    """n0 serves with a selectors loop over non-blocking sockets; n1 is a plain blocking client."""
    if net.name == "n0":
        listener = net.listen(PORT)
        listener.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        echoed = 0
        while echoed == 0:
            for key, _ in selector.select(timeout=5):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ)
                    continue
                data = key.fileobj.recv(1024)
                if data:
                    key.fileobj.sendall(data.upper())
                    echoed += len(data)
        selector.close()
    else:
        s = net.socket()
        s.connect((net.host_of("n0"), PORT))
        s.sendall(b"through selectors")
        show("answer", s.recv(1024))
        s.close()


@netsim.listens(PORT)
def with_asyncio(net):
    """Both ends in asyncio, on traced sockets: sock_accept, sock_connect, sock_recv, sock_sendall."""
    asyncio.run(asyncio_server(net) if net.name == "n0" else asyncio_client(net))


async def asyncio_server(net):
    loop = asyncio.get_running_loop()
    listener = net.listen(PORT)
    listener.setblocking(False)
    conn, address = await loop.sock_accept(listener)
    show("accepted", address)
    data = await loop.sock_recv(conn, 1024)
    await loop.sock_sendall(conn, data.upper())
    conn.close()


async def asyncio_client(net):
    loop = asyncio.get_running_loop()
    s = net.socket()
    s.setblocking(False)
    await loop.sock_connect(s, (net.host_of("n0"), PORT))
    await loop.sock_sendall(s, b"through asyncio")
    show("answer", await loop.sock_recv(s, 1024))
    s.close()


# ---- link conditions and faults ---------------------------------------------------------------------------


@netsim.listens(PORT)
def one_way(net):
    """n0 sends one line to n1 over TCP; n1 records when it arrived."""
    if net.name == "n0":
        s = net.socket()
        s.connect((net.host_of("n1"), PORT))
        s.sendall(b"over a slow link\n")
        s.close()
    else:
        conn, _ = net.listen(PORT).accept()
        data = b""
        while chunk := conn.recv(100):
            data += chunk
        show("line", data)
        conn.close()


@netsim.listens(f"udp:{UDP_PORT}")
def datagrams(net):
    """n0 sends DATAGRAMS numbered datagrams to n1, which takes what arrives."""
    if net.name == "n0":
        u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for number in range(DATAGRAMS):
            u.sendto(f"datagram {number}".encode(), (net.host_of("n1"), UDP_PORT))
        u.close()
    else:
        u = net.listen(f"udp:{UDP_PORT}")
        u.settimeout(0.3)
        got = []
        try:
            while True:
                got.append(u.recvfrom(100)[0].decode())
        except TimeoutError:
            pass
        show("got", got)


# The partition's times into the run, and when n1 acts inside it: margins for a busy machine.
PARTITION_AT_S, ACT_AT_S, HEAL_AT_S = 0.2, 0.4, 0.9


@netsim.listens(PORT)
def across_partition(net):
    """A connection made before a partition; in it, a new connect fails and bytes wait for the heal."""
    if net.name == "n0":
        ss = net.listen(PORT)
        conn, _ = ss.accept()
        show("got", conn.recv(100))
        conn.close()
        ss.close()
    else:
        s = net.socket()
        s.connect((net.host_of("n0"), PORT))
        while net.elapsed_s < ACT_AT_S:
            time.sleep(0.02)
        other = net.socket()
        try:
            other.connect((net.host_of("n0"), PORT))
        except OSError as error:
            show("unreachable", error.errno)
        other.close()
        s.sendall(b"sent during the partition")
        show("sent_at", net.elapsed_s)
        s.close()


# ---- fuzz: a random stream in random pieces ---------------------------------------------------------------


@netsim.listens(PORT)
def fuzz_tcp(net):
    fuzz(net, lambda: net.connect("n1", PORT), lambda: net.listen(PORT))


@netsim.listens("unix:fuzz")
def fuzz_unix(net):
    fuzz(net, lambda: net.connect("n1", "fuzz", transport="unix"), lambda: net.listen("unix:fuzz"))


def fuzz(net, connect, listen):
    """n0 sends FUZZ_BYTES random bytes (the first draw of its ``net.rng``) in sends of random sizes;
    n1 reads them with receives of random sizes. Each records the stream's BLAKE2b hash."""
    if net.name == "n0":
        payload = net.rng.randbytes(FUZZ_BYTES)
        s = connect()
        view = memoryview(payload)
        while view:
            view = view[s.send(view[: net.rng.randint(1, 4096)]) :]
        s.close()
        net.record(side="sent", nbytes=len(payload), blake2b=hashlib.blake2b(payload).hexdigest())
    else:
        listener = listen()
        conn, _ = listener.accept()
        received = bytearray()
        while chunk := conn.recv(net.rng.randint(1, 8192)):
            received += chunk
        conn.close()
        listener.close()
        net.record(side="received", nbytes=len(received), blake2b=hashlib.blake2b(received).hexdigest())


# ---- the rest of socket's methods: sendmsg, sendfile, recvmsg, dup ---------------------------------------

GATHERED = [b"1-first;", b"2-second;", b"3-third;", b"4-file;" * 500, b"5-last;"]


@netsim.listens(PORT)
def gathered_sends(net):
    """Bytes sent with sendall, sendmsg, sendfile and a dup of the socket, read with recvmsg: one
    stream, in the order it was written, over a link that holds every send for its latency."""
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        got = b""
        while True:
            data, _ancillary, _flags, _address = conn.recvmsg(4096)
            if not data:
                break
            got += data
        show("got", got)
        conn.close()
        return
    s = net.connect("n0", PORT)
    s.sendall(GATHERED[0])
    show("sendmsg", s.sendmsg([GATHERED[1], GATHERED[2]]))
    path = net.path("payload")
    with open(path, "wb") as file:
        file.write(GATHERED[3])
    with open(path, "rb") as file:
        show("sendfile", s.sendfile(file))
    twin = s.dup()
    s.close()
    twin.sendall(GATHERED[4])
    twin.close()


def wildcard6(net):
    """A tcp6 server bound to "::", as a dual-stack server binds: the node's ::1 only."""
    if net.name == "n0":
        ss = net.socket(socket.AF_INET6)
        ss.bind(("::", 6011))
        ss.listen()
        show("bound", ss.getsockname()[:2])
        conn, _ = ss.accept()
        got = b""
        # Up to the client's end of the stream: it closes first, so that ::1's port 6011, which every
        # run shares, is not left in TIME_WAIT for the next run.
        while data := conn.recv(100):
            got += data
        show("got", got)
        conn.close()
        ss.close()
    else:
        s = net.connect(("::1", 6011), transport="tcp6")
        s.sendall(b"over ::1")
        s.close()


def connect_ex_partitioned(net):
    """connect_ex across a partition returns ENETUNREACH, as the multi-connection tutorial expects."""
    if net.name == "n1":
        while net.elapsed_s < ACT_AT_S:
            time.sleep(0.02)
        s = net.socket()
        show("connect_ex", s.connect_ex((net.host_of("n0"), PORT)))
        s.close()


def forks_and_exits(net):
    """A forking server whose children end with sys.exit(0), then goes on working: the node ends when
    the parent's main returns, not when a child leaves."""
    import os

    if net.name == "n0":
        server = net.listen(PORT)
        conn, _ = server.accept()
        if os.fork() == 0:
            conn.sendall(conn.recv(100).upper())
            sys.exit(0)
        conn.close()
        os.wait()
        time.sleep(0.5)
        show("parent", "still working")
        return
    s = net.connect("n0", PORT)
    s.sendall(b"hello")
    show("answer", s.recv(100))


forks_and_exits = netsim.listens(PORT)(forks_and_exits)


async def async_main(net):
    """async def main(net): run with asyncio.run."""
    await asyncio.sleep(0.01)
    show("async", net.name)


def hostname_echo(net):
    """The socket HOWTO's server and client, on socket.gethostname(): a name of this machine."""
    name = socket.gethostname()
    if net.name == "n0":
        ss = net.socket()
        ss.bind((name, PORT))
        ss.listen()
        conn, _ = ss.accept()
        conn.sendall(conn.recv(100))
        # The client closes first, so that 127.0.0.1's port, which every run shares, is not left in
        # TIME_WAIT for the next run.
        conn.recv(100)
        conn.close()
        ss.close()
        return
    while True:
        s = net.socket()
        if s.connect_ex((name, PORT)) == 0:
            break
        s.close()
        time.sleep(0.02)
    s.sendall(b"by name")
    show("echo", s.recv(100))
    s.close()


def leaves_by_os_exit(net):
    """n0 leaves by os._exit(0): its node never reports, which is a failure with its name."""
    import os

    if net.name == "n0":
        os._exit(0)
    time.sleep(2)


@netsim.listens(PORT)
def common_mistakes(net):
    """A str where bytes go, an address where a node's name goes: each error says what to do."""
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        conn.recv(100)
        conn.close()
        return
    s = net.connect("n0", PORT)
    try:
        s.sendall("not bytes")
    except TypeError as error:
        show("sendall_str", str(error))
    try:
        net.connect(net.host_of("n0"), PORT)
    except ValueError as error:
        show("connect_address", str(error))
    s.sendall(b"bytes")
    s.close()


@netsim.listens("udp:6013")
def udp_listener_held(net):
    """Another process (here n1, with a socket of its own) cannot bind n0's datagram listener's address,
    SO_REUSEADDR or not: it would share the address and take n0's datagrams."""
    if net.name == "n0":
        show("got", net.listen("udp:6013").recvfrom(100)[0])
        return
    thief = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        thief.bind((net.host_of("n0"), 6013))
        show("thief", "bound")
    except OSError as error:
        show("thief", error.errno)
    thief.close()
    s = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"for n0 only", (net.host_of("n0"), 6013))
    s.close()


@netsim.listens("unix:fds")
def passes_a_descriptor(net):
    """sendmsg with SCM_RIGHTS over a unix link with latency: the descriptor goes at once, but only after
    the bytes the link still holds, so the stream keeps its order."""
    import array
    import os

    if net.name == "n0":
        conn, _ = net.listen("unix:fds").accept()
        got, fds = b"", []
        while len(got) < len(b"first;second;"):
            data, ancillary, _flags, _address = conn.recvmsg(100, socket.CMSG_SPACE(4))
            got += data
            for level, kind, item in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
                    fds.extend(array.array("i", item))
        show("got", got)
        show("descriptor", os.read(fds[0], 100))
        conn.close()
        return
    read_end, write_end = os.pipe()
    os.write(write_end, b"sent by n1")
    s = net.connect("n0", "fds", transport="unix")
    s.sendall(b"first;")
    s.sendmsg([b"second;"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [read_end]))])
    s.close()


@netsim.listens(f"udp:{UDP_PORT}")
def datagrams_by_recv(net):
    """n0 sends n1 two datagrams; n1 takes them with recv and recv_into, which do not say who sent."""
    if net.name == "n0":
        u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for text in (b"first", b"second"):
            u.sendto(text, (net.host_of("n1"), UDP_PORT))
        u.close()
    else:
        u = net.listen(f"udp:{UDP_PORT}")
        first = u.recv(100)
        buffer = bytearray(100)
        count = u.recv_into(buffer)
        show("got", [first, bytes(buffer[:count])])


@netsim.listens(PORT)
def detaches_after_sending(net):
    """n1 sends a line, then hands the descriptor on (as ssl's wrap_socket does for STARTTLS) and writes
    on it directly; n0 reads to the end."""
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        data = b""
        while chunk := conn.recv(100):
            data += chunk
        show("got", data)
        conn.close()
        return
    sock = net.connect("n0", PORT)
    sock.sendall(b"STARTTLS;")
    fd = sock.detach()
    os.write(fd, b"after the handover;")
    os.close(fd)


@netsim.listens(PORT)
def default_timeout_then_blocking(net):
    """With socket.setdefaulttimeout set, n0 makes its connection blocking, sends, and waits in recv."""
    socket.setdefaulttimeout(30)
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        conn.settimeout(None)
        conn.sendall(b"hello")
        show("got", conn.recv(100))
        conn.close()
        return
    sock = net.connect("n0", PORT)
    show("got", sock.recv(100))
    time.sleep(0.1)
    sock.sendall(b"bye")
    sock.recv(100)
    sock.close()


@netsim.listens(PORT)
def reads_its_file_after_close(net):
    """n0 sends 100,000 bytes; n1 closes its socket and reads on from its makefile(), as http.client does."""
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        conn.sendall(b"z" * 100_000)
        conn.close()
        return
    sock = net.connect("n0", PORT)
    file = sock.makefile("rb")
    sock.close()
    show("got", len(file.read()))
    file.close()


@netsim.listens(PORT)
def threads_share_a_connection(net):
    """Four threads of n1 each send 300 lines of 100 bytes on one connection, with no lock of their own."""
    if net.name == "n0":
        conn, _ = net.listen(PORT).accept()
        total = 0
        while chunk := conn.recv(65536):
            total += len(chunk)
        show("got", total)
        conn.close()
        return
    sock = net.connect("n0", PORT)

    def send_lines(mark):
        for _ in range(300):
            sock.sendall(mark * 99 + b"\n")

    threads = [threading.Thread(target=send_lines, args=(bytes([65 + k]),)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sock.close()


@netsim.listens(f"udp:{UDP_PORT}")
def sleeps_while_a_thread_waits(net):
    """n1's thread waits for n0's answers while its main thread sleeps 0.4 s between three questions."""
    if net.name == "n0":
        u = net.listen(f"udp:{UDP_PORT}")
        while True:
            data, address = u.recvfrom(100)
            u.sendto(data.upper(), address)
    u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((net.host, 0))
    answers = []
    listener = threading.Thread(target=lambda: [answers.append(u.recv(100)) for _ in range(3)], daemon=True)
    listener.start()
    for number in range(3):
        u.sendto(b"question %d" % number, (net.host_of("n0"), UDP_PORT))
        time.sleep(0.4)
    listener.join(2)
    show("answers", answers)


@netsim.listens(f"udp:{UDP_PORT}")
def asks_again_after_its_timeout(net):
    """n0 leaves the first question unanswered; n1 waits 0.4 s for an answer (settimeout), then asks again."""
    if net.name == "n0":
        u = net.listen(f"udp:{UDP_PORT}")
        u.recvfrom(100)  # the first question: no answer
        while True:
            data, address = u.recvfrom(100)
            u.sendto(data.upper(), address)
    u = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(0.4)
    for attempt in range(3):
        u.sendto(b"question", (net.host_of("n0"), UDP_PORT))
        try:
            show("answer", (attempt, u.recvfrom(100)[0]))
            return
        except TimeoutError:
            continue


def uses_a_process_pool(net):
    """Each node sums in a multiprocessing Pool, then ends it as its with-block does: SIGTERM to its
    workers (joined here, so that what they print is in the log before main returns)."""
    import multiprocessing

    pool = multiprocessing.get_context("fork").Pool(2)
    show("sum", sum(pool.map(abs, range(-100, 0))))
    pool.terminate()
    pool.join()

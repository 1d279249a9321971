"""The socket tutorial's TCP echo server and client, as a netsim socket program.

The node named ``server`` accepts one connection per client and sends back what it reads until the
client closes; every other node is a client that connects, sends one line, reads the echo and closes.
Run it on the topology beside this file (``server``, ``client1``, ``client2``), or on any topology
that has a node named ``server``:

    netsim run examples/client_server.gml --app examples/tutorial_tcp.py:main

The same loops over the other stream transports: the same code with another family and address.

    netsim run examples/client_server.gml --app examples/tutorial_tcp.py:main_tcp6        # ("::1", PORT)
    netsim run examples/client_server.gml --app examples/tutorial_tcp.py:main_unix        # AF_UNIX stream
    netsim run examples/client_server.gml --app examples/tutorial_tcp.py:main_seqpacket   # AF_UNIX seqpacket

What each node printed is in ``runs/<run-id>/nodes/<index>-<name>.log``; every call it made on its
sockets, with the addresses the kernel gave, is a ``call`` event in ``runs/<run-id>/trace.jsonl``:

    netsim trace events runs/<run-id> --event call

Add ``--latency 20ms`` to see the link's latency in each connect and echo.
"""

from __future__ import annotations

import socket

import netsim

PORT = 65432


@netsim.listens(PORT, nodes=["server"])
def main(net):
    """TCP on each node's own address (``net.host``). ``netsim.listens`` binds the server's port, and
    listens on it, before any node's ``main`` starts: a client's first ``connect`` always finds it."""
    if net.name == "server":
        ss = net.listen(PORT)  # socket(), bind((net.host, PORT)), listen(): done before the start
        echo_server(ss, clients=len(net.nodes) - 1)
    else:
        cs = net.socket()  # AF_INET, SOCK_STREAM
        cs.connect((net.host_of("server"), PORT))
        echo_client(net, cs)


def main_tcp6(net):
    """TCP over IPv6. Every node shares ``::1``, so only the server may bind the port: it binds it
    itself, once started, and clients retry their connect until it listens (``net.connect``)."""
    serve_or_ask(net, socket.AF_INET6, socket.SOCK_STREAM, ("::1", PORT), "tcp6")


def main_unix(net):
    """AF_UNIX stream, on a path in the server's own directory of the run (``net.path``)."""
    serve_or_ask(net, socket.AF_UNIX, socket.SOCK_STREAM, net.path("echo", "server"), "unix")


def main_seqpacket(net):
    """AF_UNIX seqpacket: connected like a stream, but each send arrives as one message."""
    serve_or_ask(net, socket.AF_UNIX, socket.SOCK_SEQPACKET, net.path("echo", "server"), "unix-seqpacket")


def serve_or_ask(net, family, kind, address, transport):
    if net.name == "server":
        ss = net.socket(family, kind)
        ss.bind(address)
        ss.listen()
        echo_server(ss, clients=len(net.nodes) - 1)
    else:
        # ECONNREFUSED or ENOENT (the server has not bound yet) are retried, with backoff.
        echo_client(net, net.connect(address, transport=transport))


def echo_server(ss, clients):
    # One connection per client, then main returns and the node is done. A server that serves
    # forever (while True) is fine too: the run then ends once nothing has moved for --quiet seconds.
    for _ in range(clients):
        conn, addr = ss.accept()
        with conn:
            print(f"connected by {addr!r} on {conn.getsockname()!r}", flush=True)
            while True:
                data = conn.recv(1024)
                if not data:
                    break  # the client closed its end
                conn.sendall(data)
    ss.close()


def echo_client(net, cs):
    with cs:
        print(f"connected from {cs.getsockname()!r} to {cs.getpeername()!r}", flush=True)
        message = f"hello from {net.name}\n".encode()
        cs.sendall(message)
        echo = b""
        while len(echo) < len(message):  # a stream may hand the echo back in pieces
            data = cs.recv(1024)
            if not data:
                break
            echo += data
    print(f"received {echo!r}", flush=True)

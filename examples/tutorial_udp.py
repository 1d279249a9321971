"""The socket tutorial's UDP echo server and client, as a netsim socket program.

The node named ``server`` answers every datagram with the same bytes, to the address it came from;
every other node is a client that sends one datagram and waits for the answer, sending again when
none comes (UDP may lose either). Run it on the topology beside this file:

    netsim run examples/client_server.gml --app examples/tutorial_udp.py:main

The server serves forever, as UDP servers do: the run ends once nothing has moved for ``--quiet``
seconds (0.5 by default) after the last client got its answer. Over the other datagram transports:

    netsim run examples/client_server.gml --app examples/tutorial_udp.py:main_udp6         # ("::1", PORT)
    netsim run examples/client_server.gml --app examples/tutorial_udp.py:main_unix_dgram   # AF_UNIX datagrams

On lossy links some datagrams (a question or an answer) are dropped, each a ``drop`` event in the
trace, and the clients' retries are what gets the answers through:

    netsim run examples/client_server.gml --app examples/tutorial_udp.py:main --loss 0.3
"""

from __future__ import annotations

import socket
import time

import netsim

PORT = 65433
# How long a client waits for the answer before it sends its question again.
ANSWER_TIMEOUT_S = 0.2
ATTEMPTS = 20


@netsim.listens(f"udp:{PORT}", nodes=["server"])
def main(net):
    """UDP on each node's own address. ``netsim.listens`` binds the server's port before any node's
    ``main`` starts, so no client's first datagram goes to a port nobody has bound yet."""
    if net.name == "server":
        echo_server(net.listen(f"udp:{PORT}"))  # socket(AF_INET, SOCK_DGRAM), bind((net.host, PORT))
    else:
        cs = net.socket(socket.AF_INET, socket.SOCK_DGRAM)
        echo_client(net, cs, (net.host_of("server"), PORT))


def main_udp6(net):
    """UDP over IPv6. Every node shares ``::1``: only the server binds the port, itself, once started;
    a client's datagram that comes before that is lost, and its retry finds the server."""
    if net.name == "server":
        ss = net.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        ss.bind(("::1", PORT))
        echo_server(ss)
    else:
        cs = net.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        echo_client(net, cs, ("::1", PORT))


def main_unix_dgram(net):
    """AF_UNIX datagrams. A client binds a path of its own: an unbound one has no address to answer."""
    server_path = net.path("echo", "server")
    if net.name == "server":
        ss = net.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ss.bind(server_path)
        echo_server(ss)
    else:
        cs = net.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cs.bind(net.path("answers"))
        echo_client(net, cs, server_path)


def echo_server(ss):
    while True:
        data, addr = ss.recvfrom(1024)
        print(f"{data!r} from {addr!r}", flush=True)
        ss.sendto(data, addr)


def echo_client(net, cs, server_address):
    cs.settimeout(ANSWER_TIMEOUT_S)
    question = f"hello from {net.name}".encode()
    for _ in range(ATTEMPTS):
        try:
            cs.sendto(question, server_address)
            answer, addr = cs.recvfrom(1024)
        except TimeoutError:
            continue  # the question or the answer was lost: ask again
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(ANSWER_TIMEOUT_S)  # AF_UNIX: the server has not bound its path yet
            continue
        print(f"{answer!r} from {addr!r} on {cs.getsockname()!r}", flush=True)
        break
    cs.close()

"""A tiny HTTP/1.1 exchange with the standard library over traced sockets: ``http.client`` on the
clients, ``http.server``'s request handler on the server.

Libraries that make their own sockets (``socket.create_connection``) are not traced; ``http.client``
lets a subclass make the socket instead, so ``NetHTTPConnection`` connects with ``net.connect`` and
every call of the exchange, headers and bodies, is in the trace. The server hands each connection it
accepts to a ``BaseHTTPRequestHandler``, which reads and writes it through ``makefile()``.

    netsim run examples/client_server.gml --app examples/http_exchange.py:main
    netsim run examples/client_server.gml --app examples/http_exchange.py:main --latency 20ms

Each client asks for two pages on one kept-alive connection and prints the answers in its log
(``runs/<run-id>/nodes/<index>-<name>.log``); the server's log has its access log.
"""

from __future__ import annotations

import http.client
import http.server

import netsim

PORT = 8080


class NetHTTPConnection(http.client.HTTPConnection):
    """``http.client``'s connection to a node, over a socket that ``net.connect`` made."""

    def __init__(self, net, node, port):
        super().__init__(net.host_of(node), port)
        self.net = net

    def connect(self):
        self.sock = self.net.connect((self.host, self.port))


class HelloHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # a connection serves requests until the client closes it

    def do_GET(self):
        body = f"hello, {self.client_address[0]}, you asked for {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@netsim.listens(PORT)
def main(net):
    if net.name == "server":
        ss = net.listen(PORT)
        for _ in range(len(net.nodes) - 1):
            conn, addr = ss.accept()
            # The handler serves the connection in its constructor; it needs no server object.
            HelloHandler(conn, addr, None)
            conn.close()
        ss.close()
    else:
        client = NetHTTPConnection(net, "server", PORT)
        for path in ("/", f"/{net.name}"):
            client.request("GET", path)
            response = client.getresponse()
            print(response.status, response.reason, response.read().decode().strip(), flush=True)
        client.close()

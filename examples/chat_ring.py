"""A line-based chat relay round a ring: each node connects to its successor and passes on, line by
line, what its predecessor sends, until each line is back where it started.

Every node says one line; each line goes round the ring once, so every node prints every other
node's line, then closes its connection to its successor once its own line is back (it has passed
on all it will ever receive). Lines are read and written through ``makefile()``, as a line protocol
is written with the standard library: each read and write is traced as the ``recv_into`` and
``send`` it makes on the socket.

    netsim run ring:5 --app examples/chat_ring.py:main
    netsim run ring:5 --app examples/chat_ring.py:main --latency 10ms    # one line takes 5 x 10 ms round

Each node's log (``runs/<run-id>/nodes/<index>-<name>.log``) has the lines it heard.
"""

from __future__ import annotations

import netsim

PORT = 7000


@netsim.listens(PORT)
def main(net):
    ring = net.nodes  # in topology order: on ring:N a node's successor is its neighbour
    successor = ring[(net.index + 1) % len(ring)]
    listener = net.listen(PORT)  # bound before any node's main started, so the connect finds it

    to_successor = net.socket()
    to_successor.connect((net.host_of(successor), PORT))
    from_predecessor, _ = listener.accept()
    listener.close()
    lines_in = from_predecessor.makefile("r", encoding="utf-8", newline="\n")
    lines_out = to_successor.makefile("w", encoding="utf-8", newline="\n")

    lines_out.write(f"{net.name}: hello from {net.name}\n")
    lines_out.flush()
    for line in lines_in:
        speaker, _, text = line.rstrip("\n").partition(": ")
        if speaker == net.name:
            break  # our own line has been all the way round: every other line came before it
        print(f"{speaker} says {text!r}", flush=True)
        lines_out.write(line)
        lines_out.flush()

    lines_out.close()
    to_successor.close()  # the successor's loop above ends when its own line is back
    lines_in.close()
    from_predecessor.close()

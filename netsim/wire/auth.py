"""Proof that bytes come from a node of this run: the run key, the link hello, sealed datagrams.

Pure code, like the rest of ``netsim.wire``: bytes and strings in, bytes, strings or a problem out.

The run key
    32 random bytes made by the launcher for one run and held in memory by it and its node processes
    only: never written to a file, the trace, a log or a socket.

The link hello (connected transports: tcp, tcp6, unix, unix-seqpacket)
    The connecting node's first message on a new connection is a ``netsim.hello`` whose body is
    ``{"nonce": N, "proof": P}``: N is 16 random bytes in hex, P is a keyed BLAKE2b-256 MAC under the run
    key (RFC 7693's keyed mode), in hex, of one line naming everything the hello vouches for::

        netsim-hello/1 connect <transport> <src> <dst> <connecting address> <listening address> <N>

    (fields separated by a NUL byte, addresses as ``host|port`` or the AF_UNIX path). Each end computes
    the addresses from its own socket (``getsockname()`` / ``getpeername()``), so a hello is good for one
    connection only. The accepting node answers with its own ``netsim.hello``, ``in_reply_to`` the
    first, whose proof is the same line with ``accept`` for ``connect`` (and the connecting node's
    nonce). An end takes no traffic on the connection before the other end's proof checks out (how the
    node uses this: ``netsim.runtime.handshake``): a local process that connects to a node's listener,
    or listens where a dead node listened, learns nothing and is refused.

Sealed datagrams (udp, udp6: anyone on the host can send to a UDP port)
    A datagram is ``tag + payload``: the tag is a 16-byte keyed BLAKE2b of the payload, under a key
    derived from the run key. The payload names its sender and receiver, and the receiver checks those
    against the address the datagram came from, so a tag vouches for one link direction. AF_UNIX datagrams
    are not sealed: their sockets live in the run's private (0700) directory, which no other user can
    reach.

Replays (sending again a hello or datagram seen on the wire) need to read loopback traffic, which takes
root on the same host; see docs/security.md for the threat model.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, NamedTuple

from netsim.errors import CodecError

RUN_KEY_BYTES = 32
NONCE_BYTES = 16
DATAGRAM_TAG_BYTES = 16
HELLO_VERSION = "netsim-hello/1"
CONNECT, ACCEPT = "connect", "accept"
_HELLO_PERSON = b"netsim-hello/1"
_DATAGRAM_PERSON = b"netsim-dgram/1"
_compare_digest = hmac.compare_digest


def address_text(address: Any) -> str:
    """An address as both ends of a connection write it: ``host|port`` (flow and scope left out) or a path."""
    if isinstance(address, (tuple, list)):
        return f"{address[0]}|{address[1]}"
    return str(address)


class HelloScope(NamedTuple):
    """One connection as both of its ends name it: what a hello vouches for."""

    transport: str
    connecting_node: str
    accepting_node: str
    connecting_address: Any  # the connecting socket's getsockname(), the accepted one's getpeername()
    listening_address: Any  # the accepted socket's getsockname(), the connecting one's getpeername()


class RunKey:
    """The run's secret, and everything netsim proves with it. Its repr never shows the key."""

    __slots__ = ("_datagram_hasher", "_hello_hasher", "_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != RUN_KEY_BYTES:
            raise ValueError(f"a run key is {RUN_KEY_BYTES} bytes")
        self._key = key
        # BLAKE2b in keyed mode is a MAC, in CPython's own C code: a node that forks from the launcher
        # pays nothing to set up a crypto library. One key per purpose, derived from the run key.
        self._hello_hasher = hashlib.blake2b(key=key, digest_size=32, person=_HELLO_PERSON)
        datagram_key = hashlib.blake2b(b"netsim datagram key", key=key, digest_size=32).digest()
        self._datagram_hasher = hashlib.blake2b(
            key=datagram_key, digest_size=DATAGRAM_TAG_BYTES, person=_DATAGRAM_PERSON
        )

    @classmethod
    def new(cls) -> RunKey:
        return cls(secrets.token_bytes(RUN_KEY_BYTES))

    @property
    def key(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return "RunKey(<secret>)"

    # ---- the link hello ---------------------------------------------------------------------------

    def hello_proof(self, role: str, link: HelloScope, nonce: str) -> str:
        """The proof of a hello sent by the ``role`` (CONNECT or ACCEPT) end of one connection, in hex."""
        line = "\0".join(
            (
                HELLO_VERSION,
                role,
                link.transport,
                link.connecting_node,
                link.accepting_node,
                address_text(link.connecting_address),
                address_text(link.listening_address),
                nonce,
            )
        )
        hasher = self._hello_hasher.copy()
        hasher.update(line.encode("utf-8", "surrogatepass"))
        return hasher.hexdigest()

    def hello_body(self, role: str, link: HelloScope, nonce: str) -> dict[str, str]:
        return {"nonce": nonce, "proof": self.hello_proof(role, link, nonce)}

    def hello_problem(self, role: str, link: HelloScope, body: Any) -> str | None:
        """None if ``body`` is a good hello body for this connection, else what is wrong with it."""
        if not isinstance(body, dict):
            return "a hello without the run's proof"
        nonce, proof = body.get("nonce"), body.get("proof")
        if not (isinstance(nonce, str) and len(nonce) == 2 * NONCE_BYTES and isinstance(proof, str)):
            return "a hello without the run's proof"
        expected = self.hello_proof(role, link, nonce)
        if not hmac.compare_digest(expected.encode(), proof.encode("utf-8", "surrogatepass")):
            return "a hello whose proof is not the run's"
        return None

    # ---- sealed datagrams ---------------------------------------------------------------------------

    # seal and open run once per datagram: each makes its tag itself, one Python call fewer than a helper.
    # A copy of a keyed hasher costs half of making one with the key again.

    def seal(self, payload: bytes) -> bytes:
        """``payload`` behind its tag, ready to send as one datagram."""
        hasher = self._datagram_hasher.copy()
        hasher.update(payload)
        return hasher.digest() + payload

    def open(self, datagram: bytes) -> bytes:
        """The payload of a sealed datagram; raises CodecError when the tag is missing or wrong."""
        if len(datagram) < DATAGRAM_TAG_BYTES:
            raise CodecError(f"a datagram of {len(datagram)} bytes cannot hold the run's proof")
        payload = datagram[DATAGRAM_TAG_BYTES:]
        hasher = self._datagram_hasher.copy()
        hasher.update(payload)
        if not _compare_digest(datagram[:DATAGRAM_TAG_BYTES], hasher.digest()):
            raise CodecError("a datagram without the run's proof")
        return payload


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)

"""The host link: what the launcher and a host agent say to each other over one TCP connection.

Pure code (bytes in, frames out; no sockets), in the style of ``netsim.wire``. A run over many hosts
has one host link per host: the agent connects to the launcher's relay (``netsim.launch.cluster.relay``) and
everything between them travels on it, as frames::

    u32 length of what follows | u8 kind | body

``CONTROL`` (both ways)
    One JSON object with a ``kind``: the fork server's protocol (``netsim.launch.forkserver``: setup,
    fork, open-gate, signal, quit; ready, forked, fork-failed, exited), and the link's own (challenge,
    hello, welcome, clock; ``quit`` carries the host's clock samples, and the agent's ``files``
    says whether the parts that follow are re-timed already; bye).
``NODE`` (both ways)
    u32 node index, then bytes of that node's control stream (``netsim.runtime.control``), relayed as
    they came: neither end parses a node's messages on the way.
``NODE_EOF`` (agent to launcher)
    u32 node index: that node's control socket closed.
``FILE`` (agent to launcher)
    u16 name length, the name (UTF-8, a file of the node directory), then bytes to append to it.

Nothing is unpickled or evaluated: CONTROL is JSON, the rest is counted bytes. Before the agent's hello
has proved the run key, a frame of more than ``HELLO_LIMIT_BYTES`` ends the connection.

The proof: both ends hold the run key (the launcher made it; Ray handed it to the agent when it started
the actor, and it never travels on the host link). The launcher opens with a challenge (a nonce); the
agent's hello carries its host's name, a nonce of its own and a keyed BLAKE2b of both nonces and the
name; the launcher's welcome proves the key back over the same line with its role swapped. A stranger
that connects to the relay learns nothing and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from typing import Any, NamedTuple

import orjson

from netsim.errors import CodecError

CONTROL = 1
NODE = 2
NODE_EOF = 3
FILE = 4
KINDS = frozenset((CONTROL, NODE, NODE_EOF, FILE))

# The link's own CONTROL messages.
CHALLENGE = "challenge"
HELLO = "hello"
WELCOME = "welcome"
CLOCK = "clock"
FILES = "files"
BYE = "bye"
# From an agent whose fork server died unasked: the host's nodes died with it.
SERVER_LOST = "server-lost"

HELLO_LIMIT_BYTES = 4096
FRAME_LIMIT_BYTES = 64 * 1024 * 1024
# Files travel in chunks this size, so that one frame never holds a whole trace part in memory.
FILE_CHUNK_BYTES = 1 << 20

_HEADER = struct.Struct("!IB")
_INDEX = struct.Struct("!I")
_NAME_LENGTH = struct.Struct("!H")
_PERSON = b"netsim-agent/1"
NONCE_BYTES = 16


class Frame(NamedTuple):
    """One frame as decoded: ``kind``; for CONTROL the message, for NODE and NODE_EOF the node index, for
    FILE the file's name; ``data``: NODE's or FILE's bytes (empty otherwise)."""

    kind: int
    value: Any
    data: bytes = b""


def encode_control(kind: str, **fields: Any) -> bytes:
    return _frame(CONTROL, orjson.dumps({"kind": kind, **fields}))


def encode_node(index: int, data: bytes) -> bytes:
    return _frame(NODE, _INDEX.pack(index) + data)


def encode_node_eof(index: int) -> bytes:
    return _frame(NODE_EOF, _INDEX.pack(index))


def encode_file(name: str, data: bytes) -> bytes:
    raw = name.encode()
    return _frame(FILE, _NAME_LENGTH.pack(len(raw)) + raw + data)


def _frame(kind: int, body: bytes) -> bytes:
    return _HEADER.pack(len(body) + 1, kind) + body


class FrameDecoder:
    """Bytes of a host link in, frames out. ``limit``: the largest frame taken (lowered before the hello)."""

    def __init__(self, limit: int = FRAME_LIMIT_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        at = 0
        while len(buffer) - at >= _HEADER.size:
            length, kind = _HEADER.unpack_from(buffer, at)
            if length < 1 or length > self.limit:
                raise CodecError(f"a host link frame of {length} bytes (at most {self.limit})")
            end = at + 4 + length
            if end > len(buffer):
                break
            frames.append(_decode(kind, bytes(buffer[at + _HEADER.size : end])))
            at = end
        del buffer[:at]
        return frames

    @property
    def partial(self) -> bool:
        return bool(self._buffer)


def _decode(kind: int, body: bytes) -> Frame:
    if kind == CONTROL:
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise CodecError(f"a host link control message is not JSON: {error}") from None
        if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
            raise CodecError("a host link control message is not an object with a kind")
        return Frame(CONTROL, message)
    if kind in (NODE, NODE_EOF):
        if len(body) < _INDEX.size or (kind == NODE_EOF and len(body) != _INDEX.size):
            raise CodecError("a host link node frame without its node index")
        return Frame(kind, _INDEX.unpack_from(body)[0], body[_INDEX.size :])
    if kind == FILE:
        if len(body) < _NAME_LENGTH.size:
            raise CodecError("a host link file frame without its name")
        (size,) = _NAME_LENGTH.unpack_from(body)
        start = _NAME_LENGTH.size
        if len(body) < start + size:
            raise CodecError("a host link file frame cut inside its name")
        try:
            name = body[start : start + size].decode()
        except UnicodeDecodeError:
            raise CodecError("a host link file name is not UTF-8") from None
        return Frame(FILE, name, body[start + size :])
    raise CodecError(f"a host link frame of unknown kind {kind}")


# ---- the proof of the run key ------------------------------------------------------------------------


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def proof(run_key: bytes, role: str, host: str, launcher_nonce: str, agent_nonce: str) -> str:
    """The MAC over one line naming the role (``agent`` or ``launcher``), the host and both nonces."""
    line = "\0".join((role, host, launcher_nonce, agent_nonce)).encode()
    return hashlib.blake2b(line, key=run_key, digest_size=32, person=_PERSON).hexdigest()


def proves(run_key: bytes, claimed: Any, role: str, host: str, launcher_nonce: str, agent_nonce: str) -> bool:
    if not isinstance(claimed, str):
        return False
    expected = proof(run_key, role, host, launcher_nonce, agent_nonce)
    return hmac.compare_digest(claimed.encode(), expected.encode())


# ---- clocks ----------------------------------------------------------------------------------------


class ClockSample(NamedTuple):
    """One exchange: the launcher's clock when it asked and when the answer came, the host's between."""

    asked_ns: int
    host_ns: int
    answered_ns: int

    @property
    def offset_ns(self) -> int:
        """The host's clock minus the launcher's, assuming the answer took as long as the question."""
        return self.host_ns - (self.asked_ns + self.answered_ns) // 2

    @property
    def error_ns(self) -> int:
        """The most ``offset_ns`` can be wrong by: half the round trip."""
        return (self.answered_ns - self.asked_ns + 1) // 2


def best_sample(samples: list[ClockSample]) -> ClockSample:
    """The exchange with the shortest round trip: its offset has the smallest error bound."""
    return min(samples, key=lambda sample: sample.answered_ns - sample.asked_ns)


class ClockCorrection:
    """Host timestamps to the launcher's clock: the offset measured at the start and at the end, and a
    straight line between them (a host's clock may drift during a long run)."""

    def __init__(self, start: ClockSample, end: ClockSample | None = None) -> None:
        self.start = start
        self.end = end

    def to_launcher(self, host_ns: int) -> int:
        start, end = self.start, self.end
        if end is None or end.host_ns == start.host_ns:
            return host_ns - start.offset_ns
        fraction = (host_ns - start.host_ns) / (end.host_ns - start.host_ns)
        offset = start.offset_ns + fraction * (end.offset_ns - start.offset_ns)
        return host_ns - round(offset)

    def to_json(self) -> dict[str, Any]:
        end = self.end
        return {
            "clock_offset_ns": self.start.offset_ns,
            "clock_error_ns": self.start.error_ns,
            "clock_offset_end_ns": None if end is None else end.offset_ns,
            "clock_error_end_ns": None if end is None else end.error_ns,
        }

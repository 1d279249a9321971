"""Messages and the sans-I/O codec that turns them into bytes and back (no sockets here).

``message`` holds the envelope, ``codec`` one message's JSON payload and its rules, ``framing`` how
payloads ride a stream (length prefix, :class:`FrameDecoder`) or a datagram, and ``auth`` the run's
proof that a peer belongs to it.
"""

from __future__ import annotations

from netsim.wire.codec import LAMPORT_MAX, decode_message, encode_message
from netsim.wire.framing import (
    LENGTH_PREFIX,
    MAX_FRAME_BYTES,
    PREFIX_SIZE,
    FrameDecoder,
    decode_datagram,
    decode_frames,
    encode_datagram,
    encode_frame,
    frame,
)
from netsim.wire.message import Message

__all__ = [
    "LAMPORT_MAX",
    "LENGTH_PREFIX",
    "MAX_FRAME_BYTES",
    "PREFIX_SIZE",
    "FrameDecoder",
    "Message",
    "decode_datagram",
    "decode_frames",
    "decode_message",
    "encode_datagram",
    "encode_frame",
    "encode_message",
    "frame",
]

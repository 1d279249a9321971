"""Messages and the sans-I/O codec that turns them into bytes and back (no sockets here)."""

from __future__ import annotations

from netsim.wire.codec import (
    LAMPORT_MAX,
    LENGTH_PREFIX,
    MAX_FRAME_BYTES,
    PREFIX_SIZE,
    FrameDecoder,
    decode_datagram,
    decode_frames,
    decode_message,
    encode_datagram,
    encode_frame,
    encode_message,
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

"""The sans-I/O framing: how message payloads ride a transport, and a stream decoded back into messages.

Stream transports (tcp, tcp6, unix) send ``LENGTH_PREFIX`` (payload length, 4-byte big-endian unsigned)
followed by the payload; :class:`FrameDecoder` undoes that for any chunking of the stream, never
blocking and never touching a socket. Datagram and seqpacket transports (udp, udp6, unix-dgram,
unix-seqpacket) send one bare payload per datagram: :func:`encode_datagram` / :func:`decode_datagram`.
The payload itself, and the rules it is checked by, are ``netsim.wire.codec``'s. Every problem with
bytes raises :class:`~netsim.errors.CodecError` and nothing else.
"""

from __future__ import annotations

import struct

from netsim.errors import CodecError, OptionError
from netsim.wire.codec import decode_message, decode_messages, encode_message
from netsim.wire.message import Message

__all__ = [
    "LENGTH_PREFIX",
    "MAX_FRAME_BYTES",
    "PREFIX_SIZE",
    "FrameDecoder",
    "decode_datagram",
    "decode_frames",
    "encode_datagram",
    "encode_frame",
    "frame",
]

MAX_FRAME_BYTES = 16 * 1024 * 1024
LENGTH_PREFIX = struct.Struct("!I")
PREFIX_SIZE = 4

# Compact the stream buffer only once this much has been consumed and it is at least half the buffer:
# the memmove is then amortized over at least as many bytes of frames as it moves.
_COMPACT_AFTER_BYTES = 64 * 1024

_pack_prefix = LENGTH_PREFIX.pack
_unpack_prefix_from = LENGTH_PREFIX.unpack_from


def frame(payload: bytes) -> bytes:
    """``payload`` behind its 4-byte length prefix; raises CodecError above MAX_FRAME_BYTES."""
    size = len(payload)
    if size > MAX_FRAME_BYTES:
        raise CodecError(
            f"a payload of {size} bytes exceeds the frame limit of {MAX_FRAME_BYTES} bytes",
            hint="send a smaller body, or split it across several messages",
        )
    return _pack_prefix(size) + payload


def encode_frame(message: Message) -> bytes:
    """One stream frame: length prefix + JSON payload."""
    return frame(encode_message(message))


def encode_datagram(message: Message) -> bytes:
    """One datagram: the bare payload (datagram boundaries do the framing)."""
    return encode_message(message)


def decode_datagram(data: bytes | bytearray | memoryview) -> Message:
    """The message in one datagram; raises CodecError if it is not exactly one valid payload."""
    return decode_message(data)


class FrameDecoder:
    """Turns a byte stream, in chunks of any size, into messages; never blocks, never touches a socket.

    Use it like h11: ``feed()`` whatever ``recv()`` returned, then call ``next_frame()`` until it returns
    None; on EOF call ``close()``, which raises if the stream stopped inside a frame::

        decoder.feed(chunk)
        while (item := decoder.next_frame()) is not None:
            message, wire_bytes = item

    ``next_frames()`` returns every complete frame at once, for a caller that handles a whole read in
    one loop (a node's event loop does).

    Any CodecError leaves the decoder failed: every later call raises CodecError again and the caller
    closes the connection. Complete frames received before the bad bytes are all returned first.
    """

    __slots__ = ("_buffer", "_start", "_max_frame_bytes", "_stream_offset", "_failure", "_closed", "_error")

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes  # the setter refuses a bad limit before anything is built
        self._buffer = bytearray()
        self._start = 0  # read offset into _buffer: bytes before it are consumed
        self._stream_offset = 0  # stream position of _buffer[_start], for error messages
        self._failure: str | None = None
        # The error that stopped next_frames() after it had frames to return: its next call raises it.
        self._error: CodecError | None = None
        self._closed = False

    @property
    def max_frame_bytes(self) -> int:
        """The largest payload a frame may announce; a larger announcement is refused before buffering."""
        return self._max_frame_bytes

    @max_frame_bytes.setter
    def max_frame_bytes(self, value: int) -> None:
        if type(value) is not int or not 0 < value <= 0xFFFFFFFF:
            raise OptionError(f"max_frame_bytes must be an integer from 1 to {0xFFFFFFFF}, got {value!r}")
        self._max_frame_bytes = value

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as a message."""
        return len(self._buffer) - self._start

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the peer; raises CodecError after close() or an earlier error."""
        if self._failure is not None:
            raise self._already_failed()
        if self._closed:
            raise CodecError("cannot feed bytes after close(): the peer already sent EOF")
        buffer = self._buffer
        start = self._start
        if start >= _COMPACT_AFTER_BYTES and start * 2 >= len(buffer):
            del buffer[:start]
            self._start = 0
        buffer += data

    def next_frame(self) -> tuple[Message, int] | None:
        """The next message and the wire bytes it took (prefix + payload), or None if more are needed."""
        if self._failure is not None:
            raise self._already_failed()
        buffer = self._buffer
        start = self._start
        payload_start = start + PREFIX_SIZE
        buffer_end = len(buffer)
        if buffer_end < payload_start:
            return None
        (size,) = _unpack_prefix_from(buffer, start)
        if size > self._max_frame_bytes:
            raise self._oversized(self._stream_offset, size)
        end = payload_start + size
        if buffer_end < end:
            return None
        try:
            # A bytearray slice copies only this payload; a memoryview would pin the buffer against resizing.
            message = decode_message(buffer[payload_start:end])
        except CodecError as error:
            raise self._bad_frame(self._stream_offset, error) from None
        self._consume_to(end)
        return message, end - start

    def next_frames(self) -> list[tuple[Message, int]]:
        """Every complete frame buffered, oldest first, as (message, wire bytes); [] if none is complete.

        Bad bytes after complete frames: those frames are returned, and the next call raises.
        """
        if self._failure is not None:
            error, self._error = self._error, None
            raise error if error is not None else self._already_failed()
        buffer = self._buffer
        buffer_end = len(buffer)
        start = first = self._start
        max_frame_bytes = self._max_frame_bytes
        # Cut the frames out first, then decode them together (decode_messages): the per-frame loop is
        # then only the length prefix and a slice.
        payloads: list[bytearray] = []
        sizes: list[int] = []
        add_payload = payloads.append
        add_size = sizes.append
        oversized = None  # (buffer position, announced size) of an oversized frame after these
        while buffer_end - start >= PREFIX_SIZE:
            (size,) = _unpack_prefix_from(buffer, start)
            if size > max_frame_bytes:
                oversized = (start, size)
                break
            end = start + PREFIX_SIZE + size
            if buffer_end < end:
                break
            # A bytearray slice copies only this payload; a memoryview would pin the buffer against resizing.
            add_payload(buffer[start + PREFIX_SIZE : end])
            add_size(end - start)
            start = end
        try:
            messages = decode_messages(payloads)
        except CodecError:
            messages, start, error = self._decode_until_bad(payloads, first)
        else:
            error = (
                None
                if oversized is None
                else self._oversized(self._stream_offset + oversized[0] - first, oversized[1])
            )
        if error is not None:
            if not messages:
                raise error
            self._error = error
        self._consume_to(start)
        if len(messages) < len(sizes):
            del sizes[len(messages) :]
        return list(zip(messages, sizes, strict=True))

    def _decode_until_bad(
        self, payloads: list[bytearray], first: int
    ) -> tuple[list[Message], int, CodecError | None]:
        """The messages before the first bad payload, where they end, and the error for the bad one."""
        messages: list[Message] = []
        position = first
        for payload in payloads:
            try:
                messages.append(decode_message(payload))
            except CodecError as error:
                return messages, position, self._bad_frame(self._stream_offset + position - first, error)
            position += PREFIX_SIZE + len(payload)
        return messages, position, None  # unreachable: decode_messages raises only what one of these does

    def _consume_to(self, end: int) -> None:
        """Every byte before ``end`` has been returned as a message."""
        self._stream_offset += end - self._start
        if end == len(self._buffer):
            self._buffer.clear()
            self._start = 0
        else:
            self._start = end

    def close(self) -> None:
        """The peer sent EOF: raises CodecError if it stopped inside a frame or a length prefix.

        Complete frames still buffered are not an error; ``next_frame()`` keeps returning them.
        """
        if self._failure is not None:
            raise self._already_failed()
        self._closed = True
        buffer = self._buffer
        position = self._start
        stream_offset = self._stream_offset
        total = len(buffer)
        while position < total:
            remaining = total - position
            if remaining < PREFIX_SIZE:
                raise self._fail(
                    f"truncated frame: {remaining} bytes buffered at EOF, "
                    f"inside a {PREFIX_SIZE}-byte length prefix (stream byte {stream_offset})"
                )
            (size,) = _unpack_prefix_from(buffer, position)
            if size > self._max_frame_bytes:
                raise self._oversized(stream_offset, size)
            end = position + PREFIX_SIZE + size
            if end > total:
                raise self._fail(
                    f"truncated frame: {remaining} bytes buffered at EOF, the frame at stream byte "
                    f"{stream_offset} announces {size} payload bytes and {remaining - PREFIX_SIZE} arrived"
                )
            stream_offset += end - position
            position = end

    def _bad_frame(self, stream_offset: int, error: CodecError) -> CodecError:
        return self._fail(f"frame at stream byte {stream_offset}: {error.message}")

    def _oversized(self, stream_offset: int, size: int) -> CodecError:
        return self._fail(
            f"frame at stream byte {stream_offset} announces {size} payload bytes, "
            f"more than the limit of {self._max_frame_bytes}",
            hint="the peer does not speak netsim's length-prefixed framing, or needs larger max_frame_bytes",
        )

    def _fail(self, reason: str, *, hint: str | None = None) -> CodecError:
        self._failure = reason
        return CodecError(reason, hint=hint)

    def _already_failed(self) -> CodecError:
        return CodecError(f"frame decoder is unusable after an earlier error: {self._failure}")


def decode_frames(data: bytes) -> list[Message]:
    """Every message in a complete byte string of frames; raises CodecError on bad or trailing bytes."""
    decoder = FrameDecoder()
    decoder.feed(data)
    messages: list[Message] = []
    while (item := decoder.next_frame()) is not None:
        messages.append(item[0])
    decoder.close()
    return messages

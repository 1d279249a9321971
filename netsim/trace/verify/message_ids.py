"""A set of ``msg_id`` strings that stays small for millions of ids: the ids a sender numbers
``"<node>:<seq>"`` are bits of one bitmap per sender; any other id goes to a plain set.
"""

from __future__ import annotations

# msg_id sequence numbers above this go to a plain set instead of a bitmap (16 MiB of bits per sender).
MAX_BITMAP_SEQ = 1 << 27


class MessageIds:
    """A set of ``msg_id`` strings stored as one bitmap of sequence numbers per sending node."""

    __slots__ = ("_bitmaps", "_others")

    def __init__(self) -> None:
        self._bitmaps: dict[str, bytearray] = {}
        self._others: set[str] = set()

    def add(self, msg_id: str) -> bool:
        """Add ``msg_id``; True if it was not there yet."""
        # _numbered, inline: this runs for every message sent.
        sender, separator, seq_text = msg_id.rpartition(":")
        if (
            separator
            and seq_text.isascii()
            and seq_text.isdigit()
            and (seq := int(seq_text)) <= MAX_BITMAP_SEQ
        ):
            bitmap = self._bitmaps.get(sender)
            if bitmap is None:
                bitmap = self._bitmaps[sender] = bytearray(64)
            index, bit = seq >> 3, 1 << (seq & 7)
            if index >= len(bitmap):
                bitmap.extend(bytes(max(index + 1, 2 * len(bitmap)) - len(bitmap)))
            if bitmap[index] & bit:
                return False
            bitmap[index] |= bit
            return True
        if msg_id in self._others:
            return False
        self._others.add(msg_id)
        return True

    def forget(self, sender: str) -> None:
        """Forget every id of ``sender`` (a restarted node numbers its messages from 1 again)."""
        self._bitmaps.pop(sender, None)
        prefix = f"{sender}:"
        self._others = {msg_id for msg_id in self._others if not msg_id.startswith(prefix)}

    def __contains__(self, msg_id: str) -> bool:
        numbered = _numbered(msg_id)
        if numbered is None:
            return msg_id in self._others
        sender, seq = numbered
        bitmap = self._bitmaps.get(sender)
        index = seq >> 3
        return bitmap is not None and index < len(bitmap) and bool(bitmap[index] & (1 << (seq & 7)))


def _numbered(msg_id: str) -> tuple[str, int] | None:
    """(sender, seq) of an id ``"<sender>:<seq>"`` whose seq fits a bitmap; None for any other id."""
    sender, separator, seq_text = msg_id.rpartition(":")
    if separator and seq_text.isascii() and seq_text.isdigit():
        seq = int(seq_text)
        if seq <= MAX_BITMAP_SEQ:
            return sender, seq
    return None

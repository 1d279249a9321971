"""Datagrams sent and read a run at a time: which datagrams one send carries, how one read splits.

Linux sends a run of datagrams to one peer in a single syscall when they are the segments of one
buffer (UDP generic segmentation offload, ``UDP_SEGMENT``): every segment has the same size but the
last, which may be shorter, and a send holds at most ``MAX_SEGMENTS`` of them within one UDP
payload. A receiving socket that asks for it (``UDP_GRO``) gets such a run back whole, in one read,
with the segment size beside it. On the wire and to any other receiver they are ordinary datagrams,
each with its own header.

Pure: sizes and bytes in, counts and bytes out. The socket calls are ``netsim.runtime.channels``'.
"""

from __future__ import annotations

from collections.abc import Iterable

# Segments one send may carry: UDP_MAX_SEGMENTS, 64 in every kernel that has UDP_SEGMENT (later ones
# allow more; 64 already makes one syscall of 64).
MAX_SEGMENTS = 64


def batch_length(sizes: Iterable[int], *, max_bytes: int, max_segment: int) -> int:
    """How many datagrams, from the front of ``sizes``, one segmented send can carry (0 for none).

    The first datagram sets the segment size; the run goes on while the next has the same size, ends
    after one that is shorter (only the last segment may be), and stops before it would pass
    ``MAX_SEGMENTS`` datagrams or ``max_bytes`` in all. A first datagram larger than ``max_segment``
    (what the kernel refused before) goes alone.
    """
    iterator = iter(sizes)
    first = next(iterator, None)
    if first is None:
        return 0
    if first > max_segment or first <= 0:
        return 1
    count, total = 1, first
    for size in iterator:
        if count == MAX_SEGMENTS or size > first or size <= 0 or total + size > max_bytes:
            break
        count += 1
        total += size
        if size < first:
            break
    return count


def split_segments(data: bytes, segment_size: int) -> list[bytes]:
    """The datagrams of one coalesced read: ``segment_size`` bytes each, the last one the rest."""
    if segment_size <= 0 or len(data) <= segment_size:
        return [data]
    return [data[start : start + segment_size] for start in range(0, len(data), segment_size)]

"""The message envelope every netsim node sends and receives, independent of how it is encoded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """One application message between two nodes.

    The envelope fields (``src``, ``dst``, ``id``, ``type``) are non-empty strings; ``body`` is any JSON
    value; ``in_reply_to`` names the ``id`` of the message this one answers; ``lamport`` is the sender's
    Lamport clock when it sent the message. Construction does not validate (it runs per message on the hot
    path); :func:`netsim.wire.codec.encode_message` and :func:`~netsim.wire.codec.decode_message` do.

    A message whose body is a dict or list is not hashable (the generated ``__hash__`` hashes every field).
    """

    src: str
    dst: str
    id: str
    type: str
    body: Any = None
    in_reply_to: str | None = None
    lamport: int = 0

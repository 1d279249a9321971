"""The message envelope every netsim node sends and receives, independent of how it is encoded."""

from __future__ import annotations

from typing import Any, NamedTuple


class Message(NamedTuple):
    """One application message between two nodes: an immutable named tuple.

    The envelope fields (``src``, ``dst``, ``id``, ``type``) are non-empty strings; ``body`` is any JSON
    value; ``in_reply_to`` names the ``id`` of the message this one answers; ``lamport`` is the sender's
    Lamport clock when it sent the message. Construction does not validate (it runs per message on the hot
    path); :func:`netsim.wire.codec.encode_message` and :func:`~netsim.wire.codec.decode_message` do.

    A named tuple because a node builds one for every message it receives, and a tuple is the cheapest
    immutable object Python builds (a third of the cost of a frozen dataclass). ``message._replace(body=...)``
    makes a changed copy. A message whose body is a dict or list is not hashable.
    """

    src: str
    dst: str
    id: str
    type: str
    body: Any = None
    in_reply_to: str | None = None
    lamport: int = 0

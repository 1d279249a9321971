"""Socket addresses as verify compares them: a hashable key per address as recorded, and its text."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from netsim.trace.records import format_address


def address_key(address: Any) -> Hashable:
    """An address as a hashable key: [host, port, flowinfo, scope_id] compares on (host, port) only.

    The two ends of one IPv6 connection may disagree on flowinfo and scope_id, never on host and port.
    """
    if type(address) is list:
        key: Any = tuple(address[:2])
    elif address is None or type(address) is str:
        return address
    else:
        key = address
    try:
        hash(key)
    except TypeError:
        return repr(address)
    return key


def address_keys(record: dict[str, Any]) -> tuple[Hashable, Hashable]:
    """``address_key`` of the record's sockname and peername, with the shape every netsim socket
    records, ``[host, port]``, taken first (this runs for every message event)."""
    sockname = record.get("sockname")
    if type(sockname) is list and len(sockname) >= 2:
        host, port = sockname[0], sockname[1]
        sockname = (host, port) if type(host) is str and type(port) is int else address_key(sockname)
    elif type(sockname) is not str:
        sockname = address_key(sockname)
    peername = record.get("peername")
    if type(peername) is list and len(peername) >= 2:
        host, port = peername[0], peername[1]
        peername = (host, port) if type(host) is str and type(port) is int else address_key(peername)
    elif type(peername) is not str:
        peername = address_key(peername)
    return sockname, peername


def address_text(address: Any) -> str:
    """``format_address`` of an address as recorded or as an ``address_key`` (a (host, port) tuple reads
    like the list it came from); an absent one reads ``None``."""
    if address is None:
        return "None"
    return format_address(list(address) if type(address) is tuple else address)

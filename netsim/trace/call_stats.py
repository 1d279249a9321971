"""Figures of socket programs' calls, from their byte pairs (``netsim.trace.byte_ranges``): one-way latency
per direction, bytes paired, bytes and datagrams that did not arrive, for ``trace stats`` and the report.

A latency is one per pair: a receive that took the bytes of three sends gives three (each from the moment
its send began), a send read by three receives gives three too. Directions are ``sender -> receiver`` by
node name, whatever ``peer`` says; a pair whose events are both a node's own (a node talking to itself) is
counted like any other. Memory: the pairer's open ranges, and 8 bytes per pair for the percentiles.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from netsim.trace.byte_ranges import STREAM_TRANSPORTS, BytePair, BytePairer, Unreceived
from netsim.trace.traffic import DIRECTION_SEPARATOR


@dataclass(slots=True)
class CallDirection:
    """What crossed from one node to another in its programs' calls, and how long it took."""

    source: str
    destination: str
    pairs: int = 0
    bytes_paired: int = 0
    datagrams: int = 0
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))

    @property
    def key(self) -> str:
        return f"{self.source}{DIRECTION_SEPARATOR}{self.destination}"


class CallPairCounter:
    """Fed the events of a trace in order (``add``; it looks at ``call`` and ``drop`` events only), then
    ``finish``-ed: what the pairs of the programs' calls say (``netsim.trace.stats`` makes the figures)."""

    def __init__(self) -> None:
        self.pairer = BytePairer()
        self.calls = 0
        self.directions: dict[tuple[str, str], CallDirection] = {}
        self.overall = array("q")
        self.stream_pairs = self.datagram_pairs = 0
        self.bytes_paired = 0
        self.bytes_unreceived = self.bytes_unsent = 0
        self.datagrams_lost = self.datagrams_dropped = self.datagrams_unsent = 0
        # Outcomes of ``finish`` are counted once.
        self._finished = False

    def add(self, record: dict[str, Any]) -> None:
        if record["event"] == "call":
            self.calls += 1
        settled = self.pairer.add(record)
        if settled:
            self._count(settled)

    def _count(self, outcomes: Any) -> None:
        for outcome in outcomes:
            if isinstance(outcome, BytePair):
                pair_key = (outcome.send["node"], outcome.receive["node"])
                direction = self.directions.get(pair_key)
                if direction is None:
                    direction = self.directions[pair_key] = CallDirection(*pair_key)
                latency = outcome.latency_ns
                direction.pairs += 1
                direction.bytes_paired += outcome.nbytes
                direction.latencies_ns.append(latency)
                self.overall.append(latency)
                self.bytes_paired += outcome.nbytes
                if outcome.datagram:
                    direction.datagrams += 1
                    self.datagram_pairs += 1
                else:
                    self.stream_pairs += 1
            elif isinstance(outcome, Unreceived):
                if outcome.fate == "not received":
                    self.bytes_unreceived += outcome.nbytes
                elif outcome.fate == "dropped":
                    self.datagrams_dropped += 1
                else:
                    self.datagrams_lost += 1
            else:
                self.bytes_unsent += outcome.nbytes
                if outcome.receive.get("transport") not in STREAM_TRANSPORTS:
                    self.datagrams_unsent += 1

    def finish(self) -> None:
        """Settle what is still open: the trace has ended."""
        if not self._finished:
            self._finished = True
            self._count(self.pairer.finish())

"""Conditions for every link of a topology, from edge attributes and the run's defaults."""

from __future__ import annotations

from typing import Any

from netsim.errors import ConditionError, TopologyError
from netsim.shaping.conditions import Conditions, link_conditions
from netsim.topology.model import Topology
from netsim.vocabulary import TRANSPORT_TRAITS

# (a, b) -> (a->b conditions, b->a conditions), for the links whose conditions are not all default.
LinkConditionsMap = dict[tuple[str, str], tuple[Conditions, Conditions]]


def topology_conditions(
    topology: Topology, defaults: dict[str, Any], default_transport: str
) -> LinkConditionsMap:
    """Every shaped link's conditions; raises TopologyError naming the edge and the attribute at fault."""
    attrs_of = {node.name: node.attrs for node in topology.nodes}
    shaped: LinkConditionsMap = {}
    for link in topology.links:
        traits = TRANSPORT_TRAITS[link.transport or default_transport]
        try:
            forward, backward = link_conditions(
                link.attrs,
                defaults,
                datagram=not traits.connected,
                a_attrs=attrs_of[link.a],
                b_attrs=attrs_of[link.b],
            )
        except ConditionError as error:
            raise TopologyError(
                topology.source,
                f"edge {link.a} -> {link.b}",
                str(error),
                hint="see 'Link conditions' in the README for the accepted values",
            ) from None
        if forward.shaped or backward.shaped:
            shaped[(link.a, link.b)] = (forward, backward)
    return shaped


def link_condition_rows(shaped: LinkConditionsMap) -> list[dict[str, Any]]:
    """One JSON-ready row per shaped link: its ends and each direction's conditions (``topo show``)."""
    return [
        {"a": a, "b": b, "a_to_b": forward.to_dict(), "b_to_a": backward.to_dict()}
        for (a, b), (forward, backward) in shaped.items()
    ]

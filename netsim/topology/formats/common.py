"""What every format parser returns, and the helpers that turn a reader's complaint into a located error."""

from __future__ import annotations

import re
import sys
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from netsim.errors import TopologyError
from netsim.topology.parse import NodeNames

EdgeOrder = list[tuple[Hashable, Hashable]]


@dataclass(frozen=True, slots=True)
class ParsedGraph:
    """What a parser found: the graph, the edges in file order, and what a netsim file restores.

    ``edge_order`` and ``node_names`` are what :func:`netsim.topology.parse.from_graph` takes;
    ``restored`` holds the ``name``, ``source`` and ``warnings`` of netsim's own node-link files.
    """

    graph: nx.Graph
    edge_order: EdgeOrder | None = None
    node_names: NodeNames = "label"
    restored: dict[str, Any] = field(default_factory=dict)


def find_overlong_integer(text: str) -> tuple[int, int] | None:
    """(line, digits) of the first run of digits longer than ``int()`` converts, or None.

    Python refuses to convert more than ``sys.get_int_max_str_digits()`` digits (4,300 by default),
    so a JSON or YAML reader raises a bare ValueError on such a number; this finds it for the error.
    """
    limit = sys.get_int_max_str_digits()
    match = re.search(rf"[0-9]{{{limit + 1},}}", text) if limit else None
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1, len(match[0])


def one_line(text: str) -> str:
    return " ".join(text.split())


def line_content(line: str) -> str:
    """A line of an edge or adjacency list without its comment, as networkx's readers see it."""
    # networkx's readers cut comments at the first "#" and split on whitespace.
    return line.split("#", 1)[0].strip()


def reader_failed(source: str, file_format: str, error: BaseException) -> TopologyError:
    """Any error a networkx reader raises, as a TopologyError with its line when it gives one."""
    message = one_line(str(error)) or type(error).__name__
    # int()'s own wording ends in advice about sys.set_int_max_str_digits(), which is not the fix here.
    message = re.sub(r"Exceeds the limit \((\d+) digits\) .*", r"a number longer than \1 digits", message)
    element = None
    position = re.search(r"\s*at \((\d+), (\d+)\)", message)
    if position:
        element = f"line {position[1]}"
        message = (message[: position.start()] + message[position.end() :]).strip()
    return TopologyError(
        source,
        element,
        f"not a valid {file_format} file: {message}",
        hint=f"check the {file_format} there, and that the file's extension matches its format",
    )

"""Generator specs (``ring:8``, ``grid:4x4``, ``random:50:0.1``, ...) and the graphs they stand for.

A spec is ``KIND:ARGS``; :func:`parse_generator_spec` splits it and :func:`generate_graph` builds a
plain undirected :class:`networkx.Graph` whose nodes are ``n0``, ``n1``, ... in index order.

Every count is checked against ``MAX_GENERATED_NODES`` and ``MAX_GENERATED_LINKS`` before anything
is built or multiplied out, so ``ring:99999999999999999999`` or ``tree:2x99999999999`` is refused at
once. A seed (``random:N:P``, and a run's ``--seed``) is a 64-bit signed integer, ``SEED_MIN`` to
``SEED_MAX``: a run writes it into its trace header as a JSON integer that readers take as int64.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from netsim.errors import OptionError, TopologyError

if TYPE_CHECKING:
    import networkx as nx

# Generated topologies are meant to be run, one OS process per node: these caps stop a typo such as
# ``complete:100000`` from eating the machine's memory before the run even starts.
MAX_GENERATED_NODES = 100_000
MAX_GENERATED_LINKS = 1_000_000
_NODES_CAP = f"{MAX_GENERATED_NODES} nodes"
SEED_MIN = -(2**63)
SEED_MAX = 2**63 - 1

GENERATOR_FORMS: dict[str, str] = {
    "ring": "ring:N (N >= 3 nodes in a cycle)",
    "grid": "grid:RxC (R rows by C columns, R*C >= 2)",
    "star": "star:N (N >= 2 nodes in all: one hub n0 and N-1 leaves)",
    "line": "line:N (N >= 2 nodes in a path)",
    "tree": "tree:BxH (balanced tree, branching B >= 1, height H >= 1)",
    "complete": "complete:N (N >= 2 nodes, every pair linked)",
    "random": "random:N:P (G(n,p): N >= 2 nodes, each pair linked with probability 0 <= P <= 1)",
}
GENERATOR_KINDS: tuple[str, ...] = tuple(GENERATOR_FORMS)

_SPEC_PATTERN = re.compile(r"^(?P<kind>[a-z]+):(?P<args>.+)$")


def accepted_forms() -> str:
    """The accepted generator forms, one per line, for hints and ``--help``."""
    return "; ".join(GENERATOR_FORMS.values())


def parse_generator_spec(spec: str) -> tuple[str, list[str]]:
    """Split ``"random:50:0.1"`` into ``("random", ["50", "0.1"])``.

    Raises TopologyError when ``spec`` is not ``KIND:ARGS`` with a known KIND. The arguments are only
    split here; :func:`generate_graph` checks them.
    """
    match = _SPEC_PATTERN.match(spec.strip())
    if match is None:
        raise TopologyError(
            spec,
            None,
            "not a generator spec (expected KIND:ARGS)",
            hint=f"accepted forms: {accepted_forms()}",
        )
    kind = match["kind"]
    if kind not in GENERATOR_FORMS:
        raise TopologyError(
            spec,
            None,
            f"unknown generator kind {kind!r} (known kinds: {', '.join(GENERATOR_KINDS)})",
            hint=f"accepted forms: {accepted_forms()}",
        )
    return kind, match["args"].split(":")


def check_seed(seed: object) -> None:
    """Raise OptionError unless ``seed`` is an int from SEED_MIN to SEED_MAX."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_MIN <= seed <= SEED_MAX:
        if isinstance(seed, int) and abs(seed) >= 10**30:
            # str() of an int past 4,300 digits raises: the bit length says enough.
            shown = f"a number of about {int(seed.bit_length() * math.log10(2)) + 1} digits"
        else:
            shown = repr(seed)
        raise OptionError(
            f"--seed must be a whole number from {SEED_MIN} to {SEED_MAX} (a 64-bit integer), got {shown}",
            hint="seeds are written to the trace as 64-bit integers; any value in that range will do",
        )


def is_generator_spec(spec: str) -> bool:
    """True when ``spec`` has the shape ``KIND:ARGS`` with a known KIND (its arguments may still be bad)."""
    match = _SPEC_PATTERN.match(spec.strip())
    return match is not None and match["kind"] in GENERATOR_FORMS


def canonical_spec(kind: str, args: Sequence[str] | str) -> str:
    """``("grid", ["4", "4"])`` -> ``"grid:4x4"``: the name a generated topology gets."""
    values = _split_args(args)
    if kind in ("grid", "tree"):
        return f"{kind}:{'x'.join(_flatten_dimensions(values))}"
    return f"{kind}:{':'.join(values)}"


def generate_graph(kind: str, args: list[str] | str, seed: int | None = None) -> nx.Graph:
    """Build the graph for one generator kind.

    ``args`` is the list after the kind (``["4x4"]``, ``["50", "0.1"]``) or the same joined by ``:``;
    ``grid`` and ``tree`` also take their two dimensions as two arguments (``["4", "4"]``). ``seed``
    only matters for ``random``. Nodes are ``n0``, ``n1``, ... in index order (row-major for ``grid``,
    whose nodes also carry ``row`` and ``col``); the graph attribute ``name`` is the canonical spec.
    """
    if seed is not None:
        check_seed(seed)
    values = _split_args(args)
    spec = f"{kind}:{':'.join(values)}"
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise TopologyError(
            spec,
            None,
            f"unknown generator kind {kind!r} (known kinds: {', '.join(GENERATOR_KINDS)})",
            hint=f"accepted forms: {accepted_forms()}",
        )
    graph = builder(spec, values, seed)
    graph.graph["name"] = canonical_spec(kind, values)
    if kind == "random" and seed is not None:
        graph.graph["seed"] = seed
    return graph


def _split_args(args: Sequence[str] | str) -> list[str]:
    if isinstance(args, str):
        return [part.strip() for part in args.split(":")]
    return [part.strip() for arg in args for part in str(arg).split(":")]


def _flatten_dimensions(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.lower().split("x")]


def _bad_args(spec: str, kind: str, problem: str) -> TopologyError:
    return TopologyError(spec, None, problem, hint=f"use {GENERATOR_FORMS[kind]}, e.g. {_EXAMPLES[kind]}")


_EXAMPLES = {
    "ring": "ring:8",
    "grid": "grid:4x4",
    "star": "star:10",
    "line": "line:5",
    "tree": "tree:2x3",
    "complete": "complete:6",
    "random": "random:50:0.1",
}


def _integer(spec: str, kind: str, what: str, text: str, minimum: int) -> int:
    digits = text.strip()
    # Refused before int() is called: a count that long would only be refused later, and past
    # 4,300 digits int() raises an error of its own.
    if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) > len(str(MAX_GENERATED_NODES)):
        raise _bad_args(
            spec, kind, f"{what} has {len(digits)} digits: more than netsim generates ({_NODES_CAP})"
        )
    try:
        value = int(text)
    except ValueError:
        raise _bad_args(spec, kind, f"{what} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise _bad_args(spec, kind, f"{what} must be at least {minimum}, got {value}")
    if value > MAX_GENERATED_NODES:
        raise _bad_args(spec, kind, f"{what} {value} is more than netsim generates ({_NODES_CAP})")
    return value


def _one_count(spec: str, kind: str, values: list[str], minimum: int) -> int:
    if len(values) != 1:
        raise _bad_args(spec, kind, f"{kind} takes one argument (the node count), got {len(values)}")
    return _integer(spec, kind, "the node count", values[0], minimum)


def _two_dimensions(spec: str, kind: str, values: list[str], names: tuple[str, str]) -> tuple[int, int]:
    parts = _flatten_dimensions(values)
    if len(parts) != 2:
        raise _bad_args(spec, kind, f"{kind} takes two dimensions written AxB, got {':'.join(values)!r}")
    return _integer(spec, kind, names[0], parts[0], 1), _integer(spec, kind, names[1], parts[1], 1)


def _check_size(spec: str, kind: str, nodes: int, links: float) -> None:
    if nodes > MAX_GENERATED_NODES:
        raise _bad_args(spec, kind, f"{nodes} nodes is more than netsim generates ({MAX_GENERATED_NODES})")
    if links > MAX_GENERATED_LINKS:
        raise _bad_args(
            spec, kind, f"about {int(links)} links is more than netsim generates ({MAX_GENERATED_LINKS})"
        )


def _numbered(count: int, edges: list[tuple[int, int]]) -> nx.Graph:
    import networkx as nx  # here: parsing a spec, its forms and the seed checks need no networkx

    graph = nx.Graph()
    graph.add_nodes_from(f"n{index}" for index in range(count))
    graph.add_edges_from((f"n{u}", f"n{v}") for u, v in edges)
    return graph


def _ring(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    count = _one_count(spec, "ring", values, 3)
    _check_size(spec, "ring", count, count)
    return _numbered(count, [(index, (index + 1) % count) for index in range(count)])


def _line(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    count = _one_count(spec, "line", values, 2)
    _check_size(spec, "line", count, count - 1)
    return _numbered(count, [(index, index + 1) for index in range(count - 1)])


def _star(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    count = _one_count(spec, "star", values, 2)
    _check_size(spec, "star", count, count - 1)
    return _numbered(count, [(0, leaf) for leaf in range(1, count)])


def _complete(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    count = _one_count(spec, "complete", values, 2)
    _check_size(spec, "complete", count, count * (count - 1) / 2)
    return _numbered(count, [(u, v) for u in range(count) for v in range(u + 1, count)])


def _grid(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    rows, cols = _two_dimensions(spec, "grid", values, ("the row count", "the column count"))
    if rows * cols < 2:
        raise _bad_args(spec, "grid", f"a {rows}x{cols} grid has a single node; use at least 2 nodes")
    _check_size(spec, "grid", rows * cols, 2 * rows * cols)
    edges: list[tuple[int, int]] = []
    for row in range(rows):
        for col in range(cols):
            index = row * cols + col
            if col + 1 < cols:
                edges.append((index, index + 1))
            if row + 1 < rows:
                edges.append((index, index + cols))
    graph = _numbered(rows * cols, edges)
    for index in range(rows * cols):
        graph.nodes[f"n{index}"].update(row=index // cols, col=index % cols)
    return graph


def _tree(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    branching, height = _two_dimensions(spec, "tree", values, ("the branching factor", "the height"))
    # Level by level, stopping past the cap: branching**height is never computed for a huge tree.
    count, level = 1, 1
    for _ in range(height):
        level *= branching
        count += level
        if count > MAX_GENERATED_NODES:
            raise _bad_args(
                spec, "tree", f"a {branching}x{height} tree is more than netsim generates ({_NODES_CAP})"
            )
    _check_size(spec, "tree", count, count - 1)
    # Breadth-first numbering: node i's children are i*B+1 .. i*B+B, as in networkx.balanced_tree.
    return _numbered(count, [((child - 1) // branching, child) for child in range(1, count)])


# From this many nodes random:N:P draws with networkx's fast_gnp_random_graph, in time linear in the
# links rather than in the pairs of nodes.
FAST_RANDOM_FROM_NODES = 10_000


def _random(spec: str, values: list[str], seed: int | None) -> nx.Graph:
    if len(values) != 2:
        raise _bad_args(spec, "random", f"random takes two arguments N:P, got {len(values)}")
    count = _integer(spec, "random", "the node count", values[0], 2)
    try:
        probability = float(values[1])
    except ValueError:
        raise _bad_args(spec, "random", f"the link probability must be a number, got {values[1]!r}") from None
    if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
        raise _bad_args(spec, "random", f"the link probability must be between 0 and 1, got {values[1]}")
    _check_size(spec, "random", count, probability * count * (count - 1) / 2)
    import networkx as nx

    # The same G(n, p) either way; gnp_random_graph tries every pair (a minute at 100,000 nodes), the
    # fast one only the links it makes. Below the threshold a seed keeps giving the graph it always gave.
    generate = nx.fast_gnp_random_graph if count >= FAST_RANDOM_FROM_NODES else nx.gnp_random_graph
    generated = generate(count, probability, seed=seed)
    return _numbered(count, sorted((min(u, v), max(u, v)) for u, v in generated.edges()))


_BUILDERS: dict[str, Callable[[str, list[str], int | None], nx.Graph]] = {
    "ring": _ring,
    "grid": _grid,
    "star": _star,
    "line": _line,
    "tree": _tree,
    "complete": _complete,
    "random": _random,
}

"""Topology files and generator specs in, :class:`Topology` out.

This module reads: it turns a path into bytes and text, and a generator spec into a graph. File-system
and encoding errors (``OSError``, a directory, an unknown extension, binary data, ``UnicodeDecodeError``)
become :class:`TopologyError` here, each naming the file and a fix. The format, picked by extension, is
parsed by its pure parser in ``netsim.topology.formats``, which turns its reader's errors into
located ones; each returns the networkx graph plus the edges' order in the file, which an undirected
networkx graph does not keep.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsim.errors import TopologyError
from netsim.topology.generate import (
    GENERATOR_KINDS,
    accepted_forms,
    check_seed,
    generate_graph,
    is_generator_spec,
    parse_generator_spec,
)
from netsim.topology.model import Topology
from netsim.topology.parse import from_graph, from_networkx

if TYPE_CHECKING:
    import networkx as nx

    from netsim.topology.formats import ParsedGraph

# Extension -> format. Extensions are matched case-insensitively.
EXTENSION_FORMATS: dict[str, str] = {
    ".gml": "gml",
    ".graphml": "graphml",
    ".xml": "graphml",
    ".json": "json",
    ".edgelist": "edgelist",
    ".edges": "edgelist",
    ".adjlist": "adjlist",
}
ACCEPTED_EXTENSIONS: tuple[str, ...] = tuple(EXTENSION_FORMATS)

_BINARY_PROBE_BYTES = 8192
_EXTENSIONS_HINT = f"accepted extensions: {', '.join(ACCEPTED_EXTENSIONS)}"


def load_topology(spec: str | os.PathLike[str] | nx.Graph, *, seed: int | None = None) -> Topology:
    """Load a topology file, build the topology a generator spec (``ring:8``) stands for, or convert a
    networkx graph (``from_networkx``).

    A string ``KIND:ARGS`` with a known KIND is a generator spec unless a file of that name exists;
    any other string or path is a file. ``seed`` makes ``random:N:P`` reproducible. Raises
    TopologyError, or OptionError for a seed outside 64 bits (``check_seed``).
    """
    if seed is not None:
        check_seed(seed)
    if not isinstance(spec, (str, bytes, os.PathLike)):
        return from_networkx(spec)
    source = os.fsdecode(spec)
    if not source.strip():
        raise TopologyError(
            repr(source), None, "no topology given", hint="pass a topology file or a spec such as ring:8"
        )
    if is_generator_spec(source) and not os.path.lexists(source):
        kind, args = parse_generator_spec(source)
        return from_graph(generate_graph(kind, args, seed), source)
    parsed = _read_file(source)
    topology = from_graph(
        parsed.graph,
        source,
        parsed.restored.get("name"),
        edge_order=parsed.edge_order,
        node_names=parsed.node_names,
    )
    if parsed.restored:
        topology = dataclasses.replace(
            topology,
            source=parsed.restored["source"],
            warnings=tuple(parsed.restored["warnings"]),
        )
    return topology


def read_graph(path: str | os.PathLike[str]) -> nx.Graph:
    """Read a topology file into a networkx graph, picking the parser by extension.

    GML nodes are keyed by their ``id`` (labels stay attributes), GraphML, edge list and adjacency
    list nodes by their string id. Raises TopologyError only.
    """
    return _read_file(os.fsdecode(path)).graph


# -- files -------------------------------------------------------------------------------------------


def _parser(file_format: str) -> Callable[[Any, str], ParsedGraph]:
    """The parser of ``file_format``: GraphML's takes the bytes, the others the text (see _read_file)."""
    # Imported here, and networkx with them: a generator spec needs no parser, and neither does the
    # CLI's help, which only names the extensions.
    from netsim.topology.formats import (
        parse_adjlist,
        parse_edgelist,
        parse_gml,
        parse_graphml,
        parse_node_link,
    )

    parsers: dict[str, Callable[[Any, str], ParsedGraph]] = {
        "gml": parse_gml,
        "graphml": parse_graphml,
        "json": parse_node_link,
        "edgelist": parse_edgelist,
        "adjlist": parse_adjlist,
    }
    return parsers[file_format]


def _read_file(source: str) -> ParsedGraph:
    path = Path(source)
    data = _read_bytes(path, source)
    file_format = EXTENSION_FORMATS[path.suffix.lower()]
    if not data.strip():
        raise TopologyError(
            source,
            None,
            "the file is empty",
            hint=f"write a {file_format} graph into it, or use a generator spec",
        )
    if file_format == "graphml":
        # XML declares its own encoding (possibly UTF-16, whose bytes include NULs): expat decodes it.
        if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            _refuse_binary(data, source)
        return _parser(file_format)(data, source)
    _refuse_binary(data, source)
    return _parser(file_format)(_decode(data, source), source)


def _read_bytes(path: Path, source: str) -> bytes:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise _missing_file(source) from None
    except PermissionError:
        raise TopologyError(
            source, None, "cannot look at the file: permission denied", hint="check the folder's permissions"
        ) from None
    except (OSError, ValueError) as error:
        raise TopologyError(source, None, f"cannot read the file: {_os_reason(error)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise TopologyError(
            source,
            None,
            "is a directory, not a topology file",
            hint=f"pass one file inside it ({_EXTENSIONS_HINT})",
        )
    if not stat.S_ISREG(info.st_mode):
        raise TopologyError(source, None, "is not a regular file", hint="pass a topology file")
    if path.suffix.lower() not in EXTENSION_FORMATS:
        shown = path.suffix or "(none)"
        raise TopologyError(
            source,
            None,
            f"unknown topology file extension {shown!r}",
            hint=f"rename the file to say its format; {_EXTENSIONS_HINT}",
        )
    try:
        return path.read_bytes()
    except PermissionError:
        raise TopologyError(
            source,
            None,
            "cannot read the file: permission denied",
            hint=f"make it readable (chmod u+r {source})",
        ) from None
    except OSError as error:
        raise TopologyError(source, None, f"cannot read the file: {_os_reason(error)}") from None


def _missing_file(source: str) -> TopologyError:
    match = re.match(r"^([a-z]+):", source)
    if match and match[1] not in GENERATOR_KINDS and "/" not in source:
        return TopologyError(
            source,
            None,
            f"no such file, and {match[1]!r} is not a generator kind "
            f"(known kinds: {', '.join(GENERATOR_KINDS)})",
            hint=f"accepted generator forms: {accepted_forms()}",
        )
    return TopologyError(
        source, None, "no such file", hint="check the path, or use a generator spec like ring:8 or grid:4x4"
    )


def _os_reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def _refuse_binary(data: bytes, source: str) -> None:
    offset = data.find(b"\x00", 0, _BINARY_PROBE_BYTES)
    if offset >= 0:
        raise TopologyError(
            source,
            None,
            f"the file holds binary data (a NUL byte at offset {offset}), not a text topology",
            hint=f"is this the right file? {_EXTENSIONS_HINT}",
        )


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TopologyError(
            source,
            f"line {line}",
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})",
            hint="save the file as UTF-8, or check that it is a topology file at all",
        ) from None

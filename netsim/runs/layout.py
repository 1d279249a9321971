"""The run directory's layout: the name of every file ``netsim run`` writes into it.

    runs/<run-id>/
      summary.json        the run's outcome (``netsim.runs.summary.RunSummary``)
      trace.jsonl         every event of every node, merged (``netsim-trace/1``)
      topology.json       the topology that ran, as node-link JSON
      nodes/              each node's log; while the run goes on, the header and each process's
                          trace part (``0.trace.jsonl``, ``0.g1.trace.jsonl`` after a restart, and
                          ``launcher.trace.jsonl`` for the faults, ``relay.trace.jsonl`` for
                          the relay to the host agents of a run over many hosts)

Plain data, below every layer that reads or writes these files.
"""

from __future__ import annotations

DEFAULT_RUNS_DIR = "runs"
SUMMARY_FILE_NAME = "summary.json"
TRACE_FILE_NAME = "trace.jsonl"
TOPOLOGY_FILE_NAME = "topology.json"
NODE_DIR_NAME = "nodes"
# A run with a workload: the clients' history parts, then the merged history and the verdict.
HISTORY_DIR_NAME = "history"
HISTORY_FILE_NAME = "history.jsonl"
RESULTS_FILE_NAME = "results.json"
# A program node's directory for state kept across restarts (NETSIM_STATE_DIR), one per node.
STATE_DIR_NAME = "state"
HEADER_PART_NAME = "header.json"
PART_SUFFIX = ".trace.jsonl"
PART_GLOB = "*" + PART_SUFFIX
LAUNCHER_PART_NAME = "launcher" + PART_SUFFIX
# A run over many hosts: what the launcher's relay to the host agents traced (connections it refused).
RELAY_PART_NAME = "relay" + PART_SUFFIX
# A run id starts with its local start time: 20261125-101500-...
RUN_ID_TIME_FORMAT = "%Y%m%d-%H%M%S"


def node_part_name(node_index: int, generation: int = 0) -> str:
    """The trace part of one process of a node: a restarted node (generation 1, 2, ...) writes anew."""
    return f"{node_index}{PART_SUFFIX}" if generation == 0 else f"{node_index}.g{generation}{PART_SUFFIX}"

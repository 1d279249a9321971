"""The launcher: plans a run, forks one process per node, rendezvous and barrier, faults, shutdown and
the finished run directory."""

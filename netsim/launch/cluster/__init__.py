"""Runs spread over many hosts: placement of nodes on hosts, the host agents, the launcher's relay to
them and the cluster engine (Ray) that starts the agents. See docs/cluster.md."""

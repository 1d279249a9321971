"""The cluster engine: a Ray cluster the user already runs. netsim connects to it, lists its hosts,
starts one host agent per host (a Ray actor pinned to the host by node affinity), and watches them.

Ray places and starts the agents and says when one dies; everything of the run itself (the fork
server's protocol, the nodes' control streams, the trace parts) goes over the agents' host links to
the launcher's relay (``netsim.launch.cluster.relay``), as JSON and counted bytes. The only values
that travel through Ray are the agents' arguments (the relay's address, the host's name and address,
the run key) and their small JSON answers.

Why not one actor per node: a Ray actor is a Ray worker process (48 MiB PSS, and ~0.5 s to start on a
2-vCPU host, by ``bench/cluster.py``), against ~3 MiB and ~0.3 ms for a node forked by the fork server.

Ray is an optional extra (``pip install "netsim-sockets[ray]"``): it is imported only here, and only
when a run asks for a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

from netsim.errors import OptionError
from netsim.launch.cluster.agent import HostAgent, host_addresses
from netsim.launch.cluster.placement import Host

INSTALL_HINT = 'install the extra: pip install "netsim-sockets[ray]"'
# How long the launcher waits for every agent to start and say where it is.
AGENT_START_TIMEOUT_S = 60.0
# A Ray client (--cluster ray://...) tries this many times, pausing 1 s, then 2 s, between tries.
CLIENT_CONNECT_ATTEMPTS = 3
CLIENT_RETRY_PAUSE_S = 1.0
# How long the agents have at the end, after the relay closed, before they are killed.
AGENT_END_TIMEOUT_S = 15.0
# How long the cluster's GCS has to accept a TCP connection before ray.init is tried: ray.init itself
# waits forever on an address where nothing answers, logging a retry every few seconds.
GCS_PROBE_TIMEOUT_S = 5.0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise OptionError("--cluster ray needs Ray, which is not installed", hint=INSTALL_HINT) from None
    return ray


def ray_address(cluster: str) -> str:
    """``--cluster`` as ``ray.init`` takes it: ``ray`` is the running cluster (``auto``), ``ray://HOST:PORT``
    a Ray client address, and ``HOST:PORT`` a cluster's GCS address."""
    if cluster in ("ray", "auto"):
        return "auto"
    if cluster.startswith("ray://") or ":" in cluster:
        return cluster
    raise OptionError(
        f"--cluster {cluster!r}: not a cluster address",
        hint="use --cluster ray (the Ray cluster this machine belongs to), ray://HOST:PORT or HOST:PORT",
    )


class _AgentActor:
    """The body of a host agent's Ray actor (``ray.remote`` wraps it when a run starts)."""

    def where(self) -> dict[str, Any]:
        import ray

        address = ray.util.get_node_ip_address()
        return {
            "address": address,
            "address6": host_addresses(address),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "niceness": os.nice(0),
        }

    def serve(
        self, relay: list[Any], run_key_hex: str, host: str, address: str, address6: str | None
    ) -> dict[str, Any]:
        _raise_open_files()
        agent = HostAgent((relay[0], int(relay[1])), bytes.fromhex(run_key_hex), host, address, address6)
        return agent.serve()


class RayCluster:
    """One run's use of a Ray cluster: connected at ``connect``, let go at ``close``."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.ray = import_ray()
        self.actors: list[Any] = []
        self.serving: dict[Any, str] = {}
        self.hosts: list[Host] = []
        self._watcher: threading.Thread | None = None
        self._connected_here = False

    def connect(self) -> None:
        ray = self.ray
        address = ray_address(self.cluster)
        if ray.is_initialized():
            return
        if not address.startswith("ray://"):
            self._probe_gcs(address)
        for attempt in range(1, CLIENT_CONNECT_ATTEMPTS + 1):
            try:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
                break
            except ConnectionAbortedError as error:
                # A Ray client's head starts a server process for each client; on a busy head that
                # start can fail ("Initialization failure from server"), and the next one succeed.
                with contextlib.suppress(Exception):
                    ray.shutdown()
                if attempt == CLIENT_CONNECT_ATTEMPTS or not self.cluster.startswith("ray://"):
                    raise self._cannot_connect(error, attempt) from None
                time.sleep(CLIENT_RETRY_PAUSE_S * attempt)
            except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
                raise self._cannot_connect(error, attempt) from None
        self._connected_here = True
        _cluster_messages_to_stderr()

    def _probe_gcs(self, address: str) -> None:
        """Refuse, in one line, a GCS address where nothing accepts a connection."""
        services = getattr(getattr(self.ray, "_private", None), "services", None)
        canonicalize = getattr(services, "canonicalize_bootstrap_address", None)
        if canonicalize is None:
            return  # a Ray without it: ray.init says what it says
        try:
            gcs = canonicalize(address)
        except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, ValueError...
            raise self._cannot_connect(error, 1) from None
        if gcs is None:
            raise OptionError(
                f"--cluster {self.cluster}: no running Ray cluster on this machine",
                hint="start one (ray start --head) or give its address (--cluster HOST:PORT)",
            )
        host, _, port = gcs.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=GCS_PROBE_TIMEOUT_S).close()
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            # Ray reads "auto" from this machine's running cluster, and names a loopback host by its IP.
            where = gcs if gcs == address else f"{address} ({gcs})"
            raise OptionError(
                f"--cluster {self.cluster}: nothing answers at the Ray cluster's address {where}: {reason}",
                hint="start one (ray start --head) or give its address (--cluster HOST:PORT)",
            ) from None

    def _cannot_connect(self, error: Exception, attempts: int) -> OptionError:
        tried = f" ({attempts} attempts)" if attempts > 1 else ""
        return OptionError(
            f"--cluster {self.cluster}: cannot connect to the Ray cluster{tried}: {_first_line(error)}",
            hint="start one (ray start --head) or give its address (--cluster HOST:PORT)",
        )

    def launcher_address(self) -> str:
        """The address the agents reach the launcher's relay on: this machine's cluster address."""
        if self.cluster.startswith("ray://"):
            # A Ray client is not a node of the cluster: the address that routes to its head.
            head = self.cluster[len("ray://") :].rpartition(":")[0]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((head, 9))
                return str(probe.getsockname()[0])
        return str(self.ray.util.get_node_ip_address())

    def start_agents(self) -> list[Host]:
        """One agent per alive host, this machine's first (h0); the hosts as the placement sees them."""
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        alive = [node for node in ray.nodes() if node.get("Alive")]
        with_cpus = [node for node in alive if node.get("Resources", {}).get("CPU", 0) > 0] or alive
        here = self.launcher_address()
        with_cpus.sort(key=lambda node: (node["NodeManagerAddress"] != here, node["NodeManagerAddress"]))
        # Ray runs its workers at niceness 15, and a node inherits its agent's: the nodes would yield
        # to every other process of their host. They run at the launcher's niceness, as on one host.
        runtime_env = {"env_vars": {"RAY_worker_niceness": str(os.nice(0))}}
        actor_class = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=2)(_AgentActor)
        for node in with_cpus:
            strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            options = actor_class.options(scheduling_strategy=strategy, runtime_env=runtime_env)
            self.actors.append(options.remote())
        try:
            places = ray.get([actor.where.remote() for actor in self.actors], timeout=AGENT_START_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - GetTimeoutError, RayActorError...
            self.close()
            raise OptionError(
                f"--cluster {self.cluster}: the host agents did not start: {_first_line(error)}",
                hint="check that netsim is installed on every host of the cluster (ray status)",
            ) from None
        self.hosts = [
            Host(
                name=f"h{index}",
                address=place["address"],
                cpus=float(node.get("Resources", {}).get("CPU", 0) or 1),
                address6=place["address6"],
                node_id=node["NodeID"],
            )
            for index, (node, place) in enumerate(zip(with_cpus, places, strict=True))
        ]
        return self.hosts

    def serve(self, relay_address: tuple[str, int], run_key: bytes, on_lost: Any) -> None:
        """Have every agent join the run at ``relay_address``; ``on_lost(host, reason)`` when one dies."""
        for actor, host in zip(self.actors, self.hosts, strict=True):
            ref = actor.serve.remote(
                list(relay_address), run_key.hex(), host.name, host.address, host.address6
            )
            self.serving[ref] = host.name
        self._watcher = threading.Thread(
            target=self._watch, args=(on_lost,), name="netsim-ray-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self, on_lost: Any) -> None:
        ray = self.ray
        waiting = list(self.serving)
        while waiting:
            try:
                done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
            except Exception:  # noqa: BLE001 - Ray shut down under us: nothing left to watch
                return
            for ref in done:
                try:
                    ray.get(ref)
                except Exception as error:  # noqa: BLE001 - the actor, its worker or its host died
                    on_lost(self.serving[ref], f"its agent died ({_first_line(error)})")

    def close(self) -> None:
        """Wait a moment for the agents to finish, then end them; disconnect if this run connected."""
        ray = self.ray
        if self.serving:
            with contextlib.suppress(Exception):
                ray.wait(list(self.serving), num_returns=len(self.serving), timeout=AGENT_END_TIMEOUT_S)
        for actor in self.actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self.actors.clear()
        if self._connected_here:
            with contextlib.suppress(Exception):
                ray.shutdown()
            self._connected_here = False


def _cluster_messages_to_stderr() -> None:
    """Ray prints what its cluster reports to the driver (a worker that died, ...) on stdout, where
    ``netsim run --json`` writes the summary: send it to stderr instead. Ray has no option for this;
    without the private function it patches (another Ray version), its messages stay where they were."""
    with contextlib.suppress(ImportError, AttributeError):
        from ray._private import worker

        original = worker.print_to_stdstream
        if getattr(original, "netsim_to_stderr", False):
            return

        def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
            original({**data, "is_err": True}, ignore_prefix)

        to_stderr.netsim_to_stderr = True  # type: ignore[attr-defined]
        worker.print_to_stdstream = to_stderr


def _raise_open_files() -> None:
    """The agent's nodes take its soft limit on open files: as high as the host allows."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__

"""What ``--cluster`` refuses before anything starts: one line each, exit code 2, no traceback."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HAS_RAY = importlib.util.find_spec("ray") is not None


def _netsim(
    *args: str, without_ray: bool = False, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # sys.modules["ray"] = None makes "import ray" fail as it does where the extra is not installed.
    block = "sys.modules['ray'] = None; " if without_ray else ""
    script = (
        f"import sys; {block}sys.argv = ['netsim', *sys.argv[1:]]; from netsim.cli.main import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_without_ray_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    text = _one_line_error(
        _netsim("run", "ring:4", "--cluster", "ray", "--out", str(tmp_path), without_ray=True)
    )
    assert "--cluster ray needs Ray, which is not installed" in text
    assert 'pip install "netsim-sockets[ray]"' in text
    assert not list(tmp_path.iterdir())  # no run directory


def test_topo_show_without_ray_says_the_same() -> None:
    text = _one_line_error(_netsim("topo", "show", "ring:4", "--cluster", "ray", without_ray=True))
    assert 'pip install "netsim-sockets[ray]"' in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--cluster", "ray", "--placement", "random"), "unknown --placement 'random'"),
        (("--cluster", "somewhere"), "--cluster 'somewhere': not a cluster address"),
    ],
)
def test_bad_cluster_options(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    text = _one_line_error(_netsim("run", "ring:4", *args, "--out", str(tmp_path), without_ray=True))
    assert expected in text


@pytest.mark.skipif(not HAS_RAY, reason="the ray extra is not installed")
def test_an_address_where_no_cluster_answers_is_refused_at_once(tmp_path: Path) -> None:
    # A port nothing listens on: ray.init alone would wait there forever, logging retries.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = _one_line_error(_netsim("run", "ring:4", "--cluster", f"127.0.0.1:{port}", "--out", str(tmp_path)))
    assert f"--cluster 127.0.0.1:{port}: nothing answers at the Ray cluster's address" in text
    assert "Connection refused" in text
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not HAS_RAY, reason="the ray extra is not installed")
def test_socket_programs_stay_on_one_host(tmp_path: Path) -> None:
    program = REPO / "examples" / "tutorial_tcp.py"
    text = _one_line_error(
        _netsim(
            "run",
            str(REPO / "examples" / "client_server.gml"),
            "--app",
            f"{program}:main",
            "--cluster",
            "127.0.0.1:1",
            "--out",
            str(tmp_path),
        )  # fmt: skip
    )
    assert "socket programs (def main(net)) run on one host" in text


def test_a_run_on_one_host_does_not_import_ray() -> None:
    """Ray loads only where a run asks for a cluster (netsim run's start-up pays nothing for it)."""
    script = (
        "import sys, netsim.cli.main, netsim.cli.run, netsim.launch.run, netsim.cli.topo; "
        "print(sorted(name for name in sys.modules if name == 'ray' or name.startswith('ray.')))"
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_the_launchers_limits_over_hosts_count_the_relay_not_the_nodes() -> None:
    from netsim.launch.cluster.launch import launcher_needs_over_hosts
    from netsim.launch.limits import run_needs
    from netsim.topology import load_topology

    alone = run_needs(load_topology("ring:100"), "tcp", inherited_fds=10)
    over_hosts = launcher_needs_over_hosts(alone, hosts=3)
    assert over_hosts.launcher_fds == alone.launcher_fds + 100 + 3
    assert over_hosts.processes == 0 and over_hosts.busiest_node_fds == 0 and over_hosts.fork_server_fds == 0
    assert over_hosts.open_files == over_hosts.launcher_fds


class _FlakyClientHead:
    """Stands in for the ``ray`` module at ``RayCluster.connect``: its ``init`` fails as a busy head's
    client server does (``ConnectionAbortedError``) a number of times, then connects."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inits = self.shutdowns = 0
        self.connected = False

    def is_initialized(self) -> bool:
        return self.connected

    def init(self, **kwargs: object) -> None:
        self.inits += 1
        if self.inits <= self.failures:
            raise ConnectionAbortedError("Initialization failure from server:\n")
        self.connected = True

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.mark.skipif(not HAS_RAY, reason="the ray extra is not installed")
@pytest.mark.parametrize(
    ("cluster", "failures", "inits", "connects"),
    [
        ("ray://10.0.0.1:10001", 2, 3, True),
        ("ray://10.0.0.1:10001", 3, 3, False),
        ("10.0.0.1:6379", 1, 1, False),  # not a client: its failure is not the client server's
    ],
)
def test_a_ray_client_tries_again_when_the_heads_server_fails_to_start(
    monkeypatch: pytest.MonkeyPatch, cluster: str, failures: int, inits: int, connects: bool
) -> None:
    from netsim.errors import OptionError
    from netsim.launch.cluster import ray_cluster

    monkeypatch.setattr(ray_cluster, "CLIENT_RETRY_PAUSE_S", 0.0)
    monkeypatch.setattr(ray_cluster, "_cluster_messages_to_stderr", lambda: None)
    ray = _FlakyClientHead(failures)
    run = ray_cluster.RayCluster(cluster)
    run.ray = ray
    if connects:
        run.connect()
        assert ray.connected
    else:
        with pytest.raises(OptionError, match="cannot connect to the Ray cluster") as raised:
            run.connect()
        assert ("attempts" in str(raised.value)) == (inits > 1)
    assert (ray.inits, ray.shutdowns) == (inits, min(failures, inits))

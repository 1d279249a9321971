"""A real multi-host Ray cluster on one machine: each host a Linux network namespace of its own, with its
own private addresses (10.231.X.k/24 and fd31:X::k/64), joined through a bridge in a hub namespace.

The namespaces, links and Ray processes are the test's own: made here and always removed (every
process of a namespace is killed, then the namespace deleted). Where namespaces cannot be made (no
root, no iproute2), ``NetnsCluster.unavailable()`` says why, and the tests skip with that reason.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RAY_PORT = 6379
_made = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


class NetnsCluster:
    def __init__(self, hosts: int = 2, cpus: int = 1) -> None:
        # Short names, unique on the machine: interface names are 15 bytes at most.
        number = next(_made)
        tag = f"{os.getpid() % 100000}{'abcdefghij'[number % 10]}"
        self.subnet = 1 + (os.getpid() + 37 * number) % 250
        self.hub = f"nsh{tag}"
        self.names = [f"ns{tag}h{k}" for k in range(hosts)]
        self.addresses = [f"10.231.{self.subnet}.{k + 1}" for k in range(hosts)]
        self.addresses6 = [f"fd31:{self.subnet:x}::{k + 1}" for k in range(hosts)]
        self.cpus = cpus
        self.ray = str(Path(sys.executable).with_name("ray"))
        self.tmp_dirs = [f"/tmp/nsr{tag}h{k}" for k in range(hosts)]
        self.made: list[str] = []

    @staticmethod
    def unavailable() -> str | None:
        """Why this machine cannot make the cluster, or None."""
        if shutil.which("ip") is None:
            return "iproute2's ip command is not installed"
        if os.geteuid() != 0:
            return "making network namespaces takes root"
        probe = f"nsprobe{os.getpid() % 100000}"
        made = _ip("netns", "add", probe, check=False)
        if made.returncode != 0:
            return f"ip netns add failed: {made.stderr.strip()}"
        _ip("netns", "del", probe, check=False)
        return None

    @property
    def head(self) -> str:
        return f"{self.addresses[0]}:{RAY_PORT}"

    def start(self) -> None:
        try:
            self.make_network()
            self._start_ray()
        except BaseException:
            self.close()
            raise

    def make_network(self) -> None:
        _ip("netns", "add", self.hub)
        self.made.append(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for k, name in enumerate(self.names):
            _ip("netns", "add", name)
            self.made.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
            outside, inside = f"vh{k}", "eth0"
            _ip("-n", self.hub, "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", name)
            _ip("-n", self.hub, "link", "set", outside, "master", "br0")
            _ip("-n", self.hub, "link", "set", outside, "up")
            _ip("-n", name, "addr", "add", f"{self.addresses[k]}/24", "dev", inside)
            # nodad: the address is usable at once, not after duplicate address detection.
            _ip("-n", name, "addr", "add", f"{self.addresses6[k]}/64", "dev", inside, "nodad")
            _ip("-n", name, "link", "set", inside, "up")

    def _start_ray(self) -> None:
        for k, name in enumerate(self.names):
            os.makedirs(self.tmp_dirs[k], exist_ok=True)
            role = (
                ["--head", f"--port={RAY_PORT}", "--include-dashboard=false"]
                if k == 0
                else [f"--address={self.head}"]
            )
            command = [
                *self.exec_in(k),
                self.ray,
                "start",
                *role,
                f"--node-ip-address={self.addresses[k]}",
                f"--num-cpus={self.cpus}",
                "--disable-usage-stats",
            ]
            started = subprocess.run(
                command, capture_output=True, text=True, timeout=120, env=self.env(k), check=False
            )
            if started.returncode != 0:
                raise RuntimeError(f"ray start on {name} failed:\n{started.stdout}\n{started.stderr}")
        self._wait_for_hosts()

    def _wait_for_hosts(self, timeout_s: float = 60.0) -> None:
        script = (
            "import ray,sys; ray.init(sys.argv[1], logging_level='ERROR'); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = subprocess.run(
                [*self.exec_in(0), sys.executable, "-c", script, self.head],
                capture_output=True,
                text=True,
                timeout=60,
                env=self.env(0),
                check=False,
            )
            if answer.stdout.strip() == str(len(self.names)):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster did not show {len(self.names)} hosts within {timeout_s} s")

    def exec_in(self, host: int) -> list[str]:
        return ["ip", "netns", "exec", self.names[host]]

    def env(self, host: int) -> dict[str, str]:
        return {**os.environ, "RAY_TMPDIR": self.tmp_dirs[host], "RAY_USAGE_STATS_ENABLED": "0"}

    def netsim(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """``netsim ARGS`` run from host 0, as a user on the head host would."""
        return subprocess.run(
            [*self.exec_in(0), sys.executable, "-m", "netsim", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(0),
            check=False,
        )

    def popen_netsim(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.exec_in(0), sys.executable, "-m", "netsim", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(0),
        )

    def pids(self, host: int) -> list[int]:
        listed = _ip("netns", "pids", self.names[host], check=False)
        return [int(word) for word in listed.stdout.split()]

    def processes(self, host: int) -> dict[int, str]:
        """Each process in the host's namespace with its command line."""
        found = {}
        for pid in self.pids(host):
            with contextlib.suppress(OSError):
                found[pid] = (
                    Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
        return found

    def close(self) -> None:
        for name in reversed(self.made):
            for _ in range(3):
                listed = _ip("netns", "pids", name, check=False).stdout.split()
                if not listed:
                    break
                for pid in listed:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                time.sleep(0.2)
            _ip("netns", "del", name, check=False)
        self.made.clear()
        for directory in self.tmp_dirs:
            shutil.rmtree(directory, ignore_errors=True)

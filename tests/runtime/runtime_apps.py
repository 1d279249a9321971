"""Apps the runtime tests run by file path (``path/to/runtime_apps.py:Class``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from netsim import App


class Ticker(App):
    """Sends a tick to every neighbour every 50 ms for ``ticks`` rounds, then stops."""

    ticks = 30

    def on_start(self, ctx):
        self.left = self.ticks
        ctx.set_timer(0.05, "tick")

    def on_timer(self, ctx, name, data):
        ctx.broadcast("tick", {"left": self.left})
        self.left -= 1
        if self.left > 0:
            ctx.set_timer(0.05, "tick")
        else:
            ctx.record(kind="ticker-finished")
            ctx.stop()


class CrashOnSecondMessage(App):
    """The node named 'n2' raises on its second message; everyone else relays a counter around."""

    def on_start(self, ctx):
        self.received = 0
        if ctx.name == ctx.nodes[0]:
            ctx.broadcast("count", 0)

    def on_message(self, ctx, message):
        self.received += 1
        if ctx.name == "n2" and self.received == 2:
            raise RuntimeError("boom on purpose")
        ctx.broadcast("count", message.body + 1, exclude={message.src})
        ctx.set_timer(0.01, "again", message.src)

    def on_timer(self, ctx, name, data):
        ctx.send(data, "count", 0)


class KilledBySignal(App):
    """The node named 'n1' SIGKILLs itself 300 ms after start; the others tick until the run ends."""

    def on_start(self, ctx):
        ctx.set_timer(0.05, "tick")
        if ctx.name == "n1":
            ctx.set_timer(0.3, "die")

    def on_timer(self, ctx, name, data):
        if name == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        ctx.broadcast("tick")
        ctx.set_timer(0.05, "tick")


class Forever(App):
    """Ticks until the run is stopped from outside."""

    def on_start(self, ctx):
        ctx.set_timer(0.05, "tick")

    def on_timer(self, ctx, name, data):
        ctx.broadcast("tick")
        ctx.set_timer(0.05, "tick")


class LinkWatcher(Ticker):
    """A Ticker that records what it hears about its links."""

    def on_link_down(self, ctx, peer, reason):
        ctx.record(kind="link-down", peer=peer, reason=reason)

    def on_link_up(self, ctx, peer):
        ctx.record(kind="link-up", peer=peer)


class HangsInCallback(App):
    """The node named 'n1' never returns from on_start; the others tick until the run ends."""

    def on_start(self, ctx):
        if ctx.name == "n1":
            while True:
                pass
        ctx.set_timer(0.05, "tick")

    def on_timer(self, ctx, name, data):
        ctx.broadcast("tick")
        ctx.set_timer(0.05, "tick")


class CallsSysExit(App):
    """The node named 'n1' calls sys.exit(3) in its first timer; the others tick."""

    def on_start(self, ctx):
        ctx.set_timer(0.05, "tick")

    def on_timer(self, ctx, name, data):
        if ctx.name == "n1":
            sys.exit(3)
        ctx.broadcast("tick")
        ctx.set_timer(0.05, "tick")


# A child that holds a listening TCP port and sleeps; it prints its port and pid.
_LISTENING_CHILD = (
    "import os, socket, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
    "print(s.getsockname()[1], os.getpid(), flush=True)\n"
    "time.sleep(600)\n"
)


class StartsChildren(App):
    """Every node starts a child that listens on a port, and a daemon that detaches itself (double
    fork and setsid); both would sleep for ten minutes. Their pids and the port are recorded."""

    def on_start(self, ctx):
        child = subprocess.Popen([sys.executable, "-c", _LISTENING_CHILD], stdout=subprocess.PIPE, text=True)
        port, pid = child.stdout.readline().split()
        ctx.record(kind="child", pid=int(pid), port=int(port))
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.setsid()
            daemon = os.fork()
            if daemon == 0:
                os.close(read_end)
                time.sleep(600)
                os._exit(0)
            os.write(write_end, str(daemon).encode())
            os._exit(0)
        os.close(write_end)
        ctx.record(kind="daemon", pid=int(os.read(read_end, 32)))
        os.close(read_end)
        ctx.set_timer(0.3, "done")

    def on_timer(self, ctx, name, data):
        ctx.stop()


class RecordsStrangers(Forever):
    """Ticks until the run is stopped; records every message that is not a neighbour's tick."""

    def on_message(self, ctx, message):
        if message.type != "tick":
            ctx.record(kind="stranger", src=message.src, type=message.type)


class FewDescriptors(Forever):
    """The node named 'n1' lowers its open-files limit to what it holds plus two, then ticks."""

    def on_start(self, ctx):
        if ctx.name == "n1":
            import resource

            open_now = len(os.listdir("/proc/self/fd"))
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 2, hard))
        super().on_start(ctx)


class Chatty(App):
    """Prints 20 MiB through print(), and starts a child that writes 20 MiB to the stdout it inherits;
    stops once the child is done (the node's loop drains what the child writes meanwhile)."""

    def on_start(self, ctx):
        print("x" * (20 * 1024 * 1024))
        self.child = subprocess.Popen(
            [sys.executable, "-c", "import os\nfor _ in range(320): os.write(1, b'y' * 65536)"]
        )
        ctx.set_timer(0.05, "poll")

    def on_timer(self, ctx, name, data):
        if self.child.poll() is None:
            ctx.set_timer(0.05, "poll")
        else:
            ctx.record(kind="child-exit", code=self.child.returncode)
            ctx.stop()


class WaitsOnATimer(App):
    """Each node sets one timer a few seconds ahead and has nothing else to do until it fires; it
    records the CPU time its process used while it waited."""

    wait_s = 2.0

    def on_start(self, ctx):
        self.cpu_at_start = time.process_time()
        ctx.set_timer(self.wait_s, "wake")

    def on_timer(self, ctx, name, data):
        ctx.record(kind="waited", cpu_s=time.process_time() - self.cpu_at_start, wait_s=self.wait_s)
        ctx.stop()


class StopsAtStart(App):
    """Stops as soon as the run starts: the run is its start-up and its shutdown."""

    def on_start(self, ctx):
        ctx.stop()


class RecordsCpuAtStart(App):
    """Records the CPU time its process has used from its fork to its start, then stops."""

    def on_start(self, ctx):
        ctx.record(kind="cpu-at-start", cpu_s=time.process_time())
        ctx.stop()


class SendsRunsOfTwoSizes(App):
    """n0 sends n1, in one callback, 32 messages of a 2,000-byte body then 32 of a 500-byte one (ids
    and clocks 33 to 64: one size); n1 stops once it has all 64, n0 once it has sent them."""

    sizes = (2000, 500)
    per_size = 32

    def on_start(self, ctx):
        self.received = 0
        if ctx.name == "n0":
            for size in self.sizes:
                for _ in range(self.per_size):
                    ctx.send("n1", f"body-{size}", "x" * size)
            ctx.stop()

    def on_message(self, ctx, message):
        self.received += 1
        if self.received == len(self.sizes) * self.per_size:
            ctx.stop()


class RecordsRehearsal(App):
    """Node n0 records which transports its fork server rehearsed a start-up over, and whether the
    code it inherited is immortal (netsim.launch.immortal); every node stops."""

    def on_start(self, ctx):
        if ctx.name == "n0":
            rehearsal = sys.modules.get("netsim.runtime.rehearsal")
            # An immortal object's count reads as CPython's immortal value, 2**31 or more.
            immortal = sys.getrefcount(App.on_message) >= 2**31
            ctx.record(
                kind="rehearsed",
                transports=sorted(getattr(rehearsal, "rehearsed", ())),
                immortal=immortal,
            )
        ctx.stop()


class RaisesAHugeMessage(App):
    """n1 fails with an exception whose message is 5 MB."""

    def on_start(self, ctx):
        if ctx.name == "n1":
            raise RuntimeError("A" * 5_000_000)
        ctx.stop()


class KillsItsForkServer(App):
    """n1 kills the process that forked it (the run's fork server) once the run has started."""

    def on_start(self, ctx):
        if ctx.name == "n1":
            os.kill(os.getppid(), signal.SIGKILL)
        ctx.set_timer(5, "tick")

    def on_timer(self, ctx, name, data):
        ctx.stop()


class FailsToConstruct(App):
    """No node can build its app: the run fails before the start barrier."""

    def __init__(self):
        raise RuntimeError("no configuration")


class GreetsOnStart(App):
    """Every node greets its neighbours from on_start, the first time and after a restart."""

    def on_start(self, ctx):
        ctx.broadcast("hi", {})

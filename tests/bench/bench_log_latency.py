"""A line appended on a host -> shown in the pane: end-to-end latency over SSH.

``python -m tests.bench.bench_log_latency [--quick]``

The whole product path: a file on the host, ``tail -F`` over the shared SSH connection
(``runners.ssh.SshPool``), the log hub's coalescing, a Textual message to the pane, the
pane's pump and frame, the next screen refresh. Measured twice: against the simulator's
asyncssh sshd (its tail polls every 50 ms, like GNU tail without inotify) and against a
real OpenSSH sshd with GNU tail (inotify). Lines are appended one at a time, 20 per
second, each stamped with its append time; a line's latency ends when the screen has
been refreshed with it. Target: p95 <= 150 ms.

Then, on both servers, ten forced disconnects during a steady 2,000 lines/s stream: the
link is cut at the TCP level (a relay in front of sshd aborts both directions) each time
another 300 lines went through; the file source reconnects with backoff and resumes at
its verified byte offset. Every line carries a sequence number: missing and duplicated
lines are counted. Target: 0 and 0, no gap markers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.message import Message

from runners.config import Config, LogSource
from runners.events import Event, LogGap, LogLines
from runners.logs.buffer import TEXT
from runners.logs.hub import LogHub
from runners.ssh import SshPool
from tests.logs_support import SeqWriter, SimLogHost, real_host_via_proxy
from tui.widgets.log_view import LogPane, LogView

SEQ = re.compile(r"seq=(\d+)")
LOG = "/var/log/camera-service.log"


class _Events(Message):
    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, _Events):
            message.events[:0] = self.events
            return True
        return False


class TimedView(LogView):
    """Notes when each numbered line has been painted."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.painted: dict[int, float] = {}

    def frame(self, force: bool = False) -> bool:
        n_before = self.buffer.total
        shown = super().frame(force)
        if shown:
            fresh = [r for r in self.buffer.view[-max(1, self.buffer.total - n_before + 8):]]
            seqs = [int(m.group(1)) for r in fresh if (m := SEQ.search(r[TEXT]))]

            def painted() -> None:
                now = time.perf_counter()
                for s in seqs:
                    self.painted.setdefault(s, now)

            self.call_after_refresh(painted)
        return shown


class _Pane(LogPane):
    def compose(self) -> ComposeResult:
        from textual.widgets import Input, Static

        yield Static("", id="log-status")
        yield TimedView(id="log-view", **self._view_args)
        yield Input(id="log-prompt")


class LatencyApp(App):
    def __init__(self, cfg: Config, pool: SshPool):
        super().__init__()
        self.cfg = cfg
        self.pool = pool

    def compose(self) -> ComposeResult:
        yield _Pane()

    def on_mount(self) -> None:
        self.run_worker(self._follow(), exclusive=True)

    async def _follow(self) -> None:
        hub = LogHub(self.cfg, self.pool, sinks=[lambda ev: self.post_message(_Events([ev]))])
        await hub.run()

    def on__events(self, message: _Events) -> None:
        view = self.query_one(TimedView)
        for ev in message.events:
            if isinstance(ev, (LogLines, LogGap)):
                view.ingest(ev)


async def measure(host_cfg_factory, local_path: Path, lines: int, rate: float = 20.0) -> dict:
    spec = LogSource(name="camera-service", kind="file", path=str(host_cfg_factory.remote))
    cfg = Config(hosts=(host_cfg_factory.host_config((spec,)),))
    writer = SeqWriter(local_path)
    writer.write(1)  # something to find at start
    async with SshPool(ssh_config=None) as pool:
        app = LatencyApp(cfg, pool)
        async with app.run_test(size=(160, 50)) as pilot:
            view = app.query_one(TimedView)
            deadline = time.monotonic() + 20
            while 0 not in view.painted:  # the follower is up and showing the file
                if time.monotonic() > deadline:
                    raise RuntimeError("the log follower never showed the first line")
                await asyncio.sleep(0.02)
            appended: dict[int, float] = {}
            for _ in range(lines):
                appended[writer.n] = time.perf_counter()
                writer.write(1)
                await asyncio.sleep(1 / rate)
            deadline = time.monotonic() + 10
            while not all(s in view.painted for s in appended) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await pilot.pause()
    writer.close()
    lat = [(view.painted[s] - t) * 1000 for s, t in appended.items() if s in view.painted]
    lat.sort()
    missing = len(appended) - len(lat)
    return {
        "lines": len(appended),
        "missing": missing,
        "p50_ms": round(statistics.median(lat), 1) if lat else None,
        "p95_ms": round(lat[min(len(lat) - 1, int(0.95 * (len(lat) - 1) + 0.5))], 1) if lat else None,
        "max_ms": round(lat[-1], 1) if lat else None,
    }


class _Sim:
    def __init__(self, sim: SimLogHost):
        self.sim = sim
        self.remote = LOG

    def host_config(self, logs):
        return self.sim.host_config(logs, direct=True)


class _SimProxied:
    def __init__(self, sim: SimLogHost):
        self.sim = sim
        self.remote = "/var/log/drops.log"
        self.proxy = sim.proxy

    def host_config(self, logs):
        return self.sim.host_config(logs)


class _Real:
    def __init__(self, real, path: Path):
        self.real = real
        self.remote = str(path)
        self.proxy = real.proxy

    def host_config(self, logs):
        return self.real.host_config(logs)


async def disconnects(host, local_path: Path, drops: int = 10, rate: int = 2000) -> dict:
    """Forced disconnects during a steady stream, counted by sequence numbers."""
    from runners.logs.sources import FileTail
    from tests.logs_support import Collect, seq_report

    spec = LogSource(name="camera-service", kind="file", path=str(host.remote))
    cfg_host = host.host_config((spec,))
    writer = SeqWriter(local_path)
    writer.write(10)
    proxy = host.proxy
    async with SshPool(ssh_config=None) as pool:
        src = FileTail(cfg_host.name, spec, lambda: pool.host(cfg_host, Path))
        sink = Collect()
        task = asyncio.create_task(src.run(sink))
        try:
            await sink.wait(lambda: len(sink.seqs()) >= 10, 20, "the first lines")
            stop = asyncio.Event()
            feed = asyncio.create_task(writer.run(rate=rate, batch=20, stop=stop))
            t0 = time.perf_counter()
            cut = 0
            for _ in range(drops):
                target = len(sink.seqs()) + 300
                await sink.wait(lambda: len(sink.seqs()) >= target, 30, "lines between drops")
                cut += proxy.drop()  # connections actually cut (0 would mean a drop hit nothing)
            stop.set()
            await feed
            await sink.wait(lambda: len(sink.seqs()) >= writer.n, 30, "every line")
            elapsed = time.perf_counter() - t0
            ssh_reconnects = _reconnects(pool)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    writer.close()
    rep = seq_report(sink.seqs(), writer.n)
    return {"drops": proxy.drops, "links_cut": cut, "lines": writer.n, "missing": rep["missing"],
            "duplicates": rep["duplicates"], "gaps": len(sink.gaps), "ssh_reconnects": ssh_reconnects,
            "seconds": round(elapsed, 1)}


def _reconnects(pool: SshPool) -> int:
    return sum(h.reconnects for h in pool.hosts.values())


async def _run_all(quick: bool) -> dict:
    n = 60 if quick else 300
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-log-latency-") as tmp:
        d = Path(tmp)
        sim = await SimLogHost(d / "sim").start()
        try:
            r = await measure(_Sim(sim), sim.local(LOG), n)
            out.update({f"sim_{k}": v for k, v in r.items()})
            r = await disconnects(_SimProxied(sim), sim.local("/var/log/drops.log"))
            out.update({f"sim_drop_{k}": v for k, v in r.items()})
        finally:
            await sim.stop()
        from tests.sshd import SshdUnavailable, sshd_missing_reason, start_lab

        reason = sshd_missing_reason()
        if reason:
            out["real_sshd"] = f"skipped: {reason}"
        else:
            try:
                _keys, server = start_lab(d / "lab")
            except SshdUnavailable as e:
                out["real_sshd"] = f"skipped: {e}"
            else:
                try:
                    real = await real_host_via_proxy(server, d / "lab")
                    path = d / "lab" / "logs" / "camera-service.log"
                    r = await measure(_Real(real, path), path, n)
                    out.update({f"real_{k}": v for k, v in r.items()})
                    drops_path = d / "lab" / "logs" / "drops.log"
                    r = await disconnects(_Real(real, drops_path), drops_path)
                    out.update({f"real_drop_{k}": v for k, v in r.items()})
                    await real.proxy.stop()
                finally:
                    server.stop()
    out["machine_load_avg"] = round(os.getloadavg()[0], 2)
    return out


def run(quick: bool = False) -> dict:
    figures = asyncio.run(_run_all(quick))
    targets = {"sim_p95_ms": "<= 150", "real_p95_ms": "<= 150", "sim_missing": "0", "real_missing": "0",
               "sim_drop_drops": "10", "sim_drop_missing": "0", "sim_drop_duplicates": "0", "sim_drop_gaps": "0",
               "real_drop_drops": "10", "real_drop_missing": "0", "real_drop_duplicates": "0", "real_drop_gaps": "0"}

    def drops_ok(prefix: str) -> bool:
        return (figures.get(f"{prefix}drops") == 10 and figures.get(f"{prefix}links_cut", 0) >= 10
                and figures.get(f"{prefix}missing") == 0
                and figures.get(f"{prefix}duplicates") == 0 and figures.get(f"{prefix}gaps") == 0)

    ok = (figures.get("sim_p95_ms") is not None and figures["sim_p95_ms"] <= 150 and figures.get("sim_missing") == 0
          and drops_ok("sim_drop_")
          and (str(figures.get("real_sshd", "")).startswith("skipped")
               or (figures.get("real_p95_ms") is not None and figures["real_p95_ms"] <= 150
                   and figures.get("real_missing") == 0 and drops_ok("real_drop_"))))
    return {"name": "log_latency", "figures": figures, "targets": targets, "ok": ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 lines per server instead of 300")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run(args.quick)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(res["name"])
    for k, v in res["figures"].items():
        t = res["targets"].get(k, "")
        print(f"  {k:24} {v!s:>10}   {('target ' + t) if t else ''}")
    print("PASS" if res["ok"] else "FAIL")


if __name__ == "__main__":
    main()

"""Fleet fan-out: the smoke set SMK-1..7 on 50 simulated hosts vs on one host.

Two child processes run the simulated fleet (50 hosts, mixed dialects: RPC + health +
SSH/SFTP servers, real JPEG/MP4 media), so the simulators never share the engine's event
loop, as real camera hosts would not. Real hosts do not take the lab machine's CPU either,
so the simulators run at a lower CPU priority (``nice 10``) and record at a light encode
load (`media="light"`: 5 fps, 160x120, still real, growing, playable fragmented MP4): on a 2-core machine
50 simulated encoders at full rate would otherwise measure the simulator, not the console.

This process runs ``runners.pipeline.run_smoke`` (the engine and the full record: run log,
JUnit, events, artifacts) with the config's default check timings, first on one host,
then on all of them (``checks.max_parallel_hosts`` = the fleet size), then on all of them
plus a *black-hole* host (accepts TCP, never answers) to show one dead host does not slow
the live ones.

Targets: wall(50 hosts) <= 2 x wall(1 host); with the black hole, the live hosts' last
result within 2 x wall(1 host) too. Pass counts and the console's CPU time are reported
beside them, with the console's event-loop lag during the fleet run and SMK-7's p95 per host
(SMK-7's listers time the service from their own probe loop, so the console's lag stays out
of those readings; on a loaded 2-core box the simulators' own lag still lands in them).

    /work/venv/bin/python -m tests.bench.bench_fleet           # 50 hosts
    /work/venv/bin/python -m tests.bench.bench_fleet --quick   # 12 hosts
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_FULL = 50
N_QUICK = 12
SIM_PROCESSES = 2
TARGET_RATIO = 2.0
SIM_NICE = 10


async def _serve(n: int, state: Path, config: Path, prefix: str) -> None:
    """Child: start the fleet, write its config, print READY, stop at EOF on stdin."""
    from runners.sim.fleet import make_specs, run_fleet

    # The simulator's recorder at a light encode load (see the module doc).
    specs = make_specs(n, dialect="mixed", discovery_delay=0.3, prefix=prefix, media="light")
    async with run_fleet(specs, state, config=config):
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


class _BlackHole:
    """A TCP listener that accepts and never answers: the worst kind of dead host."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


async def _smoke(cfg, hosts: tuple[str, ...], label: str) -> dict:
    from record.layout import DryRunDir
    from runners.pipeline import run_smoke
    from runners.smoke.options import RunOptions

    d = DryRunDir(cfg.dry_run_path)
    last_end: dict[str, float] = {}
    smk7_p95: list[float] = []

    def sink(ev) -> None:
        if ev.kind == "check_finished":
            last_end[ev.host] = time.monotonic()
            if ev.check == "SMK-7" and "p95_ms" in (ev.metrics or {}):
                smk7_p95.append(ev.metrics["p95_ms"])

    t0 = time.monotonic()
    res = await run_smoke(cfg, RunOptions(label=label, hosts=hosts), log_path=d.root / f"{label}.log", sinks=[sink])
    wall = time.monotonic() - t0
    by_host: dict[str, list[str]] = {}
    for r in res.results:
        by_host.setdefault(r.host, []).append(r.outcome)
    from runners.budgets import percentile

    return {"smk7_p95": ({"median": round(percentile(smk7_p95, 50), 1), "worst": round(max(smk7_p95), 1)}
                         if smk7_p95 else {}),
            "wall": wall, "exit": res.exit_code, "by_host": by_host, "last_end": {h: t - t0 for h, t in last_end.items()},
            "failures": [f"{r.host}::{r.check} {r.outcome}: {r.summary}" for r in res.results
                         if r.outcome != "passed"][:10]}


class _LoopLag:
    """How late this process's event loop wakes a 10 ms sleeper during the fleet run: the
    console's own lag (SMK-7's listers measure from the probe loop, out of its reach)."""

    def __enter__(self) -> _LoopLag:
        from runners.smoke.probe_loop import LagSampler

        self.sampler = LagSampler()
        self.sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sampler.stop()

    def summary(self) -> dict:
        from runners.budgets import percentile

        lags = self.sampler.lags_ms
        if not lags:
            return {}
        return {"p50_ms": round(percentile(lags, 50), 1), "p95_ms": round(percentile(lags, 95), 1),
                "max_ms": round(max(lags), 1)}


def _cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process (default: this one, all threads)."""
    import os

    with open(f"/proc/{pid or os.getpid()}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(cfg_paths: list[Path], n: int, work: Path, sim_pids: list[int]) -> dict:
    from runners.config import Checks, Config, Host, Run, SshTarget, load_config

    hosts: tuple[Host, ...] = ()
    for p in cfg_paths:  # the configs sit in one folder: their relative paths agree
        hosts += load_config(p).hosts
    cfg = Config(checks=dataclasses.replace(Checks(), max_parallel_hosts=n + 1), hosts=hosts,
                 run=Run(dry_run_dir=str(work / "dry_run")), path=work / "dryrun.toml")
    names = tuple(h.name for h in cfg.hosts)
    await _smoke(cfg, names[:1], "warmup")  # imports, first handshakes, media codec init
    one = await _smoke(cfg, names[:1], "one_host")
    c0, s0 = _cpu(), sum(_cpu(p) for p in sim_pids)
    with _LoopLag() as lag:
        fleet = await _smoke(cfg, names, "fleet")
    console_cpu, sim_cpu = _cpu() - c0, sum(_cpu(p) for p in sim_pids) - s0
    hole = _BlackHole()
    try:
        dead = Host(name="dead-host", rpc_url=f"ws://127.0.0.1:{hole.port}/ws",
                    health_url=f"http://127.0.0.1:{hole.port}",
                    ssh=SshTarget(host="127.0.0.1", port=hole.port, user="operator"))
        cfg_dead = dataclasses.replace(cfg, hosts=cfg.hosts + (dead,))
        with_dead = await _smoke(cfg_dead, names + ("dead-host",), "fleet_with_dead_host")
    finally:
        hole.close()
    live_last = max(t for h, t in with_dead["last_end"].items() if h != "dead-host")

    def passed(run: dict, skip: str = "") -> int:
        return sum(o.count("passed") for h, o in run["by_host"].items() if h != skip)

    return {
        "hosts": n,
        "one_host_wall_s": round(one["wall"], 3),
        "one_host_passed": f"{passed(one)}/7",
        "fleet_wall_s": round(fleet["wall"], 3),
        "ratio": round(fleet["wall"] / one["wall"], 3),
        "fleet_passed": f"{passed(fleet)}/{7 * n}",
        "console_cpu_s": round(console_cpu, 2),
        "console_loop_lag": lag.summary(),
        "smk7_p95_ms": fleet["smk7_p95"],
        "sim_cpu_s": round(sim_cpu, 2),
        "with_dead_host_wall_s": round(with_dead["wall"], 3),
        "with_dead_host_live_last_result_s": round(live_last, 3),
        "with_dead_host_live_ratio": round(live_last / one["wall"], 3),
        "with_dead_host_live_passed": f"{passed(with_dead, 'dead-host')}/{7 * n}",
        "dead_host_outcomes": sorted(set(with_dead["by_host"].get("dead-host", []))),
        "failures": fleet["failures"] + [f for f in with_dead["failures"] if not f.startswith("dead-host")][:5],
    }


def run(quick: bool = False) -> dict:
    n = N_QUICK if quick else N_FULL
    sizes = [n // SIM_PROCESSES + (1 if i < n % SIM_PROCESSES else 0) for i in range(SIM_PROCESSES)]
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        children: list[tuple[subprocess.Popen, Path]] = []
        try:
            for i, size in enumerate(sizes):
                cfg_path = work / f"sim{i}.toml"
                child = subprocess.Popen(["nice", "-n", str(SIM_NICE), sys.executable, "-m", "tests.bench.bench_fleet",
                                          "--serve", str(size), str(work / f"sim{i}"), str(cfg_path), f"s{i}-cam"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                children.append((child, cfg_path))
            for child, _ in children:
                line = child.stdout.readline()
                if line.strip() != "READY":
                    raise RuntimeError(f"sim fleet did not start: expected READY, got {line!r}")
            figures = asyncio.run(_measure([p for _, p in children], n, work, [c.pid for c, _ in children]))
        finally:
            for child, _ in children:
                child.stdin.close()
            for child, _ in children:
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
    targets = {"ratio": TARGET_RATIO, "with_dead_host_live_ratio": TARGET_RATIO}
    ok = figures["ratio"] <= TARGET_RATIO and figures["with_dead_host_live_ratio"] <= TARGET_RATIO
    return {"name": "fleet_fanout", "figures": figures, "targets": targets, "ok": ok}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        asyncio.run(_serve(int(argv[1]), Path(argv[2]), Path(argv[3]), argv[4]))
        return 0
    res = run(quick="--quick" in argv)
    if "--json" in argv:
        print(json.dumps(res, indent=2))
        return 0 if res["ok"] else 1
    f = res["figures"]
    print(f"Smoke set SMK-1..7: {f['hosts']} simulated hosts (mixed dialects, {SIM_PROCESSES} sim processes) "
          "vs one host, default check timings")
    print(f"  one host      {f['one_host_wall_s']:.2f} s   passed {f['one_host_passed']}")
    print(f"  {f['hosts']} hosts      {f['fleet_wall_s']:.2f} s   ratio {f['ratio']:.2f}   passed {f['fleet_passed']}   "
          f"CPU: console {f['console_cpu_s']:.1f} s, simulators {f['sim_cpu_s']:.1f} s")
    print(f"  console loop lag during the fleet run: {f['console_loop_lag']}; SMK-7 p95 per host: "
          f"{f['smk7_p95_ms']} (budget 50 ms)")
    print(f"  + dead host   {f['with_dead_host_wall_s']:.2f} s overall; live hosts done at "
          f"{f['with_dead_host_live_last_result_s']:.2f} s (ratio {f['with_dead_host_live_ratio']:.2f}, passed "
          f"{f['with_dead_host_live_passed']}); dead host: {', '.join(f['dead_host_outcomes'])}")
    for line in f["failures"]:
        print(f"  ! {line}")
    print(f"  target: ratio <= {TARGET_RATIO:g} (also with a dead host) -> {'PASS' if res['ok'] else 'FAIL'}")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

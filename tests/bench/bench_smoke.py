"""Benchmark: the smoke run is bounded by its critical path, and fans out over hosts.

Setup: 20 simulated hosts (``runners.sim.fleet.run_fleet``, known discovery delay 1 s, two
cameras each) in 4 child processes of 5 hosts, so the hosts' media encoders and SSH
servers never share the console's event loop or GIL, nor starve one simulator loop -
as real hosts would not. The console runs the whole SMK-1..7 set in this process
through ``runners.pipeline.run_smoke`` (engine + record: log, JUnit, events, artifacts),
with ``restart_before_health`` on, so every run contains the inherent waits: service
restart, camera discovery, recording length. One untimed warm-up run first (imports,
key loading), as a console that has run once is warm.

Figures and targets:
  1. one host: wall / critical path <= 1.15. The critical path is the sum of the inherent
     waits on the longest chain of the schedule, SMK-1 -> (SMK-5 || SMK-7):
        restart_s           (measured: `systemctl restart` on the host, the service's restart gap)
      + time_to_healthy_s   (measured: restart done -> health healthy; it contains the
                             discovery delay, since health is degraded until cameras are found)
      + max(recording_seconds, concurrency_seconds)   (from the config: SMK-5's recording
                             and SMK-7's concurrency window, run concurrently on two cameras)
     Everything else (SSH handshake, RPC round trips, SFTP fetch, JPEG/MP4 decode, the
     record's writes) is overhead and must stay within 15 %.
  2. 20 hosts at once: wall(20) / wall(1) <= 1.5 (``checks.max_parallel_hosts`` = 20).

    /work/venv/bin/python -m tests.bench.bench_smoke           # recording 3 s, 20 hosts
    /work/venv/bin/python -m tests.bench.bench_smoke --quick   # recording 2 s, 20 hosts
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

TARGET_CRITICAL_RATIO = 1.15
TARGET_FANOUT_RATIO = 1.5
HOSTS = 20
DISCOVERY_DELAY = 1.0
SIM_PROCESSES = 4  # the simulated hosts' media encoders must not starve one simulator loop


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return -1.0


_CHILD = r"""
import asyncio, signal, sys
from pathlib import Path
from runners.sim.fleet import make_specs, run_fleet

async def main(n, first, delay, state, out):
    specs = make_specs(n, discovery_delay=delay, prefix="cam")
    # host names cam-<first>..: unique across the child processes
    import dataclasses
    specs = [dataclasses.replace(s, name=f"cam-{first + i:02d}") for i, s in enumerate(specs)]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with run_fleet(specs, Path(state), config=Path(out)):
        print("ready", flush=True)
        await stop.wait()

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]))
"""


async def _start_sim(state: Path, hosts: int, procs: int) -> tuple[list[asyncio.subprocess.Process], list[Path]]:
    """``procs`` child processes, each running ``run_fleet`` for its share of the hosts."""
    per = -(-hosts // procs)
    children, configs = [], []
    first = 1
    while first <= hosts:
        n = min(per, hosts - first + 1)
        cfg = state / f"sim{first}.toml"
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD, str(n), str(first), str(DISCOVERY_DELAY), str(state / f"sim{first}"),
            str(cfg), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        children.append(p)
        configs.append(cfg)
        first += n
    for p in children:
        line = await asyncio.wait_for(p.stdout.readline(), 120)
        if line.strip() != b"ready":
            err = (await p.stderr.read()).decode()
            raise RuntimeError(f"simulator child failed to start: {err.strip()[-500:]}")
    return children, configs


async def _stop_sim(children: list[asyncio.subprocess.Process]) -> None:
    for p in children:
        if p.returncode is None:
            p.send_signal(signal.SIGTERM)
    for p in children:
        try:
            await asyncio.wait_for(p.wait(), 30)
        except asyncio.TimeoutError:
            p.kill()
            await p.wait()


async def _run(cfg, label: str, hosts: tuple[str, ...] = (), keyword: str = ""):
    from record.layout import DryRunDir
    from runners.pipeline import run_smoke
    from runners.smoke.options import RunOptions

    d = DryRunDir(cfg.dry_run_path)
    t0 = time.perf_counter()
    res = await run_smoke(cfg, RunOptions(label=label, hosts=hosts, keyword=keyword),
                          log_path=d.root / f"{label}.log")
    return res, time.perf_counter() - t0


async def _bench(quick: bool) -> dict:
    from runners.config import load_config

    recording = 2.0 if quick else 3.0
    tmp = Path(tempfile.mkdtemp(prefix="bench_smoke_"))
    sim, cfg_paths = await _start_sim(tmp, HOSTS, SIM_PROCESSES)
    try:
        parts = [load_config(p) for p in cfg_paths]
        base = dataclasses.replace(parts[0], hosts=tuple(h for c in parts for h in c.hosts))  # one folder: paths resolve alike
        checks = dataclasses.replace(base.checks, restart_before_health=True, recording_seconds=recording,
                                     concurrency_seconds=recording, max_parallel_hosts=HOSTS)
        cfg = dataclasses.replace(base, checks=checks,
                                  run=dataclasses.replace(base.run, dry_run_dir=str(tmp / "dry_run")))
        first = cfg.hosts[0].name
        await _run(cfg, "warmup", hosts=(first,))  # imports, keys, caches: measured runs start warm
        one, wall1 = await _run(cfg, "one", hosts=(first,))
        many, wall20 = await _run(cfg, "many")
    finally:
        await _stop_sim(sim)
    smk1 = next(r for r in one.results if r.check == "SMK-1")
    restart_s = smk1.metrics.get("restart_s", 0.0)
    healthy_s = smk1.metrics.get("time_to_healthy_s", 0.0)
    window = max(checks.recording_seconds, checks.concurrency_seconds)
    critical = restart_s + healthy_s + window
    figures = {
        "one_host_wall_s": round(wall1, 3),
        "critical_path_s": round(critical, 3),
        "critical_restart_s": round(restart_s, 3),
        "critical_time_to_healthy_s": round(healthy_s, 3),
        "critical_window_s": window,
        "wall_over_critical": round(wall1 / critical, 3),
        "hosts": len(cfg.hosts),
        "many_hosts_wall_s": round(wall20, 3),
        "many_over_one": round(wall20 / wall1, 3),
        "one_host_passed": one.finished.passed,
        "many_hosts_passed": many.finished.passed,
        "many_hosts_not_passed": [f"{r.host}::{r.check} {r.outcome}: {r.summary}" for r in many.results
                                  if r.outcome != "passed"][:10],
        "loadavg_1m": round(_loadavg(), 2),
        "cpus": os.cpu_count(),
    }
    shutil.rmtree(tmp, ignore_errors=True)
    # Under 20-host load on a small machine SMK-7 may honestly miss the service's 50 ms p95
    # budget (that is what it measures); any other failure would be a wrong verdict.
    other = [r for r in many.results if r.outcome != "passed" and r.fault != "latency_budget"]
    figures["many_hosts_latency_budget_misses"] = sum(r.fault == "latency_budget" for r in many.results)
    ok = (figures["wall_over_critical"] <= TARGET_CRITICAL_RATIO and figures["many_over_one"] <= TARGET_FANOUT_RATIO
          and one.finished.passed == 7 and not other)
    return {
        "name": "smoke",
        "figures": figures,
        "targets": {"wall_over_critical": f"<= {TARGET_CRITICAL_RATIO}", "many_over_one": f"<= {TARGET_FANOUT_RATIO}",
                    "every check passes": "7 on one host; on twenty, nothing fails but SMK-7's latency budget "
                              "(machine capacity, reported)"},
        "ok": ok,
    }


def run(quick: bool = False) -> dict:
    return asyncio.run(_bench(quick))


def main() -> int:
    quick = "--quick" in sys.argv
    r = run(quick)
    f = r["figures"]
    print(f"smoke bench ({'quick' if quick else 'full'}): {f['cpus']} CPUs, load {f['loadavg_1m']}")
    print(f"  one host: wall {f['one_host_wall_s']:.2f} s; critical path {f['critical_path_s']:.2f} s "
          f"= restart {f['critical_restart_s']:.2f} + to healthy (incl. discovery) "
          f"{f['critical_time_to_healthy_s']:.2f} + recording/concurrency window {f['critical_window_s']:.2f}")
    print(f"  wall / critical path = {f['wall_over_critical']:.3f}  (target <= {TARGET_CRITICAL_RATIO}) "
          f"{'PASS' if f['wall_over_critical'] <= TARGET_CRITICAL_RATIO else 'FAIL'}")
    print(f"  {f['hosts']} hosts: wall {f['many_hosts_wall_s']:.2f} s; {f['hosts']} hosts / 1 host = "
          f"{f['many_over_one']:.3f}  (target <= {TARGET_FANOUT_RATIO}) "
          f"{'PASS' if f['many_over_one'] <= TARGET_FANOUT_RATIO else 'FAIL'}")
    print(f"  passed: {f['one_host_passed']}/7 on one host, {f['many_hosts_passed']}/{7 * f['hosts']} on {f['hosts']}")
    for line in f["many_hosts_not_passed"]:
        print(f"    not passed: {line}")
    print("PASS" if r["ok"] else "FAIL")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: cold start of the console to its first frame, in a real terminal.

Each sample spawns a fresh ``python -m tui.cli console`` on a pseudo-terminal (80x24) with a
two-host config (no host needs to answer: the first frame never waits for the network),
and times from spawn to the moment the first frame's text (the nav bar's "Stand-up") has
been written to the terminal. The child's peak RSS (VmHWM) is read at that moment, then
it is killed. Median of 10 runs (3 with --quick). Targets: <= 0.5 s median, <= 80 MB.

    /work/venv/bin/python -m tests.bench.bench_startup [--quick]
"""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.5
TARGET_MB = 80.0
MARK = b"Stand-up"
TIMEOUT = 15.0
CONFIG = """\
[sprint]
start_date = "2026-11-23"
[[hosts]]
name = "cam-01"
rpc_url = "ws://127.0.0.1:9/ws"
health_url = "http://127.0.0.1:9"
[[hosts]]
name = "cam-02"
rpc_url = "ws://127.0.0.1:9/ws"
dialect = "legacy"
"""


def _vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def one_sample(cfg: Path, state: Path) -> tuple[float, float]:
    """(seconds to first frame, peak RSS MB at that moment)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", XDG_STATE_HOME=str(state), COLUMNS="80", LINES="24")
    env.pop("NO_COLOR", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "console", "--config", str(cfg), "--theme", "dark"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[2])
    os.close(slave)
    seen = b""
    try:
        while True:
            left = TIMEOUT - (time.perf_counter() - t0)
            if left <= 0:
                raise TimeoutError(f"no first frame within {TIMEOUT:g} s; output so far: {seen[-300:]!r}")
            r, _, _ = select.select([master], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child exited
                raise RuntimeError(f"console exited before its first frame: {seen[-500:]!r}") from None
            seen += chunk
            if MARK in seen:
                elapsed = time.perf_counter() - t0
                return elapsed, _vm_hwm_mb(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)
        os.close(master)


def run(quick: bool = False) -> dict:
    n = 3 if quick else 10
    with tempfile.TemporaryDirectory(prefix="dryrun-bench-") as tmp:
        cfg = Path(tmp) / "dryrun.toml"
        cfg.write_text(CONFIG)
        state = Path(tmp) / "state"
        one_sample(cfg, state)  # warm the OS file cache (bytecode, shared libraries): "cold" = new process
        times, rss = [], []
        for _ in range(n):
            t, m = one_sample(cfg, state)
            times.append(t)
            rss.append(m)
    med = statistics.median(times)
    peak = max(rss)
    try:
        load = round(os.getloadavg()[0], 2)  # a busy machine explains a slow median
    except OSError:
        load = -1.0
    figures = {"first_frame_median_s": round(med, 3), "first_frame_min_s": round(min(times), 3),
               "first_frame_max_s": round(max(times), 3), "peak_rss_mb": round(peak, 1), "samples": n,
               "loadavg_1m": load, "cpus": os.cpu_count() or 0}
    targets = {"first_frame_median_s": f"<= {TARGET_S}", "peak_rss_mb": f"<= {TARGET_MB:g}"}
    return {"name": "console cold start to first frame (80x24 pty)", "figures": figures, "targets": targets,
            "ok": med <= TARGET_S and peak <= TARGET_MB}


def main() -> int:
    res = run(quick="--quick" in sys.argv)
    for k, v in res["figures"].items():
        tgt = res["targets"].get(k, "")
        print(f"{k:24} {v:>10}  {('target ' + tgt) if tgt else ''}")
    print("PASS" if res["ok"] else "FAIL")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

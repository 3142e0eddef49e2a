"""Following 1,000 lines/s in a real 160x50 pseudo-terminal: CPU and terminal bandwidth.

``python -m tests.bench.bench_log_terminal [--quick]``

A child process runs a real Textual app (not headless) on the slave side of a pty sized
160x50: the log pane fed by the log hub following a local file (``kind = "local"``,
watchfiles). This process appends 1,000 lines/s to that file (three "hosts", realistic
service lines) and reads everything the app writes to the terminal. Measured over the
steady part of the run: the child's CPU time (utime+stime from /proc) per wall second,
and bytes per second sent to the terminal. Targets: <= 25 % of one core, <= 300 KB/s.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

COLS, ROWS = 160, 50
RATE = 1000


# ------------------------------------------------------------------------------ child
def child(paths: list[str], seconds: float) -> None:
    from textual.app import App, ComposeResult
    from textual.message import Message

    from runners.config import Config, Host, LogSource
    from runners.events import LogGap, LogLines
    from runners.logs.hub import LogHub
    from tui.widgets.log_view import LogPane, LogView

    hosts = tuple(Host(name=f"cam-0{i + 1}", rpc_url="ws://127.0.0.1:9/ws",
                       logs=(LogSource(name="camera-service", kind="local", path=p),))
                  for i, p in enumerate(paths))
    cfg = Config(hosts=hosts)

    class Events(Message):
        def __init__(self, events):
            super().__init__()
            self.events = events

        def can_replace(self, message):
            if isinstance(message, Events):
                message.events[:0] = self.events
                return True
            return False

    class TerminalApp(App):
        def compose(self) -> ComposeResult:
            yield LogPane()

        def on_mount(self) -> None:
            self.query_one(LogView).focus()
            self.run_worker(self._follow(), exclusive=True)
            self.set_timer(seconds, self.exit)

        async def _follow(self) -> None:
            await LogHub(cfg, None, sinks=[lambda ev: self.post_message(Events([ev]))]).run()

        def on_events(self, message: Events) -> None:
            view = self.query_one(LogView)
            for ev in message.events:
                if isinstance(ev, (LogLines, LogGap)):
                    view.ingest(ev)

    TerminalApp().run()


# ------------------------------------------------------------------------------ parent
def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _line(n: int, host: int) -> str:
    t = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f",{int(t * 1000) % 1000:03d}"
    lvl = "ERROR" if n % 500 == 0 else ("WARNING" if n % 97 == 0 else "INFO")
    return (f"{stamp} {lvl} camera_service.api: frame delivered seq={n} device=camera{host} "
            f"bytes={48000 + n % 997} request_id=r{n % 977}\n")


def measure(seconds: float, warmup: float = 3.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-log-term-") as tmp:
        paths = [Path(tmp) / f"host{i}.log" for i in range(3)]
        for p in paths:
            p.write_text("")
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(COLS), LINES=str(ROWS))
        env.pop("TEXTUAL", None)
        total = warmup + seconds + 2
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.bench_log_terminal", "--child", str(total), *map(str, paths)],
            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=str(Path(__file__).resolve().parents[2]),
            start_new_session=True)
        os.close(slave)
        files = [open(p, "a") for p in paths]  # noqa: SIM115
        got = 0
        n = 0
        t_start = time.perf_counter()
        window: dict[str, float] = {}
        try:
            while True:
                now = time.perf_counter()
                el = now - t_start
                if el >= warmup and "t0" not in window:
                    window.update(t0=now, cpu0=_cpu_seconds(proc.pid), bytes0=got, n0=n)
                if el >= warmup + seconds and "t1" not in window:
                    window.update(t1=now, cpu1=_cpu_seconds(proc.pid), bytes1=got, n1=n)
                    break
                # append what is due (1,000 lines/s spread over the hosts)
                due = int(el * RATE)
                while n < due:
                    h = n % 3
                    files[h].write(_line(n, h))
                    n += 1
                for f in files:
                    f.flush()
                r, _, _ = select.select([master], [], [], 0.005)
                if r:
                    try:
                        data = os.read(master, 1 << 16)
                    except OSError:
                        break
                    got += len(data)
                if proc.poll() is not None:
                    break
        finally:
            for f in files:
                f.close()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while proc.poll() is None and time.monotonic() < deadline:  # drain so it can exit
                r, _, _ = select.select([master], [], [], 0.05)
                if r:
                    try:
                        os.read(master, 1 << 16)
                    except OSError:
                        break
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            os.close(master)
        if "t1" not in window:
            raise RuntimeError(f"the app exited early (status {proc.returncode}) after {got} bytes")
        dt = window["t1"] - window["t0"]
        return {
            "seconds": round(dt, 1),
            "lines_per_s": round((window["n1"] - window["n0"]) / dt),
            "cpu_pct_of_one_core": round(100 * (window["cpu1"] - window["cpu0"]) / dt, 1),
            "terminal_kb_per_s": round((window["bytes1"] - window["bytes0"]) / dt / 1000, 1),
            "terminal_size": f"{COLS}x{ROWS}",
            "machine_load_avg": round(os.getloadavg()[0], 2),
        }


def run(quick: bool = False) -> dict:
    figures = measure(8.0 if quick else 20.0)
    targets = {"cpu_pct_of_one_core": "<= 25", "terminal_kb_per_s": "<= 300", "lines_per_s": f"~{RATE}"}
    ok = figures["cpu_pct_of_one_core"] <= 25 and figures["terminal_kb_per_s"] <= 300
    return {"name": "log_terminal", "figures": figures, "targets": targets, "ok": ok}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[3:], float(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 s instead of 20 s")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run(args.quick)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(res["name"])
    for k, v in res["figures"].items():
        t = res["targets"].get(k, "")
        print(f"  {k:22} {v!s:>10}   {('target ' + t) if t else ''}")
    print("PASS" if res["ok"] else "FAIL")


if __name__ == "__main__":
    main()

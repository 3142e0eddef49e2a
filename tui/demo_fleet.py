"""The demo's simulated fleet, in its own process.

The sim (RPC, health, sshd, media encoding) must not share the console's interpreter: its
work would show up as UI stalls and, worse, the console's work as service latency (the GIL
is shared by threads), failing SMK-7's latency budget for the wrong reason. So
``with DemoFleet(...)`` starts ``python -m tui.demo_fleet`` (which runs the fleet and writes
its config), waits until it is ready, and stops it on the way out, whatever happened.

Hosts: cam-01 runs the current (Go) service cleanly; cam-02 the legacy (Python) service
with light seeded chaos, so a rehearsal shows failures to triage."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
READY = "ready"


def specs(chaos: str, seed: int):
    from runners.sim.host import SimHostSpec

    return [
        SimHostSpec(name="cam-01", dialect="current", cameras=2, discovery_delay=0.5, chaos="none", seed=seed),
        SimHostSpec(name="cam-02", dialect="legacy", cameras=2, discovery_delay=0.5, chaos=chaos, seed=seed + 1),
    ]


class DemoFleet:
    def __init__(self, state_dir: Path | None = None, *, chaos: str = "light", seed: int = 7):
        self.state_dir = Path(state_dir).absolute() if state_dir else Path(tempfile.mkdtemp(prefix="dryrun-demo-"))
        self.config_path = self.state_dir / "dryrun.toml"
        self.log_path = self.state_dir / "demo-fleet.log"
        self.chaos = chaos
        self.seed = seed
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> DemoFleet:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ready = self.state_dir / READY
        ready.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tui.demo_fleet", str(self.state_dir), "--chaos", self.chaos,
                 "--seed", str(self.seed)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the demo fleet exited with status {self.proc.returncode} before it was ready; "
                                   f"see {self.log_path}")
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the demo fleet was not ready within {START_TIMEOUT:.0f} s; see {self.log_path}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the fleet stops its hosts and exits
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ---------------------------------------------------------------------- the child process
async def _serve(state_dir: Path, chaos: str, seed: int) -> None:
    from runners.sim.fleet import run_fleet

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def orphan_watch() -> None:
        # the console died without stopping us (SIGKILL, a crash): do not outlive it
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        stop.set()

    watch = loop.create_task(orphan_watch())
    async with run_fleet(specs(chaos, seed), state_dir / "fleet", config=state_dir / "dryrun.toml"):
        (state_dir / READY).write_text(f"{os.getpid()}\n")
        print(f"demo fleet ready: {state_dir / 'dryrun.toml'}", flush=True)
        await stop.wait()
    watch.cancel()
    (state_dir / READY).unlink(missing_ok=True)
    print("demo fleet stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    import logging

    p = argparse.ArgumentParser(prog="python -m tui.demo_fleet", description="the fleet of `dryrun demo`")
    p.add_argument("state_dir", type=Path)
    p.add_argument("--chaos", default="light")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(a.state_dir.absolute(), a.chaos, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

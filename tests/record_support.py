"""Helpers for the record tests: a config, a dry_run/ folder, synthetic run events."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import tomli_w

from record.events_log import EventsLog
from record.layout import DryRunDir
from runners.config import Config, load_config
from runners.events import CheckFinished, CheckStarted, RpcLatency, RunFinished, RunStarted

HOST = "cam-01"


def write_config(tmp: Path, *, hosts: tuple[str, ...] = (HOST,), extra: dict | None = None,
                 secret_file: str = "") -> Config:
    """A dryrun.toml in ``tmp`` whose hosts point at a closed loopback port (never contacted
    by the record tests)."""
    data: dict = {
        "sprint": {"baseline": "v1.2.3-cdr", "start_date": "2025-11-24", "owners": {"pm": "Pat", "dev": "Dana",
                                                                                   "ivv": "Ivy"}},
        "hosts": [{"name": h, "rpc_url": "ws://127.0.0.1:9/ws",
                   "auth": ({"secret_file": secret_file} if secret_file else {})} for h in hosts],
    }
    for k, v in (extra or {}).items():
        data.setdefault(k, {}).update(v) if isinstance(v, dict) else data.__setitem__(k, v)
    path = tmp / "dryrun.toml"
    path.write_text(tomli_w.dumps(data))
    return load_config(path)


def dry(tmp: Path) -> DryRunDir:
    d = DryRunDir(tmp / "dry_run")
    d.root.mkdir(parents=True, exist_ok=True)
    return d


_ids = itertools.count(1)


def record_run(d: DryRunDir, label: str, outcomes: dict[str, str] | list[tuple[str, str, str]], *,
               host: str = HOST, durations: dict[str, float] | None = None, latencies: list[tuple[str, float]] = (),
               summary: str = "", fault: str = "", write_log: bool = True) -> str:
    """Append one run's events to the events log. ``outcomes``: {check: outcome} on ``host``,
    or [(host, check, outcome)]. Writes a pytest-style log with failure sections too."""
    run_id = f"run{next(_ids):04d}"
    rows = [(host, c, o) for c, o in outcomes.items()] if isinstance(outcomes, dict) else list(outcomes)
    hosts = tuple(dict.fromkeys(h for h, _, _ in rows))
    checks = tuple(dict.fromkeys(c for _, c, _ in rows))
    log = EventsLog(d.events_log)
    t = time.time()
    events = [RunStarted(hosts=hosts, checks=checks, label=label, run_id=run_id, ts=t)]
    attempts: dict[tuple[str, str], int] = {}
    for h, c, o in rows:
        attempts[(h, c)] = attempts.get((h, c), 0) + 1
        a = attempts[(h, c)]
        events.append(CheckStarted(host=h, check=c, attempt=a, run_id=run_id))
        bad = o in ("failed", "error")
        events.append(CheckFinished(host=h, check=c, outcome=o, duration=(durations or {}).get(c, 0.5), attempt=a,
                                    summary=(summary or f"{c} broke after 1.5 s on {h}") if bad else "ok",
                                    expected="x" if bad else "", seen="y" if bad else "",
                                    fault=fault if bad else "", run_id=run_id))
    for method, ms in latencies:
        events.append(RpcLatency(host=host, method=method, ms=ms, run_id=run_id))
    n = {o: sum(1 for _, _, x in rows if x == o) for o in ("passed", "failed", "error", "skipped")}
    events.append(RunFinished(passed=n["passed"], failed=n["failed"], errors=n["error"], skipped=n["skipped"],
                              duration=2.0, run_id=run_id))
    log.append_many(events)
    path = d.log_for_label(label)
    if write_log and path is not None:
        lines = ["=" * 30 + " test session starts " + "=" * 29, f"label {label}", ""]
        for h, c, o in rows:
            lines.append(f"{h}::{c} {o.upper()} [ 50%] (0.50s)")
        lines.append("")
        for h, c, o in rows:
            if o in ("failed", "error"):
                lines += ["_" * 20 + f" {h}::{c} " + "_" * 20, f"{c} on {h} (attempt 1) FAILED",
                          "E   expected: x", "E   seen:     y", ""]
        lines.append("=" * 20 + " short test summary info " + "=" * 20)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return run_id

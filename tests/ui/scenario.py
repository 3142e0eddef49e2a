"""A fixed, realistic dry-run for UI tests and snapshots: two hosts, two smoke runs with a
failure, a triage register, a pass ledger, a frozen environment, and a fixed clock
(Tue 2026-11-24 10:30, day 2 of 3). Everything is written with fixed times and ids, so
the screens render the same way on every machine."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from record.envfreeze import env_sha
from record.layout import DryRunDir
from record.tomlio import dump_json, dump_toml
from runners.config import load_config
from runners.events import CheckFinished, CheckStarted, CheckStep, HostState, RunFinished, RunStarted

NOW = _dt.datetime(2026, 11, 24, 10, 30, 0).astimezone()
HOSTS = ("cam-01", "cam-02")
SMK = tuple(f"SMK-{i}" for i in range(1, 8))

CONFIG = """\
[sprint]
name = "MVP CDR dry-run"
baseline = "v1.4.0-cdr"
start_date = "2026-11-23"

[sprint.owners]
pm = "Pat"
dev = "Dana"
ivv = "Ivo"

[[hosts]]
name = "cam-01"
rpc_url = "ws://127.0.0.1:9/ws"
health_url = "http://127.0.0.1:9"
dialect = "current"

[[hosts]]
name = "cam-02"
rpc_url = "ws://127.0.0.1:9/ws"
health_url = "http://127.0.0.1:9"
dialect = "legacy"
"""


def clock() -> _dt.datetime:
    return NOW


def _ts(day: int, hh: int, mm: int, ss: float = 0.0) -> float:
    return _dt.datetime(2026, 11, day, hh, mm).astimezone().timestamp() + ss


RPC_EXCERPT = (
    {"t": 100.000, "dir": "out", "kind": "request", "method": "start_recording", "id": 7,
     "frame": {"jsonrpc": "2.0", "method": "start_recording", "id": 7, "params": {"device": "/dev/video0"}}},
    {"t": 100.041, "dir": "in", "kind": "response", "method": "start_recording", "id": 7, "latency_ms": 41.2,
     "frame": {"jsonrpc": "2.0", "id": 7, "result": {"device": "/dev/video0", "status": "RECORDING"}}},
    {"t": 103.050, "dir": "out", "kind": "request", "method": "stop_recording", "id": 8,
     "frame": {"jsonrpc": "2.0", "method": "stop_recording", "id": 8, "params": {"device": "/dev/video0"}}},
    {"t": 103.112, "dir": "in", "kind": "response", "method": "stop_recording", "id": 8, "latency_ms": 62.0,
     "frame": {"jsonrpc": "2.0", "id": 8, "result": {"status": "STOPPED", "file_size": 0}}},
)
LOG_EXCERPT = (
    '{"timestamp": "2026-11-24T09:40:12Z", "level": "INFO", "message": "recording started /dev/video0"}',
    '{"timestamp": "2026-11-24T09:40:15Z", "level": "ERROR", "message": "muxer flush failed: file size 0"}',
)


def _run(run_id: str, label: str, day: int, hh: int, mm: int, *, fail: set[tuple[str, str]]) -> list[dict]:
    t = _ts(day, hh, mm)
    evs: list = [RunStarted(hosts=HOSTS, checks=SMK, label=label, ts=t, run_id=run_id)]
    dt = 0.0
    passed = failed = 0
    for c in SMK:
        for h in HOSTS:
            dur = {"SMK-5": 3.4, "SMK-7": 3.1, "SMK-1": 0.3}.get(c, 0.6)
            start = t + dt
            evs.append(CheckStarted(host=h, check=c, ts=start, run_id=run_id))
            evs.append(CheckStep(host=h, check=c, message=f"{c} step on {h}", ts=start + 0.1, run_id=run_id))
            if (h, c) in fail:
                failed += 1
                evs.append(CheckFinished(
                    host=h, check=c, outcome="failed", duration=dur, ts=start + dur, run_id=run_id,
                    summary="recording stopped but the file is empty (0 bytes)",
                    expected="a playable recording that grew while recording", seen="file_size 0 after stop",
                    fault="assertion", rpc_excerpt=RPC_EXCERPT, log_excerpt=LOG_EXCERPT,
                    artifacts=(f"artifacts/{label}/{h}/rpc_trace.json",)))
            else:
                passed += 1
                evs.append(CheckFinished(host=h, check=c, outcome="passed", duration=dur, ts=start + dur,
                                         run_id=run_id, summary=f"{c} ok on {h}"))
            dt += 0.05
    evs.append(RunFinished(passed=passed, failed=failed, errors=0, skipped=0, duration=9.8, ts=t + 9.8,
                           run_id=run_id))
    return [e.to_dict() for e in evs]


def issues() -> list[dict]:
    base = {"cause": "", "repro": "", "workaround": "", "hosts": [], "run_id": "", "run_label": "",
            "log_ref": "", "artifacts": [], "fault": "", "fix_lines": -1, "verify_results": [],
            "escalated": False, "history": []}
    return [
        {**base, "id": "DRY-01", "smk": ["SMK-5"], "severity": "R", "cause": "product",
         "symptom": "recording stopped but the file is empty (0 bytes) [cam-02]",
         "suspect": "recording path (muxer flush)", "repro": "dryrun run -k SMK_5 --host cam-02",
         "owner": "Dana", "eta": "2026-11-24 16:00", "decision": "Fix now", "status": "open",
         "hosts": ["cam-02"], "created": "2026-11-23T10:20:00", "updated": "2026-11-23T10:31:00",
         "run_label": "02_smoke_run_1", "log_ref": "02_smoke_run_1.log:40-58",
         "history": [{"at": "2026-11-23T10:20:00", "change": "created from failure in 02_smoke_run_1"}]},
        {**base, "id": "DRY-02", "smk": ["SMK-7"], "severity": "A", "cause": "environment",
         "symptom": "lister p95 over budget while recording", "suspect": "concurrency",
         "owner": "Ivo", "eta": "2026-11-25", "decision": "Workaround", "workaround": "one lister during recording",
         "status": "open", "created": "2026-11-23T11:00:00", "updated": "2026-11-23T11:12:00"},
        {**base, "id": "DRY-03", "smk": ["SMK-2"], "severity": "G", "symptom": "legacy auth reply lacks role",
         "suspect": "auth", "owner": "Dana", "eta": "post-CDR", "decision": "Defer", "status": "verified",
         "verify_results": ["PASS"], "created": "2026-11-23T11:30:00", "updated": "2026-11-24T09:00:00"},
        {**base, "id": "DRY-04", "smk": ["SMK-4"], "severity": "R", "symptom": "snapshot EXIF missing on cam-01",
         "suspect": "snapshot path", "status": "open", "created": "2026-11-24T10:00:00",
         "updated": "2026-11-24T10:00:00"},
    ]


ENV = {
    "baseline": "v1.4.0-cdr",
    "lab": {"os": "Ubuntu 22.04.4 LTS", "kernel": "6.8.0-45-generic", "arch": "x86_64", "python": "3.11.7",
            "console": "0.1.0"},
    "hosts": {
        "cam-01": {"os": "Ubuntu 22.04.4 LTS", "kernel": "6.5.0-21-generic", "arch": "x86_64", "python": "3.10.12",
                   "mediamtx": "v1.9.3", "service_version": "2.1.0", "dialect": "current",
                   "cameras": ["camera0", "camera1"], "video_devices": ["/dev/video0", "/dev/video1"]},
        "cam-02": {"os": "Debian GNU/Linux 11 (bullseye)", "kernel": "5.10.0-28-amd64", "arch": "x86_64",
                   "python": "3.9.2", "mediamtx": "v1.5.1", "service_version": "1.8.4", "dialect": "legacy",
                   "cameras": ["/dev/video0", "/dev/video1"], "video_devices": ["/dev/video0", "/dev/video1"]},
    },
}


def build(root: Path) -> Path:
    """Write the scenario under ``root``; return the config path."""
    root.mkdir(parents=True, exist_ok=True)
    cfg_path = root / "dryrun.toml"
    cfg_path.write_text(CONFIG)
    d = DryRunDir(root / "dry_run")
    d.root.mkdir(parents=True, exist_ok=True)
    lines = _run("run0001aaaa", "02_smoke_run_1", 23, 10, 0, fail={("cam-02", "SMK-5")})
    lines += _run("run0002bbbb", "02_smoke_run_2", 24, 9, 40, fail={("cam-02", "SMK-5")})
    d.events_log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    for n in (1, 2):
        d.smoke_run_log(n).write_text(f"02_smoke_run_{n} (fixture)\n")
    dump_toml(d.triage_toml, {"version": 1, "issues": issues()})
    dump_toml(d.pass_ledger_toml, {"entries": [
        {"n": 1, "at": "2026-11-24T09:00:00", "dry_id": "DRY-03", "smk": ["SMK-2"], "attempt": 1, "result": "PASS",
         "log": "04_verify_DRY-03.log", "run_id": "run0003cccc", "note": ""}]})
    dump_json(d.env_frozen, {"sha256": env_sha(ENV), "frozen_at": "2026-11-23T08:55:00Z",
                             "collected_at": "2026-11-23T08:54:30Z", "matrix": ENV})
    dump_toml(d.sprint_state, {"start_date": "2026-11-23", "plan_written_at": "2026-11-23T08:50:00",
                               "iteration": 1, "closeouts": []})
    load_config(cfg_path)
    return cfg_path


def health() -> list[HostState]:
    """Fixed host health (the probe is off in snapshots)."""
    out = []
    for h in HOSTS:
        out.append(HostState(host=h, component="ssh", status="ok"))
        out.append(HostState(host=h, component="rpc", status="ok", detail="authenticated"))
        out.append(HostState(host=h, component="health", status="ok" if h == "cam-01" else "degraded",
                             detail="healthy" if h == "cam-01" else "degraded: /health/mediamtx slow"))
        out.append(HostState(host=h, component="cameras", status="ok", detail="2/2 connected"))
    return out

"""The smoke set SMK-1..7 against the simulator over real sockets: RPC over WebSocket, HTTP
health, SSH/SFTP, real JPEG and MP4 files. Every check must pass on both dialects, and
broken hosts (no SSH, unreachable, wrong token, dead SSH) must give clear per-host
failures with expected vs seen, never a hang."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from record.events_log import read_events
from record.layout import DryRunDir
from runners.config import Auth, Checks, Config, Run, SshTarget
from runners.pipeline import run_smoke
from runners.sim.fleet import make_specs, run_fleet
from runners.smoke.options import RunOptions
from runners.tokens import forge_token

pytestmark = pytest.mark.timeout(90)

FAST = dict(recording_seconds=1.5, concurrency_seconds=1.5, health_timeout=10.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cfg(tmp_path: Path, hosts, **checks) -> Config:
    return Config(checks=Checks(**{**FAST, **checks}), run=Run(dry_run_dir=str(tmp_path / "dry_run")),
                  hosts=tuple(hosts))


async def smoke(cfg: Config, **opts):
    d = DryRunDir(cfg.dry_run_path)
    label = opts.pop("label", "02_smoke_run_1")
    return await run_smoke(cfg, RunOptions(label=label, **opts), log_path=d.log_for_label(label))


def by_key(result):
    return {(r.host, r.check): r for r in result.results}


async def test_all_seven_pass_on_both_dialects_with_restart(tmp_path):
    specs = make_specs(2, dialect="mixed", discovery_delay=0.3)
    async with run_fleet(specs, tmp_path / "sim") as fleet:
        cfg = make_cfg(tmp_path, fleet.config().hosts, restart_before_health=True)
        res = await smoke(cfg)
        log = res.log_path.read_text()
        assert res.exit_code == 0, log
        assert [h.service.restarts for h in fleet.hosts] == [1, 1]  # SMK-1 really restarted each service
    rs = by_key(res)
    assert len(rs) == 14 and all(r.outcome == "passed" for r in rs.values())
    # Per-dialect evidence in the summaries (the form seen, the codes documented).
    assert "error -32001" in rs[("cam-01", "SMK-2")].summary
    assert "authenticated:false" in rs[("cam-02", "SMK-2")].summary
    assert "camera_not_found -32010" in rs[("cam-01", "SMK-6")].summary
    assert "camera_not_found -32004" in rs[("cam-02", "SMK-6")].summary
    assert "after the restart" in rs[("cam-01", "SMK-3")].summary
    assert rs[("cam-01", "SMK-1")].metrics["time_to_healthy_s"] > 0
    assert rs[("cam-01", "SMK-3")].metrics["discovery_s"] <= 10
    # The pytest-shaped log: progress, durations, latency table, closing line.
    assert re.search(r"^cam-02::SMK-5 PASSED \[ *\d+%\]", log, re.M)
    assert "slowest 10 durations" in log and "RPC latency vs the service's budgets" in log
    assert re.search(r"^14 passed, 0 failed in \d+\.\d\ds$", log.splitlines()[-1])
    # JUnit XML beside it.
    suite = ET.parse(res.junit_path).getroot().find("testsuite")
    assert suite.get("tests") == "14" and suite.get("failures") == "0" and suite.get("name") == "02_smoke_run_1"
    # Artifacts: real media, a redacted trace.
    for host in ("cam-01", "cam-02"):
        art = res.artifacts_dir / host
        from PIL import Image

        with Image.open(art / "snapshot.jpg") as img:
            img.load()
            assert img.size == (640, 480)
        import av

        with av.open(str(art / "recording.mp4")) as c:
            assert sum(1 for _ in c.decode(video=0)) >= 10
        doc = json.loads((art / "rpc_trace.json").read_text())
        text = (art / "rpc_trace.json").read_text()
        assert doc["entries"] and {"check", "client"} <= set(doc["entries"][0])
        assert "eyJ" not in text and "<redacted>" in text
        secret = Path(cfg.resolve(cfg.host(host).auth.secret_file)).read_text().strip()
        assert secret not in text and secret not in log
    # events.log.jsonl is the single source of truth for metrics.
    events = list(read_events(DryRunDir(cfg.dry_run_path).events_log))
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "run_started" and kinds.count("check_finished") == 14 and "rpc_latency" in kinds
    assert events[0]["label"] == "02_smoke_run_1" and all(e["run_id"] == res.run_id for e in events if e["run_id"])


async def test_host_without_ssh_fails_the_file_checks_saying_why(tmp_path):
    async with run_fleet(make_specs(1, discovery_delay=0.1), tmp_path / "sim") as fleet:
        h = fleet.config().hosts[0]
        h = dataclasses.replace(h, ssh=SshTarget(), logs=())
        res = await smoke(make_cfg(tmp_path, [h]))
    rs = by_key(res)
    assert res.exit_code == 1
    for check in ("SMK-4", "SMK-5"):
        r = rs[("cam-01", check)]
        assert r.outcome == "failed" and r.fault == "no_ssh"
        assert "over SSH" in r.expected and "host has no SSH configured" in r.seen
    # SMK-5 still verified what it could over RPC: the recording grew and stopped.
    assert "grew" in rs[("cam-01", "SMK-5")].seen
    assert [c for (_, c), r in rs.items() if r.outcome == "passed"] == ["SMK-1", "SMK-3", "SMK-2", "SMK-6", "SMK-7"] \
        or {c for (_, c), r in rs.items() if r.outcome == "passed"} == {"SMK-1", "SMK-2", "SMK-3", "SMK-6", "SMK-7"}


async def test_unreachable_host_errors_every_check_quickly(tmp_path):
    port = free_port()
    from runners.config import Host

    h = Host(name="ghost", rpc_url=f"ws://127.0.0.1:{port}/ws", health_url=f"http://127.0.0.1:{port}",
             auth=Auth(token_file=str(tmp_path / "token")))
    (tmp_path / "token").write_text(forge_token("admin"))
    t0 = time.monotonic()
    res = await smoke(make_cfg(tmp_path, [h], health_timeout=1.0, connect_timeout=1.0))
    assert time.monotonic() - t0 < 20
    assert res.exit_code == 1
    rs = by_key(res)
    assert len(rs) == 7
    for r in rs.values():
        assert r.outcome == "error", (r.check, r.outcome, r.summary)
        assert r.expected and r.seen
        assert "refused" in r.seen.lower() or "unreachable" in r.seen.lower(), r.seen
    assert rs[("ghost", "SMK-1")].fault == "unreachable"


async def test_wrong_token_is_a_clear_auth_failure(tmp_path):
    async with run_fleet(make_specs(1, dialect="legacy", discovery_delay=0.1), tmp_path / "sim") as fleet:
        h = fleet.config().hosts[0]
        (tmp_path / "token").write_text(forge_token("admin"))
        h = dataclasses.replace(h, auth=Auth(token_file=str(tmp_path / "token")))
        res = await smoke(make_cfg(tmp_path, [h]), keyword="SMK_2 or SMK_3 or SMK_6")
    rs = by_key(res)
    r2 = rs[("cam-01", "SMK-2")]
    assert r2.outcome == "failed" and r2.fault == "auth_rejected"
    assert "valid token to be accepted" in r2.expected and "authenticated:false" in r2.seen
    assert rs[("cam-01", "SMK-3")].fault == "auth_rejected"
    log = res.log_path.read_text()
    assert "E   expected: the valid token to be accepted" in log


async def test_token_only_host_reports_expired_case_not_exercised(tmp_path):
    async with run_fleet(make_specs(1, discovery_delay=0.1), tmp_path / "sim") as fleet:
        h = fleet.config().hosts[0]
        from runners.tokens import mint_token

        secret = Path(h.auth.secret_file).read_text().strip()
        (tmp_path / "token").write_text(mint_token(secret, role="admin"))
        h = dataclasses.replace(h, auth=Auth(token_file=str(tmp_path / "token")))
        res = await smoke(make_cfg(tmp_path, [h]), keyword="SMK_2 or SMK_6")
    rs = by_key(res)
    assert rs[("cam-01", "SMK-2")].outcome == "passed"
    assert "expired-token rejection NOT exercised" in rs[("cam-01", "SMK-2")].summary
    assert "permission_denied NOT exercised" in rs[("cam-01", "SMK-6")].summary


async def test_dead_ssh_gives_ssh_errors_and_the_rest_passes(tmp_path):
    async with run_fleet(make_specs(1, discovery_delay=0.1), tmp_path / "sim") as fleet:
        h = fleet.config().hosts[0]
        h = dataclasses.replace(h, ssh=dataclasses.replace(h.ssh, port=free_port()))
        res = await smoke(make_cfg(tmp_path, [h], connect_timeout=2.0))
    rs = by_key(res)
    for check in ("SMK-4", "SMK-5"):
        r = rs[("cam-01", check)]
        assert r.outcome == "error" and r.fault == "ssh", (r.fault, r.seen)
        assert "ssh" in r.seen.lower() or "refused" in r.seen.lower()
    assert {c for (_, c), r in rs.items() if r.outcome == "passed"} == {"SMK-1", "SMK-2", "SMK-3", "SMK-6", "SMK-7"}


async def test_one_camera_serialises_the_recorders(tmp_path):
    async with run_fleet(make_specs(1, cameras=1, discovery_delay=0.1), tmp_path / "sim") as fleet:
        cfg = make_cfg(tmp_path, fleet.config().hosts)
        t0 = time.monotonic()
        res = await smoke(cfg, keyword="SMK_5 or SMK_7")
        wall = time.monotonic() - t0
    assert res.exit_code == 0, res.log_path.read_text()
    # One camera: SMK-7's recorder waited for SMK-5's recording (or the other way round).
    assert wall >= 3.0
    events = [e for e in read_events(DryRunDir(cfg.dry_run_path).events_log) if e["kind"] == "check_step"]
    assert any("waiting for a free camera" in e["message"] for e in events)

"""The smoke set under the simulator's chaos profiles: every failure is attributed to an
injected fault (``chaos:<name>``, from the CHAOS marker in the host's service log), no
check passes when its own operation got a fault that breaks it (zero false PASS), and no
run hangs.

"Zero false PASS" is checked from the evidence, not from the checks' own claims: the run's
``rpc_trace.json`` holds every frame of every client of every check, so for each check
that passed we verify that none of its requests timed out, went unanswered or got one of
the errors chaos injects; and for every recording fault injected (``zero``/``truncate``)
we find the ``stop_recording`` that received it and require that SMK-5 did not pass.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import pytest

from record.layout import DryRunDir
from runners.config import Checks, Config, Run
from runners.pipeline import run_smoke
from runners.sim.chaos import Chaos
from runners.sim.fleet import make_specs, run_fleet
from runners.smoke.options import RunOptions

pytestmark = pytest.mark.timeout(120)

# Codes the simulator's chaos "error" fault answers with (service.py _chaos_error).
CHAOS_CODES = {-32603, -32050}
# Faults that break the operation they hit (no_exif is tolerated by SMK-4's documented
# timestamp fallback; slow_discovery only breaks SMK-3 when it pushes past the limit).
BREAKING_RPC = {"delay", "error", "drop"}
CHAOS_CHECKS = dict(recording_seconds=1.5, concurrency_seconds=1.5, rpc_timeout=1.5, connect_timeout=2.0,
                    health_timeout=15.0)


def cfg_for(tmp_path: Path, hosts, **checks) -> Config:
    return Config(checks=Checks(**{**CHAOS_CHECKS, **checks}), run=Run(dry_run_dir=str(tmp_path / "dry_run")),
                  hosts=tuple(hosts))


async def smoke(cfg: Config, **opts):
    d = DryRunDir(cfg.dry_run_path)
    return await run_smoke(cfg, RunOptions(label="02_smoke_run_1", **opts), log_path=d.smoke_run_log(1))


def trace_effects(trace_doc: dict) -> dict[tuple[str, int], list[tuple[str, object, str]]]:
    """(check, attempt) -> [(method, id, effect)] for requests that timed out, went
    unanswered or got a chaos error code, per client connection."""
    by_client: dict[tuple[str, int, int], list[dict]] = defaultdict(list)
    for e in trace_doc["entries"]:
        by_client[(e["check"], e["attempt"], e["client"])].append(e)
    out: dict[tuple[str, int], list] = defaultdict(list)
    for (check, attempt, _), entries in by_client.items():
        sent, answer, timed = {}, {}, set()
        for e in entries:
            if e["dir"] == "out" and e.get("kind") == "request":
                sent[e["id"]] = e["method"]
            elif e["dir"] == "in" and e.get("id") is not None and e.get("kind") in ("response", "error"):
                answer.setdefault(e["id"], e)
            elif e["dir"] == "meta" and e.get("kind") == "timeout":
                timed.add(e.get("id"))
        for i, m in sent.items():
            a = answer.get(i)
            if i in timed:
                out[(check, attempt)].append((m, i, "timeout"))
            elif a is None:
                out[(check, attempt)].append((m, i, "no_response"))
            elif a["kind"] == "error" and a["frame"]["error"]["code"] in CHAOS_CODES:
                out[(check, attempt)].append((m, i, f"error {a['frame']['error']['code']}"))
    return out


def stop_calls(trace_doc: dict) -> list[tuple[float, str, object, str]]:
    """(wall time, check, id, device) of every stop_recording request sent."""
    return [(e["wall"], e["check"], e["id"], (e["frame"].get("params") or {}).get("device"))
            for e in trace_doc["entries"] if e["dir"] == "out" and e.get("method") == "stop_recording"]


def assert_sound(result, fleet) -> dict[str, int]:
    """The two invariants, for every host of the run. Returns counts for the test's own checks."""
    stats = {"passed": 0, "failed": 0, "faults": 0}
    by_host = defaultdict(list)
    for r in result.results:
        by_host[r.host].append(r)
    for host in fleet.hosts:
        injected = host.service.chaos.injected
        stats["faults"] += len(injected)
        doc = json.loads((result.artifacts_dir / host.name / "rpc_trace.json").read_text())
        effects = trace_effects(doc)
        for r in by_host[host.name]:
            if r.outcome == "passed":
                stats["passed"] += 1
                # Zero false PASS: a passed check never saw a service fault on its own requests.
                assert not effects.get((r.check, r.attempt)), (host.name, r.check, effects[(r.check, r.attempt)])
            elif r.outcome in ("failed", "error"):
                stats["failed"] += 1
                # Every failure is attributed to a fault the simulator really injected on that host.
                assert r.fault.startswith("chaos:"), (host.name, r.check, r.fault, r.summary)
                name = r.fault.split(":", 1)[1]
                ops = {rec["op"] for rec in injected if rec["fault"] == name}
                assert ops, (host.name, r.check, r.fault, [(x["op"], x["fault"]) for x in injected])
                assert any(f"injected fault {name} on {op}" in r.summary for op in ops), r.summary
                assert r.log_excerpt and any("CHAOS fault=" + name in ln for ln in r.log_excerpt)
        # A recording fault breaks SMK-5: the check whose stop_recording got it must not pass.
        outcome = {(r.check, r.attempt): r.outcome for r in by_host[host.name]}
        stops = stop_calls(doc)
        for rec in injected:
            if rec["op"] != "recording" or rec["fault"] not in ("zero", "truncate"):
                continue
            cands = [s for s in stops if str(s[2]) == str(rec["id"]) and s[3] == rec.get("device")
                     and abs(s[0] - rec["ts"]) < 2.0]
            assert cands, ("no stop_recording matches", rec)
            for _, check, _, _ in cands:
                if check == "SMK-5":
                    assert outcome.get(("SMK-5", 1)) != "passed", ("false PASS", host.name, rec)
    return stats


@pytest.mark.parametrize("profile,seed", [("light", 3), ("medium", 5), ("heavy", 7), ("hellfire", 11)])
async def test_chaos_profiles_attribute_every_failure_and_never_pass_falsely(tmp_path, profile, seed):
    specs = make_specs(2, dialect="mixed", discovery_delay=0.2, chaos=profile, seed=seed)
    async with run_fleet(specs, tmp_path / "sim") as fleet:
        cfg = cfg_for(tmp_path, fleet.config().hosts)
        t0 = time.monotonic()
        res = await smoke(cfg)
        wall = time.monotonic() - t0
        stats = assert_sound(res, fleet)
    assert wall < 60, f"run took {wall:.1f} s"  # never a hang: bounded by the hard timeouts
    assert stats["passed"] + stats["failed"] == 14
    if profile in ("heavy", "hellfire"):
        assert stats["failed"] > 0 and stats["faults"] > 0
    assert res.exit_code == (1 if stats["failed"] else 0)


async def _forced(tmp_path, faults, *, keyword="", dialect="current", **checks):
    """One host whose chaos injects exactly ``faults`` on every offer (rate 1.0)."""
    async with run_fleet(make_specs(1, dialect=dialect, discovery_delay=0.2), tmp_path / "sim") as fleet:
        host = fleet.hosts[0]
        svc = host.service
        svc.chaos = Chaos("none", seed=1, faults=faults, rate=1.0, log=lambda line: svc.log.write("WARNING", line))
        cfg = cfg_for(tmp_path, fleet.config().hosts, **checks)
        res = await smoke(cfg, keyword=keyword)
        assert_sound(res, fleet)
        return {r.check: r for r in res.results}, fleet


@pytest.mark.parametrize("fault", ["zero", "truncate"])
async def test_recording_fault_fails_smk5_as_bad_media(tmp_path, fault):
    rs, _ = await _forced(tmp_path, {fault}, keyword="SMK_5")
    r = rs["SMK-5"]
    assert r.outcome == "failed" and r.fault == f"chaos:{fault}", (r.fault, r.summary)
    assert "decod" in r.expected or "decod" in r.seen


async def test_snapshot_without_exif_passes_on_the_timestamp_fallback_and_says_so(tmp_path):
    rs, _ = await _forced(tmp_path, {"no_exif"}, keyword="SMK_4", dialect="legacy")
    r = rs["SMK-4"]
    assert r.outcome == "passed" and r.metrics["exif"] == 0.0
    assert "no EXIF" in r.summary and "file mtime" in r.summary


async def test_rpc_delay_everywhere_fails_every_rpc_check_in_bounded_time(tmp_path):
    t0 = time.monotonic()
    rs, _ = await _forced(tmp_path, {"delay"}, rpc_timeout=1.0)
    assert time.monotonic() - t0 < 40
    assert rs["SMK-1"].outcome == "passed"  # health is HTTP and ping is never faulted
    for c in ("SMK-2", "SMK-3", "SMK-4", "SMK-5", "SMK-6", "SMK-7"):
        assert rs[c].outcome in ("failed", "error") and rs[c].fault == "chaos:delay", (c, rs[c].fault, rs[c].summary)


async def test_slow_discovery_after_restart_fails_smk3_attributed(tmp_path):
    async with run_fleet(make_specs(1, discovery_delay=0.6), tmp_path / "sim") as fleet:
        svc = fleet.hosts[0].service
        svc.chaos = Chaos("none", seed=1, faults={"slow_discovery"}, rate=1.0,
                          log=lambda line: svc.log.write("WARNING", line))
        cfg = cfg_for(tmp_path, fleet.config().hosts, restart_before_health=True, discovery_timeout=2.0)
        res = await smoke(cfg, keyword="SMK_1 or SMK_3")
        assert_sound(res, fleet)
    rs = {r.check: r for r in res.results}
    assert rs["SMK-1"].outcome == "passed"  # health waits out the slow discovery (3 s < 15 s)
    r = rs["SMK-3"]
    assert r.outcome == "failed" and r.fault == "chaos:slow_discovery", (r.fault, r.summary)
    assert "within 2 s of the restart" in r.expected

"""Chaos soak: many seeded smoke runs against a simulated host under ``--chaos heavy``.

Each iteration starts a fresh simulated host (its own seed, so its own fault sequence),
runs the whole smoke set in-process through the pipeline (engine -> record), and every
third iteration also files a DRY entry and verifies it (so the pass ledger is exercised
under chaos too). All iterations write into one shared ``dry_run/``.

Per iteration it proves, against the simulator's own ``chaos.injected`` list and the run's
``rpc_trace.json`` (every frame of every client of every check):

- no crash: no internal error, no ``internal:*`` fault, no record write error;
- no hang: the run ends within the sum of its checks' hard limits (and each check within
  its own limit plus the attribution fetch), guarded by a hard deadline;
- every failure is attributed (``chaos:<fault>``) to a fault really injected on *that*
  check's own requests or operations, and its log excerpt carries the fault's marker;
- every fault that breaks a request (delay, error, drop) or a recording (zero, truncate)
  is pinned to the check that sent it, and that check did not pass (zero false PASS);
- a check that passed had no request of its own time out or go unanswered;
- nothing lost: the events log holds exactly the events the run emitted (counted by a
  sink), and the ledger exactly one entry per verify, with the verify's run id.

The default run does ``FAST`` iterations; ``-m slow`` (and CI) the full ``FULL``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from record import ledger, triage
from record.events_log import EventsLog, read_events
from record.layout import DryRunDir
from record.verify import conclude, prepare
from runners.config import Checks, Config, Run
from runners.pipeline import run_smoke
from runners.sim.fleet import make_specs, run_fleet
from runners.smoke.engine import ATTRIBUTION_TIMEOUT
from runners.smoke.options import RunOptions
from runners.smoke.registry import default_registry

SEED_BASE = 7100
FAST = 12
FULL = 100
VERIFY_EVERY = 3
CHECKS = Checks(recording_seconds=1.5, concurrency_seconds=1.5, rpc_timeout=1.5, connect_timeout=2.0,
                health_timeout=10.0, discovery_timeout=3.0)
BREAKING_RPC = {"delay", "error", "drop"}
BREAKING_RECORDING = {"zero", "truncate"}
# Non-RPC operations and the checks that exercise them (discovery: every check that waits
# for a CONNECTED camera; recording: SMK-5 and SMK-7's recorder).
OP_CHECKS = {"discovery": {"SMK-3", "SMK-4", "SMK-5", "SMK-7"}, "snapshot": {"SMK-4"},
             "recording": {"SMK-5", "SMK-7"}}
TS_SLACK = 1.0  # s between the client's send (trace wall time) and the sim's pick (chaos ts)


# ------------------------------------------------------------------ time bounds

def run_bound(cfg: Config) -> float:
    """The longest a run may take by its own hard limits: the barrier (SMK-1) alone, then the
    longest of the others, each plus its attribution fetch; plus start/teardown slack."""
    reg = default_registry()
    barrier = sum(s.timeout(cfg.checks) + ATTRIBUTION_TIMEOUT for s in reg.values() if s.barrier)
    rest = max(s.timeout(cfg.checks) + ATTRIBUTION_TIMEOUT for s in reg.values() if not s.barrier)
    return barrier + rest + 15.0


# ------------------------------------------------------------------ evidence from the trace

def requests_by_check(trace: dict) -> list[dict]:
    """Every request sent, with how it ended on its own connection: ok | error | timeout | no_response."""
    by_client: dict[tuple, list[dict]] = defaultdict(list)
    for e in trace["entries"]:
        by_client[(e["check"], e["attempt"], e["client"])].append(e)
    out = []
    for (check, attempt, client), entries in by_client.items():
        sent: dict = {}
        answer: dict = {}
        timed: set = set()
        for e in entries:
            if e["dir"] == "out" and e.get("kind") == "request":
                sent[e["id"]] = e
            elif e["dir"] == "in" and e.get("id") is not None and e.get("kind") in ("response", "error"):
                answer.setdefault(e["id"], e)
            elif e["dir"] == "meta" and e.get("kind") == "timeout":
                timed.add(e.get("id"))
        for rid, e in sent.items():
            a = answer.get(rid)
            how = ("timeout" if rid in timed else "no_response" if a is None
                   else "error" if a["kind"] == "error" else "ok")
            out.append({"check": check, "attempt": attempt, "client": client, "id": rid, "method": e["method"],
                        "wall": e["wall"], "how": how, "params": (e.get("frame") or {}).get("params")})
    return out


# How a request ends when chaos hits it with each fault.
EFFECT = {"delay": {"timeout", "no_response"}, "drop": {"no_response", "timeout"}, "error": {"error"}}


def owner_of(rec: dict, reqs: list[dict]) -> list[dict]:
    """The request(s) an injected fault hit: same method and request id, sent around the
    fault's time; for an RPC fault, the one(s) that ended the way that fault ends a request
    (ids are per connection, so two clients may share one at the same moment)."""
    op, fault = rec["op"], rec["fault"]
    if op.startswith("rpc:"):
        cands = [r for r in reqs if r["method"] == op[4:] and str(r["id"]) == str(rec["id"])
                 and abs(r["wall"] - rec["ts"]) < TS_SLACK]
        hit = [r for r in cands if r["how"] in EFFECT.get(fault, set())]
        return hit or cands
    if op == "recording":  # the fault lands on stop_recording (the file is finalised then)
        return [r for r in reqs if r["method"] == "stop_recording" and str(r["id"]) == str(rec["id"])
                and (r["params"] or {}).get("device") == rec.get("device") and abs(r["wall"] - rec["ts"]) < TS_SLACK]
    return []


def assert_sound(res, host, trace: dict, bound_per_check: dict[str, float]) -> Counter:
    """The invariants of one run on one host (see the module docstring). Returns tallies."""
    tally: Counter = Counter()
    injected = list(host.service.chaos.injected)
    reqs = requests_by_check(trace)
    results = {(r.check, r.attempt): r for r in res.results if r.host == host.name}
    assert len(results) == 7, sorted(results)
    assert not res.internal_error and not res.record_errors, (res.internal_error, res.record_errors)

    # Which (check, attempt) each injected fault landed on.
    hit_checks: dict[tuple, list[dict]] = defaultdict(list)
    for rec in injected:
        tally[f"fault:{rec['fault']}"] += 1
        owners = owner_of(rec, reqs)
        if rec["op"].startswith("rpc:"):
            assert owners, ("an RPC fault matches no request in rpc_trace.json", rec)
        for o in owners:
            hit_checks[(o["check"], o["attempt"])].append(rec)
        for o in owners:  # zero false PASS: the check whose request was broken did not pass
            breaks = (rec["fault"] in BREAKING_RPC and rec["op"].startswith("rpc:")) or (
                rec["fault"] in BREAKING_RECORDING and o["check"] == "SMK-5")
            if breaks and len({(x["check"], x["attempt"]) for x in owners}) == 1:
                r = results[(o["check"], o["attempt"])]
                assert r.outcome != "passed", ("false PASS", host.name, r.check, rec, r.summary)
                tally["broken_and_caught"] += 1

    for key, r in results.items():
        assert not r.fault.startswith("internal:"), (r.check, r.seen)
        assert r.duration <= bound_per_check[r.check], (r.check, r.duration, bound_per_check[r.check])
        own = [q for q in reqs if (q["check"], q["attempt"]) == key]
        if r.outcome == "passed":
            tally["passed"] += 1
            # (error answers can be the point: SMK-2 wants rejections, SMK-6 an error code; chaos
            # errors are covered by the ownership rule above)
            bad = [q for q in own if q["how"] in ("timeout", "no_response")]
            assert not bad, ("a passed check lost requests", host.name, r.check, bad)
            continue
        assert r.outcome in ("failed", "error"), (r.check, r.outcome, r.summary)
        tally["failed"] += 1
        # Attributed to a fault injected on this check's own requests or operations.
        assert r.fault.startswith("chaos:"), ("failure not attributed to chaos", host.name, r.check, r.fault,
                                              r.summary, [(x["op"], x["fault"]) for x in injected])
        name = r.fault.split(":", 1)[1]
        mine = [x for x in hit_checks.get(key, []) if x["fault"] == name]
        mine += [x for x in injected if x["fault"] == name and r.check in OP_CHECKS.get(x["op"], ())
                 and f"on {x['op']}]" in r.summary]
        assert mine, ("attributed to a fault not injected on this check", host.name, r.check, r.fault, r.summary,
                      {k: [(x["op"], x["fault"], x["id"]) for x in v] for k, v in hit_checks.items()})
        # The evidence names it: the marker line is in the failure's log excerpt.
        assert any(f"CHAOS fault={name} " in ln for ln in r.log_excerpt), (r.check, r.log_excerpt)
        tally[f"attributed:{name}"] += 1
    return tally


# ------------------------------------------------------------------ the soak

async def one_iteration(i: int, tmp: Path, d: DryRunDir, state: dict) -> Counter:
    spec = make_specs(1, dialect=("current", "legacy")[i % 2], discovery_delay=0.1, chaos="heavy",
                      seed=SEED_BASE + i)
    async with run_fleet(spec, tmp / "sim" / str(i)) as fleet:
        host = fleet.hosts[0]
        cfg = Config(checks=CHECKS, run=Run(dry_run_dir=str(d.root)), hosts=tuple(fleet.config().hosts))
        bound = run_bound(cfg)
        per_check = {k: s.timeout(CHECKS) + ATTRIBUTION_TIMEOUT + 1.0 for k, s in default_registry().items()}
        seen: list[str] = []
        label = f"02_smoke_run_{i + 1}"
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(bound):
                res = await run_smoke(cfg, RunOptions(label=label), log_path=d.smoke_run_log(i + 1),
                                      sinks=[lambda ev: seen.append(ev.kind)])
        except TimeoutError:
            pytest.fail(f"iteration {i} (seed {SEED_BASE + i}): run still going after its bound of {bound:.0f} s")
        wall = time.monotonic() - t0
        trace = json.loads((res.artifacts_dir / host.name / "rpc_trace.json").read_text())
        tally = assert_sound(res, host, trace, per_check)
        tally["wall_max_ms"] = int(wall * 1000)
        assert res.exit_code == (1 if tally["failed"] else 0), (res.exit_code, tally)

        # Nothing lost in the events log: exactly what the run emitted, in order.
        lines = [e for e in read_events(d.events_log) if e.get("run_id") == res.run_id]
        assert [e["kind"] for e in lines] == seen, (i, Counter(seen) - Counter(e["kind"] for e in lines))
        state["smoke_events"] += len(seen)

        # Every few iterations: file the first failure (or SMK-1) and verify it under chaos.
        if i % VERIFY_EVERY == VERIFY_EVERY - 1:
            failed = [r for r in res.results if r.outcome != "passed"]
            check = failed[0].check if failed else "SMK-1"
            log = EventsLog(d.events_log)
            issue = triage.add_issue(d, {"smk": check, "symptom": f"soak {i}"},
                                     extra={"hosts": [host.name], "run_label": label}, log=log)
            plan = prepare(d, issue.id)
            vseen: list[str] = []
            async with asyncio.timeout(bound):
                vres = await run_smoke(cfg, RunOptions(keyword=plan.keyword, maxfail=1, hosts=(host.name,),
                                                       label=plan.label, respect_quarantine=False),
                                       log_path=plan.log_path, sinks=[lambda ev: vseen.append(ev.kind)])
            out = conclude(d, plan, vres.results, run_id=vres.run_id, log=log)
            state["verifies"].append((issue.id, out.result, vres.run_id))
            vlines = [e for e in read_events(d.events_log) if e.get("run_id") == vres.run_id]
            assert [e["kind"] for e in vlines] == vseen
            state["smoke_events"] += len(vseen)
            tally["verified"] += 1
    return tally


async def soak(tmp_path: Path, iterations: int) -> Counter:
    d = DryRunDir(tmp_path / "dry_run")
    state: dict = {"smoke_events": 0, "verifies": []}
    total: Counter = Counter()
    for i in range(iterations):
        try:
            t = await one_iteration(i, tmp_path, d, state)
        except AssertionError as e:
            raise AssertionError(f"iteration {i} (seed {SEED_BASE + i}, heavy): {e}") from None
        wall = t.pop("wall_max_ms")
        total.update(t)
        total["wall_max_ms"] = max(total["wall_max_ms"], wall)
    # Across the whole soak: the ledger holds every verify exactly once, in order.
    entries = ledger.load_ledger(d)
    assert [(e.dry_id, e.result, e.run_id) for e in entries] == state["verifies"]
    assert [e.n for e in entries] == list(range(1, len(entries) + 1))
    events = list(read_events(d.events_log))
    kinds = Counter(e["kind"] for e in events)
    assert kinds["verify_result"] == len(state["verifies"]) == kinds["triage_added"]
    record_kinds = {"verify_result", "triage_added", "triage_updated", "fix_verified"}
    runner_lines = sum(n for k, n in kinds.items() if k not in record_kinds)
    assert runner_lines == state["smoke_events"], (runner_lines, state["smoke_events"], kinds)
    assert len(triage.load_register(d).issues) == len(state["verifies"])
    return total


def check_totals(total: Counter, iterations: int) -> None:
    # The soak must actually have been under fire, or it proves nothing.
    assert total["failed"] > iterations // 2, total
    assert total["broken_and_caught"] > iterations // 2, total
    assert sum(v for k, v in total.items() if k.startswith("fault:")) > iterations, total


# Backstops only: each iteration has its own hard deadline (run_bound) that fails first.
@pytest.mark.timeout(300)
async def test_heavy_chaos_soak_fast(tmp_path):
    total = await soak(tmp_path, FAST)
    check_totals(total, FAST)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_heavy_chaos_soak_full_100(tmp_path):
    total = await soak(tmp_path, FULL)
    check_totals(total, FULL)
    print(f"chaos soak x{FULL}: {dict(sorted(total.items()))}")

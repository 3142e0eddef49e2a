"""The smoke engine's flow (selection, ordering, --count, --ff, --maxfail, fail-fast modes,
quarantine, hard timeouts, cancel, parallel hosts) with small real check functions
registered for the test. No service is involved: these checks exercise the engine."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from runners.config import Checks, Config, Host, Run
from runners.errors import RpcError, TransportError
from runners.events import CheckFinished, CheckStarted, Notice, RunFinished, RunStarted
from runners.smoke.cameras import CameraPool
from runners.smoke.engine import SmokeEngine
from runners.smoke.options import RunOptions
from runners.smoke.outcome import CheckFailed, Passed
from runners.smoke.registry import CheckSpec

pytestmark = pytest.mark.timeout(30)


def cfg(tmp_path, n_hosts=1, **checks) -> Config:
    hosts = tuple(Host(name=f"h{i}", rpc_url="ws://127.0.0.1:9/ws") for i in range(1, n_hosts + 1))
    return Config(checks=Checks(**checks), run=Run(dry_run_dir=str(tmp_path / "dry_run")), hosts=hosts)


def passing(delay=0.0, log=None):
    async def fn(ctx):
        if log is not None:
            log.append(("start", ctx.run.name, ctx.check, ctx.attempt, time.monotonic()))
        ctx.emit_step("working")
        await asyncio.sleep(delay)
        if log is not None:
            log.append(("end", ctx.run.name, ctx.check, ctx.attempt, time.monotonic()))
        return Passed(f"{ctx.check} ok", {"x": 1.0})
    return fn


def failing(delay=0.0):
    async def fn(ctx):
        await asyncio.sleep(delay)
        raise CheckFailed("the answer 42", "41", fault="assertion")
    return fn


def raising(exc, delay=0.0):
    async def fn(ctx):
        ctx.expect("the call to succeed")
        await asyncio.sleep(delay)
        raise exc
    return fn


def registry(**fns) -> dict[str, CheckSpec]:
    """SMK-1 is the barrier, as in the real registry; timeouts 5 s unless given as (fn, t)."""
    reg = {}
    for name, fn in fns.items():
        cid = name.replace("_", "-")
        fn, t = fn if isinstance(fn, tuple) else (fn, 5.0)
        reg[cid] = CheckSpec(cid, f"title of {cid}", fn, (lambda t: lambda c: t)(t), barrier=(cid == "SMK-1"))
    return reg


async def collect(engine: SmokeEngine) -> list:
    return [ev async for ev in engine.events()]


def finished(evs) -> list[CheckFinished]:
    return [e for e in evs if isinstance(e, CheckFinished)]


async def test_barrier_first_then_the_rest_concurrently(tmp_path):
    log: list = []
    reg = registry(SMK_1=passing(0.05, log), SMK_2=passing(0.2, log), SMK_3=passing(0.2, log))
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(), artifacts_dir=tmp_path, registry=reg))
    starts = {e[2]: e[4] for e in log if e[0] == "start"}
    ends = {e[2]: e[4] for e in log if e[0] == "end"}
    wall = max(ends.values()) - min(starts.values())  # the checks' span (the engine's warm-up is before it)
    assert starts["SMK-2"] >= ends["SMK-1"] and starts["SMK-3"] >= ends["SMK-1"]
    assert abs(starts["SMK-2"] - starts["SMK-3"]) < 0.05  # concurrent, not one after the other
    assert wall < 0.45  # 0.05 + 0.2, not 0.45
    assert isinstance(evs[0], RunStarted) and isinstance(evs[-1], RunFinished)
    assert evs[-1].passed == 3 and evs[-1].failed == 0


async def test_keyword_selection_and_deselected_count(tmp_path):
    reg = registry(SMK_1=passing(), SMK_2=passing(), SMK_3=passing(), SMK_5=passing())
    eng = SmokeEngine(cfg(tmp_path, 2), RunOptions(keyword="SMK_3 or SMK-5"), artifacts_dir=tmp_path, registry=reg)
    assert eng.selected == [("h1", "SMK-3"), ("h1", "SMK-5"), ("h2", "SMK-3"), ("h2", "SMK-5")]
    evs = await collect(eng)
    assert evs[0].options["deselected"] == 4 and evs[0].checks == ("SMK-3", "SMK-5")
    assert sorted((r.host, r.check) for r in finished(evs)) == sorted(eng.selected)
    eng = SmokeEngine(cfg(tmp_path, 2), RunOptions(keyword="SMK_3 and h2"), artifacts_dir=tmp_path, registry=reg)
    assert eng.selected == [("h2", "SMK-3")]


async def test_failed_first_runs_last_failures_first_after_the_barrier(tmp_path):
    log: list = []
    reg = registry(SMK_1=passing(0, log), SMK_2=passing(0, log), SMK_3=passing(0, log), SMK_4=passing(0, log))
    eng = SmokeEngine(cfg(tmp_path), RunOptions(failed_first=True), artifacts_dir=tmp_path, registry=reg,
                      last_failed={("h1", "SMK-4"), ("other", "SMK-3")})
    assert eng.plan["h1"] == ["SMK-1", "SMK-4", "SMK-2", "SMK-3"]
    evs = await collect(eng)
    started = [e.check for e in evs if isinstance(e, CheckStarted)]
    assert started == ["SMK-1", "SMK-4", "SMK-2", "SMK-3"]
    # without --ff the cache is ignored
    eng = SmokeEngine(cfg(tmp_path), RunOptions(), artifacts_dir=tmp_path, registry=reg, last_failed={("h1", "SMK-4")})
    assert eng.plan["h1"] == ["SMK-1", "SMK-2", "SMK-3", "SMK-4"]


async def test_count_repeats_each_check_in_rounds(tmp_path):
    log: list = []
    reg = registry(SMK_1=passing(0, log), SMK_3=passing(0.01, log))
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(count=3), artifacts_dir=tmp_path, registry=reg))
    got = [(r.check, r.attempt) for r in finished(evs)]
    assert got == [("SMK-1", 1), ("SMK-3", 1), ("SMK-1", 2), ("SMK-3", 2), ("SMK-1", 3), ("SMK-3", 3)]
    assert evs[0].options["total"] == 6


async def test_maxfail_stops_new_checks_and_lets_running_ones_finish(tmp_path):
    reg = registry(SMK_1=passing(), SMK_2=failing(0.01), SMK_3=passing(0.3))
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(maxfail=1, count=2), artifacts_dir=tmp_path,
                                    registry=reg))
    rs = finished(evs)
    # SMK-3 of round 1 was running when SMK-2 failed: it finished and passed; round 2 never started.
    assert [(r.check, r.outcome) for r in rs] == [("SMK-1", "passed"), ("SMK-2", "failed"), ("SMK-3", "passed")]
    assert evs[-1].stopped_early == "maxfail" and not evs[-1].interrupted
    (note,) = [e for e in evs if isinstance(e, Notice) and e.code == "EARLY_EXIT_DETECTED"]
    assert "first failure h1::SMK-2 after" in note.message


async def test_failfast_soft_keeps_partial_results(tmp_path):
    reg = registry(SMK_2=failing(0.01), SMK_3=passing(0.2), SMK_4=passing(0.2))
    evs = await collect(SmokeEngine(cfg(tmp_path, 2, max_parallel_hosts=1), RunOptions(failfast="soft"),
                                    artifacts_dir=tmp_path, registry=reg))
    rs = finished(evs)
    assert {(r.host, r.check, r.outcome) for r in rs} == {("h1", "SMK-2", "failed"), ("h1", "SMK-3", "passed"),
                                                         ("h1", "SMK-4", "passed")}  # h2 never started
    assert evs[-1].stopped_early == "failfast:soft"
    assert any(isinstance(e, Notice) and e.code == "FAILFAST_MODE_APPLIED" for e in evs)


async def test_failfast_hard_cancels_running_checks_at_once(tmp_path):
    reg = registry(SMK_2=failing(0.05), SMK_3=passing(5.0), SMK_4=passing(5.0))
    t0 = time.monotonic()
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(failfast="hard"), artifacts_dir=tmp_path, registry=reg))
    assert time.monotonic() - t0 < 1.0
    rs = {r.check: r for r in finished(evs)}
    assert rs["SMK-2"].outcome == "failed"
    assert rs["SMK-3"].outcome == "skipped" and rs["SMK-3"].fault == "cancelled"
    assert "fail-fast hard" in rs["SMK-3"].summary and "working" in rs["SMK-3"].summary
    assert evs[-1].stopped_early == "failfast:hard"


async def test_quarantine_skips_with_the_recorded_reason(tmp_path):
    reg = registry(SMK_1=passing(), SMK_3=passing(), SMK_4=passing())
    q = {"SMK_3": "flaky discovery, DRY-04", "h2::SMK-4": "camera swapped on h2"}
    evs = await collect(SmokeEngine(cfg(tmp_path, 2), RunOptions(), artifacts_dir=tmp_path, registry=reg,
                                    quarantine=q))
    rs = {(r.host, r.check): r for r in finished(evs)}
    assert rs[("h1", "SMK-3")].outcome == "skipped" and rs[("h1", "SMK-3")].summary == "quarantined: flaky discovery, DRY-04"
    assert rs[("h2", "SMK-4")].outcome == "skipped" and rs[("h1", "SMK-4")].outcome == "passed"
    assert not any(isinstance(e, CheckStarted) and e.check == "SMK-3" for e in evs)
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(respect_quarantine=False), artifacts_dir=tmp_path,
                                    registry=reg, quarantine=q))
    assert all(r.outcome == "passed" for r in finished(evs))


async def test_hard_timeout_is_an_error_naming_the_last_step(tmp_path):
    reg = registry(SMK_3=(passing(10.0), 0.2))
    t0 = time.monotonic()
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(), artifacts_dir=tmp_path, registry=reg))
    assert time.monotonic() - t0 < 1.5
    (r,) = finished(evs)
    assert r.outcome == "error" and r.fault == "timeout"
    assert "0.2 s" in r.expected and "last step: working" in r.seen


async def test_errors_escaping_a_check_are_classified(tmp_path):
    reg = registry(SMK_2=raising(RpcError("take_snapshot", -32603, "Internal error", meaning="internal_error")),
                   SMK_3=raising(TransportError("connection refused by 127.0.0.1:9")),
                   SMK_4=raising(KeyError("oops")))
    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(), artifacts_dir=tmp_path, registry=reg))
    rs = {r.check: r for r in finished(evs)}
    assert (rs["SMK-2"].outcome, rs["SMK-2"].fault) == ("failed", "rpc_error:-32603")
    assert rs["SMK-2"].expected == "the call to succeed" and "-32603" in rs["SMK-2"].seen
    assert (rs["SMK-3"].outcome, rs["SMK-3"].fault) == ("error", "unreachable")
    assert rs["SMK-4"].outcome == "error" and rs["SMK-4"].fault == "internal:KeyError"
    assert "console bug" in rs["SMK-4"].seen
    assert evs[-1].failed == 1 and evs[-1].errors == 2


async def test_cancel_ends_the_run_promptly(tmp_path):
    reg = registry(SMK_1=passing(), SMK_2=passing(10.0), SMK_3=passing(10.0))
    eng = SmokeEngine(cfg(tmp_path, 3), RunOptions(), artifacts_dir=tmp_path, registry=reg)
    evs = []
    t0 = time.monotonic()
    async for ev in eng.events():
        evs.append(ev)
        if isinstance(ev, CheckStarted) and ev.check == "SMK-3" and ev.host == "h3":
            eng.cancel()
    assert time.monotonic() - t0 < 2.0
    assert evs[-1].interrupted and evs[-1].stopped_early == ""
    assert all(r.outcome in ("passed", "skipped") for r in finished(evs))
    assert any(r.fault == "cancelled" and "interrupted" in r.summary for r in finished(evs))


async def test_closing_the_iterator_early_cancels_the_run(tmp_path):
    reg = registry(SMK_2=passing(10.0))
    eng = SmokeEngine(cfg(tmp_path), RunOptions(), artifacts_dir=tmp_path, registry=reg)
    t0 = time.monotonic()
    agen = eng.events()
    async for ev in agen:
        if isinstance(ev, CheckStarted):
            break
    await agen.aclose()
    assert time.monotonic() - t0 < 2.0
    assert eng._runner.done()
    assert isinstance(eng.drain_pending()[-1], RunFinished)


async def test_hosts_run_in_parallel_bounded_by_max_parallel_hosts(tmp_path):
    active = {"now": 0, "max": 0}

    async def probe(ctx):
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.1)
        active["now"] -= 1
        return Passed("ok")

    reg = registry(SMK_3=probe)
    t0 = time.monotonic()
    evs = await collect(SmokeEngine(cfg(tmp_path, 6, max_parallel_hosts=2), RunOptions(), artifacts_dir=tmp_path,
                                    registry=reg))
    assert active["max"] == 2 and evs[-1].passed == 6
    assert 0.28 < time.monotonic() - t0 < 0.6  # 3 waves of 0.1 s


async def test_bad_options_and_unknown_hosts_are_rejected_up_front(tmp_path):
    reg = registry(SMK_1=passing())
    with pytest.raises(ValueError, match="--host nope: not a configured host"):
        SmokeEngine(cfg(tmp_path), RunOptions(hosts=("nope",)), artifacts_dir=tmp_path, registry=reg)
    with pytest.raises(ValueError, match="column"):
        SmokeEngine(cfg(tmp_path), RunOptions(keyword="SMK_1 or"), artifacts_dir=tmp_path, registry=reg)
    with pytest.raises(ValueError, match="--failfast"):
        RunOptions(failfast="sometimes").validate()
    with pytest.raises(ValueError, match="no hosts configured"):
        SmokeEngine(Config(), RunOptions(), artifacts_dir=tmp_path, registry=reg)


async def test_camera_pool_gives_distinct_cameras_then_queues():
    pool = CameraPool()
    order: list = []

    async def user(name, hold):
        async with pool.lease(["c0", "c1"]) as cam:
            order.append((name, cam, "in"))
            await asyncio.sleep(hold)
            order.append((name, cam, "out"))

    await asyncio.gather(user("a", 0.05), user("b", 0.05), user("c", 0.01))
    ins = [(n, c) for n, c, w in order if w == "in"]
    assert ins[0][1] != ins[1][1]  # the first two got different cameras
    assert order.index(("c", ins[2][1], "in")) > min(order.index(("a", ins[0][1], "out")),
                                                     order.index(("b", ins[1][1], "out")))


async def test_pipeline_records_an_interrupted_run_when_its_task_is_cancelled(tmp_path):
    """A TUI worker being cancelled (or Ctrl-C in asyncio.run) still leaves a complete log."""
    from record.layout import DryRunDir
    from runners.pipeline import run_smoke

    c = cfg(tmp_path)
    d = DryRunDir(c.dry_run_path)
    started = asyncio.Event()

    def sink(ev):
        if isinstance(ev, CheckStarted) and ev.check == "SMK-3":
            started.set()

    reg = registry(SMK_1=passing(), SMK_3=passing(10.0))
    task = asyncio.create_task(run_smoke(c, RunOptions(), log_path=d.smoke_run_log(1), sinks=[sink], registry=reg))
    await asyncio.wait_for(started.wait(), 5)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 3
    text = d.smoke_run_log(1).read_text()
    assert "h1::SMK-1 PASSED" in text and "cancelled: the run was interrupted" in text
    assert "Interrupted" in text and text.splitlines()[-1] == text.splitlines()[-1].rstrip()
    assert re.search(r"^1 passed, 0 failed, 1 skipped in \d+\.\d\ds$", text.splitlines()[-1])
    kinds = [json.loads(x)["kind"] for x in d.events_log.read_text().splitlines()]
    assert kinds[-1] == "run_finished"


async def test_pipeline_exit_codes_and_a_sink_that_raises_does_not_break_the_run(tmp_path):
    from record.layout import DryRunDir
    from runners.pipeline import run_smoke

    c = cfg(tmp_path)
    d = DryRunDir(c.dry_run_path)

    def broken(ev):
        raise RuntimeError("display died")

    ok = await run_smoke(c, RunOptions(), log_path=d.smoke_run_log(1), registry=registry(SMK_1=passing()),
                         sinks=[broken])
    assert ok.exit_code == 0 and any("display died" in e for e in ok.record_errors)
    bad = await run_smoke(c, RunOptions(), log_path=d.smoke_run_log(2), registry=registry(SMK_1=failing()))
    assert bad.exit_code == 1 and bad.summary()["failed"] == 1
    assert d.lastfailed.exists() and "h1::SMK-1" in d.lastfailed.read_text()


async def test_service_text_in_results_is_redacted_bounded_and_neutralised(tmp_path):
    from runners.tokens import forge_token

    token = forge_token("admin")
    hostile = f"\x1b]0;pwned\x07 \x1b[2J \u202e evil token={token} " + "y" * 5000

    async def echo(ctx):
        ctx.emit_step(f"event {hostile}")
        raise CheckFailed("a clean answer", hostile, fault="assertion")

    evs = await collect(SmokeEngine(cfg(tmp_path), RunOptions(), artifacts_dir=tmp_path,
                                    registry=registry(SMK_2=echo)))
    (r,) = finished(evs)
    step = next(e for e in evs if e.kind == "check_step")
    for text in (r.seen, r.summary, step.message):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert token not in text and token.split(".")[2] not in text and "<redacted>" in text
        assert len(text) < 2100 and "characters in all" in text

"""SMK-7: light concurrency — N clients (``checks.concurrency_clients``, the plan's two)
list cameras repeatedly while another client records; all stay responsive.

Steps: open the recorder and the N listers (each its own authenticated socket); wait for
a CONNECTED camera and lease one (SMK-5 records on another camera, or first); start
recording; for ``checks.concurrency_seconds`` every lister calls ``get_camera_list`` at a
pace under the dialect's per-connection rate limit (current 300/min, legacy 120/min);
stop recording. Pass when no call failed, every lister completed >= 2 calls, the p95
latency of all the listers' calls is within the service's budget for ``get_camera_list``
(50 ms, ``runners.budgets``; per-lister p95 reported too), and the recording started and
stopped cleanly. At least 10 calls per lister are made in the window, paced evenly.

The listers live on the probe loop (``runners.smoke.probe_loop``), not the console's loop:
their timings measure the service, not how busy the console is with other hosts. The probe
loop's own lag in the window is reported beside them (``probe_lag_p95_ms``).
"""

from __future__ import annotations

import asyncio
import time

from runners.budgets import budget_ms, percentile
from runners.config import Checks
from runners.smoke.cameras import parse_camera_list
from runners.smoke.checks._util import need_dict, stop_quietly
from runners.smoke.context import CheckContext
from runners.smoke.outcome import CheckFailed, Passed
from runners.smoke.probe_loop import LagSampler, measuring_window, shared_probe_loop
from runners.smoke.registry import CheckSpec

RATE_LIMIT_PER_MIN = {"current": 300, "legacy": 120}
PACE_SHARE = 0.8  # use at most 80 % of a connection's documented rate limit
MIN_CALLS = 10  # per lister: enough samples that p95 is not just the single slowest call


async def _lister(ctx: CheckContext, c, deadline: float, interval: float, offset: float = 0.0) -> dict:
    lat: list[float] = []
    error = ""
    k = 0
    if offset:
        await asyncio.sleep(offset)
    t0 = time.monotonic()
    while True:
        t = time.monotonic()
        try:
            res = await ctx.call(c, "get_camera_list")
            parse_camera_list(res)
        except CheckFailed as f:
            error = f"malformed get_camera_list result: {f.seen}"
            break
        except Exception as e:  # noqa: BLE001 - every failure is a finding, reported below
            error = f"{type(e).__name__}: {e}"
            break
        lat.append((time.monotonic() - t) * 1000)
        k += 1
        nxt = t0 + k * interval
        if nxt >= deadline:
            break
        await asyncio.sleep(max(0.0, nxt - time.monotonic()))
    return {"lat": lat, "error": error}


async def _open_listers(ctx: CheckContext, n: int, token: str, home: asyncio.AbstractEventLoop) -> list:
    """On the probe loop: N authenticated listers. Their latency events hop back to the
    console's loop, ``home`` (the engine's event queue is not thread-safe)."""

    def on_latency(method: str, ms: float, ok: bool) -> None:
        try:
            home.call_soon_threadsafe(ctx._on_latency, method, ms, ok)
        except RuntimeError:  # the console's loop closed: the run is over
            pass

    clients = [ctx.new_client(close_with_check=False, on_latency=on_latency) for _ in range(n)]
    try:
        await asyncio.gather(*(c.connect() for c in clients))
        await asyncio.gather(*(c.authenticate(token) for c in clients))
    except BaseException:
        await _close(clients)
        raise
    return clients


async def _close(clients: list) -> None:
    for c in clients:
        try:
            await asyncio.wait_for(c.close(), 5.0)
        except Exception:  # noqa: BLE001 - a broken socket is already reported by the check
            pass


async def _window(ctx: CheckContext, listers: list, deadline: float, interval: float) -> tuple[list[dict], list[float]]:
    """On the probe loop: the listers' calls until ``deadline``, and the loop's lag meanwhile."""
    n = len(listers)
    lag = LagSampler()
    lag.start()
    try:
        with measuring_window():
            # Staggered starts: the listers sample different instants of the window, not the same one.
            stats = await asyncio.gather(*(_lister(ctx, c, deadline, interval, i * interval / n)
                                           for i, c in enumerate(listers)))
    finally:
        lag.stop()
    return list(stats), lag.lags_ms


async def check(ctx: CheckContext) -> Passed:
    n = ctx.checks.concurrency_clients
    secs = ctx.checks.concurrency_seconds
    # Pace under the documented per-connection rate, but take at least MIN_CALLS samples per
    # lister in the window (a 60 s window's budget is far from used by 10 calls).
    interval = min(60.0 / RATE_LIMIT_PER_MIN.get(ctx.dialect, 120) / PACE_SHARE, secs / MIN_CALLS)
    budget = budget_ms("get_camera_list")
    ctx.expect(f"{n + 1} authenticated RPC sessions (1 recorder, {n} listers)")
    ctx.emit_step(f"opening 1 recorder and {n} lister sockets")
    token = ctx.valid_token()
    probe = shared_probe_loop()
    rec, listers = await asyncio.gather(ctx.client(), probe.run(_open_listers(ctx, n, token, asyncio.get_running_loop())),
                                        return_exceptions=True)
    for failed in (rec, listers):
        if isinstance(failed, BaseException):
            if not isinstance(listers, BaseException):
                await probe.run(_close(listers))
            raise failed
    try:
        stop, cam, stats, lags = await _record_and_list(ctx, rec, listers, probe, secs, interval)
    finally:
        await probe.run(_close(listers))
    return _verdict(ctx, n, secs, budget, stop, cam, stats, lags)


async def _record_and_list(ctx: CheckContext, rec, listers: list, probe, secs: float,
                           interval: float) -> tuple[dict, str, list[dict], list[float]]:
    n = len(listers)
    ctx.expect("a CONNECTED camera")
    cams = await ctx.connected_cameras(rec)
    async with ctx.lease_camera(cams, prefer_last=True) as cam:
        state = {"started": False, "stopped": False}
        try:
            ctx.expect(f"start_recording on {cam}")
            res = need_dict("start_recording", await ctx.call(rec, "start_recording", {"device": cam}),
                            ("filename",))
            state["started"] = True
            ctx.ops.add("recording")
            ctx.emit_step(f"recording {res['filename']} on {cam}; {n} listers for {secs:g} s "
                          f"(one call every {interval:.2f} s each)")
            deadline = time.monotonic() + secs
            ctx.expect(f"{n} listers answered without error while {cam} records")
            stats, lags = await probe.run(_window(ctx, listers, deadline, interval))
            rest = deadline - time.monotonic()
            if rest > 0:
                await asyncio.sleep(rest)
            ctx.expect(f"stop_recording on {cam}")
            stop = need_dict("stop_recording", await ctx.call(rec, "stop_recording", {"device": cam}), ("status",))
            state["stopped"] = True
        finally:
            if state["started"] and not state["stopped"]:
                await stop_quietly(ctx, cam)
    return stop, cam, stats, lags


def _verdict(ctx: CheckContext, n: int, secs: float, budget: float, stop: dict, cam: str, stats: list[dict],
             lags: list[float]) -> Passed:
    if str(stop.get("status", "")).upper() != "STOPPED":
        raise CheckFailed("the recorder's stop_recording status STOPPED", f"status {stop.get('status')!r}",
                          fault="contract")
    p95s = [percentile(s["lat"], 95) if s["lat"] else float("nan") for s in stats]
    calls = [len(s["lat"]) for s in stats]
    metrics = {"clients": float(n), "calls": float(sum(calls)), "errors": float(sum(bool(s["error"]) for s in stats))}
    all_lat = [x for s in stats for x in s["lat"]]
    if all_lat:
        metrics.update(p95_ms=round(percentile(all_lat, 95), 3), max_ms=round(max(all_lat), 3))
    if lags:
        metrics["probe_lag_p95_ms"] = round(percentile(lags, 95), 3)
    lag_note = f"; the measuring loop's own lag p95 {metrics['probe_lag_p95_ms']:.1f} ms" if lags else ""
    errs = [(i + 1, s["error"]) for i, s in enumerate(stats) if s["error"]]
    if errs:
        raise CheckFailed(f"every lister answered without error while {cam} recorded",
                          "; ".join(f"lister {i} after {calls[i - 1]} call(s): {e}" for i, e in errs),
                          fault="unresponsive", metrics=metrics)
    few = [(i + 1, k) for i, k in enumerate(calls) if k < 2]
    if few:
        raise CheckFailed(">= 2 get_camera_list calls per lister", ", ".join(f"lister {i}: {k}" for i, k in few),
                          fault="unresponsive", metrics=metrics)
    # p95 over every lister's calls (the service's promise is about its answers, whoever asks);
    # the per-lister figures are reported alongside.
    p95 = metrics["p95_ms"]
    per = " / ".join(f"{p:.1f}" for p in p95s)
    if not p95 <= budget:
        raise CheckFailed(f"p95 get_camera_list latency <= {budget:g} ms (the service's budget) across "
                          f"{sum(calls)} calls of {n} listers",
                          f"p95 {p95:.1f} ms (per lister {per} ms; max {metrics['max_ms']:.1f} ms{lag_note})",
                          fault="latency_budget", metrics=metrics)
    return Passed(f"{n} listers x {'/'.join(map(str, calls))} get_camera_list while {cam} recorded {secs:g} s: "
                  f"0 errors, p95 {p95:.1f} ms (per lister {per} ms; budget {budget:g} ms{lag_note})", metrics)


def _timeout(c: Checks) -> float:
    lease_wait = c.recording_seconds + 3 * c.rpc_timeout + 65.0  # SMK-5 on a one-camera host (incl. its fetch)
    return (c.discovery_timeout + c.connect_timeout + 3 * c.rpc_timeout + lease_wait + c.concurrency_seconds
            + 2 * c.rpc_timeout + 10.0)


SPEC = CheckSpec("SMK-7", "Concurrency (light): two clients list, one records; responsive", check, _timeout)

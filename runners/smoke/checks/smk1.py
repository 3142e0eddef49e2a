"""SMK-1: the service starts from a clean config and its health check is OK.

Steps: (optional, ``checks.restart_before_health``) restart the service over SSH with the
host's ``restart_command`` and require exit status 0; poll the HTTP health endpoint(s)
until healthy within ``checks.health_timeout`` (time-to-healthy recorded); after a restart,
require the reported uptime to be younger than the restart (proof the restart took
effect); finally require the RPC endpoint to answer ``ping`` on an authenticated socket
(legacy needs auth for ping; current accepts either).
"""

from __future__ import annotations

import time

from runners.config import Checks
from runners.smoke.checks._util import short
from runners.smoke.context import CheckContext
from runners.smoke.outcome import CheckError, CheckFailed, Passed
from runners.smoke.registry import CheckSpec

RESTART_TIMEOUT = 60.0


async def check(ctx: CheckContext) -> Passed:
    from runners.errors import HealthError

    metrics: dict[str, float] = {}
    notes: list[str] = []
    t_restart: float | None = None
    if ctx.checks.restart_before_health:
        ctx.expect("the host's restart command to run over SSH")
        ssh = await ctx.require_ssh("service restart (restart_before_health = true)")
        cmd = ctx.host.restart_command
        ctx.emit_step(f"restarting the service: {cmd}")
        t0 = time.monotonic()
        ctx.run.restarted_wall = time.time()
        r = await ssh.run(cmd, timeout=RESTART_TIMEOUT)
        if r.exit_status != 0:
            raise CheckFailed(f"`{cmd}` to exit with status 0",
                              f"status {r.exit_status}: {(r.stderr or r.stdout).strip()[-300:] or '(no output)'}",
                              fault="restart_failed")
        t_restart = time.monotonic()
        ctx.run.restarted_at = t_restart
        ctx.run.connected = []  # cameras must be rediscovered after a restart
        metrics["restart_s"] = round(t_restart - t0, 3)
        notes.append(f"restarted in {t_restart - t0:.2f} s")

    probe = ctx.health_probe()
    within = ctx.checks.health_timeout
    ctx.expect(f"health endpoint healthy within {within:g} s")
    ctx.emit_step(f"polling health at {probe.base_url} (up to {within:g} s)")
    try:
        report, secs = await probe.wait_healthy(within, interval=0.1)
    except HealthError as e:
        last = getattr(e, "last", None)
        status = getattr(last, "status", "unknown")
        ctx.run.state("health", "down" if status in ("unreachable", "unhealthy") else "degraded", str(e))
        cls = CheckError if status == "unreachable" else CheckFailed
        raise cls(f"health endpoint healthy within {within:g} s",
                  f"{status} after {getattr(e, 'elapsed', within):.1f} s: {getattr(last, 'detail', '') or e}",
                  fault="unreachable" if status == "unreachable" else "unhealthy") from None
    ctx.run.state("health", "ok", report.summary())
    metrics["time_to_healthy_s"] = round(secs if t_restart is None else time.monotonic() - t_restart, 3)
    metrics["health_ms"] = report.elapsed_ms
    ctx.emit_step(f"health {report.summary()} after {secs:.2f} s", version=report.version)

    if t_restart is not None:
        uptime = _uptime(report)
        if uptime is None:
            notes.append("uptime not reported: restart effect not verifiable from health")
        else:
            since_restart = time.monotonic() - t_restart + 1.0  # 1 s slack for clocks and rounding
            if uptime > since_restart:
                raise CheckFailed(f"service uptime younger than the restart ({since_restart:.1f} s ago)",
                                  f"uptime {uptime:.1f} s: the restart command did not restart the service",
                                  fault="restart_ineffective")
            metrics["uptime_after_restart_s"] = round(uptime, 3)

    ctx.expect("the RPC endpoint to answer ping")
    ctx.emit_step(f"connecting to {ctx.host.rpc_url}")
    c = await ctx.client()
    t0 = time.monotonic()
    pong = await ctx.call(c, "ping")
    metrics["ping_ms"] = round((time.monotonic() - t0) * 1000, 3)
    if pong != "pong":
        raise CheckFailed('ping to return "pong"', short(pong), fault="contract")
    ctx.emit_step(f"ping answered in {metrics['ping_ms']:.1f} ms")
    version = f" (version {report.version})" if report.version else ""
    what = "after restart " if t_restart is not None else ""
    notes_txt = f"; {'; '.join(notes)}" if notes else ""
    return Passed(f"healthy {what}in {metrics['time_to_healthy_s']:.2f} s{version}; ping {metrics['ping_ms']:.1f} ms"
                  f"{notes_txt}", metrics)


def _uptime(report) -> float | None:
    for ep in report.endpoints.values():
        body = ep.get("body") if isinstance(ep, dict) else None
        if isinstance(body, dict) and isinstance(body.get("uptime"), (int, float)):
            return float(body["uptime"])
    return None


def _timeout(c: Checks) -> float:
    return (RESTART_TIMEOUT if c.restart_before_health else 0.0) + c.health_timeout + c.connect_timeout \
        + 3 * c.rpc_timeout + 5.0


SPEC = CheckSpec("SMK-1", "Service starts from clean config; health check OK", check, _timeout,
                 ops=frozenset({"health", "restart"}), barrier=True, needs_ssh=lambda c: c.restart_before_health)

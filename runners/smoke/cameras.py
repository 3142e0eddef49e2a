"""Cameras of a host: reading ``get_camera_list``, waiting for one to connect, and leasing
one camera to one recorder at a time.

``wait_connected`` uses events where the service delivers them (``subscribe_events`` to
``camera.*`` topics, both naming families accepted) and polls otherwise; either way the
answer is confirmed by a ``get_camera_list`` call, so a pass always rests on the list.
Polls are paced under the dialect's documented rate limit (current ~300/min, legacy
120/min).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from runners.smoke.outcome import CheckFailed

POLL_INTERVAL = {"current": 0.25, "legacy": 0.6}  # s: 240/min and 100/min, under the limits
EVENT_POLL_INTERVAL = 1.0  # s: with events, polling is only the safety net
CAMERA_TOPICS = ["camera.connected", "camera.disconnected", "camera.status_change"]


def parse_camera_list(result: Any) -> list[dict[str, Any]]:
    """The ``cameras`` array of a get_camera_list result, validated; CheckFailed if malformed."""
    if not isinstance(result, dict) or not isinstance(result.get("cameras"), list):
        raise CheckFailed("get_camera_list result {cameras: [...], total, connected}",
                          f"{_short(result)}", fault="contract")
    cams = result["cameras"]
    for i, c in enumerate(cams):
        if not isinstance(c, dict) or not isinstance(c.get("device"), str) or not isinstance(c.get("status"), str):
            raise CheckFailed(f"cameras[{i}] with string device and status", _short(c), fault="contract")
    return cams


def connected_ids(cams: list[dict[str, Any]]) -> list[str]:
    return [c["device"] for c in cams if c["status"].upper() == "CONNECTED"]


def _short(v: Any, n: int = 160) -> str:
    from runners.trace import redact

    s = repr(redact(v))
    return s if len(s) <= n else s[: n - 3] + "..."


async def wait_connected(client: Any, within: float, *, dialect: str = "current", use_events: bool = True,
                         step: Callable[..., None] | None = None) -> tuple[list[str], float, str]:
    """Wait until get_camera_list shows at least one CONNECTED camera.

    Returns (connected ids, seconds waited, "events" | "polling" | "immediate").
    Raises CheckFailed (fault "discovery_timeout") with the last list seen if none connects
    within ``within`` seconds. RPC errors propagate (strict: a smoke check does not retry)."""
    from runners.errors import RpcError, RpcTimeout

    t0 = time.monotonic()
    deadline = t0 + within
    cams = parse_camera_list(await client.call("get_camera_list"))
    ids = connected_ids(cams)
    if ids:
        return ids, time.monotonic() - t0, "immediate"
    via = "polling"
    if use_events:
        try:
            await client.subscribe(CAMERA_TOPICS)
            via = "events"
        except RpcError as e:  # a service without subscriptions: polling it is
            if step:
                step(f"subscribe_events refused ({e.code}); polling get_camera_list", code=e.code)
    interval = EVENT_POLL_INTERVAL if via == "events" else POLL_INTERVAL.get(dialect, 0.6)
    # The first list may have been taken before the subscription was active: look again now.
    cams = parse_camera_list(await client.call("get_camera_list"))
    while not (ids := connected_ids(cams)):
        now = time.monotonic()
        if now >= deadline:
            raise CheckFailed(
                f"at least one camera CONNECTED within {within:g} s",
                f"none after {now - t0:.2f} s; last list: "
                + (", ".join(f"{c['device']}={c['status']}" for c in cams) or "no cameras"),
                fault="discovery_timeout",
            )
        wait = min(interval, deadline - now)
        if via == "events":
            try:
                ev = await client.next_event(timeout=wait)
                if step:
                    step(f"event {ev.method} ({ev.canonical})", event=ev.method)
            except RpcTimeout:
                pass
        else:
            await asyncio.sleep(wait)
        cams = parse_camera_list(await client.call("get_camera_list"))
    return ids, time.monotonic() - t0, via


class CameraPool:
    """One recorder per camera at a time: SMK-5's recording and SMK-7's recorder take
    different cameras when the host has two, and queue for the same one when it has one."""

    def __init__(self) -> None:
        self._busy: set[str] = set()
        self._cond = asyncio.Condition()

    @asynccontextmanager
    async def lease(self, candidates: list[str]) -> AsyncIterator[str]:
        if not candidates:
            raise ValueError("no camera to lease")
        async with self._cond:
            await self._cond.wait_for(lambda: any(c not in self._busy for c in candidates))
            cam = next(c for c in candidates if c not in self._busy)
            self._busy.add(cam)
        try:
            yield cam
        finally:
            # Shielded so a cancelled lessee still frees the camera for the others.
            await asyncio.shield(self._release(cam))

    async def _release(self, cam: str) -> None:
        async with self._cond:
            self._busy.discard(cam)
            self._cond.notify_all()

    def busy(self) -> set[str]:
        return set(self._busy)

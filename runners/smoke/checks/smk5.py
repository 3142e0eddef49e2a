"""SMK-5: recording — ``start_recording`` -> the file grows on the host -> ``stop_recording``
closes it -> it plays, with real frames and a plausible duration.

Steps: authenticate; wait for a CONNECTED camera and lease it (one recorder per camera:
SMK-7's recorder takes another camera or waits); ``start_recording`` (status RECORDING,
a filename); sample the file size on the host over SFTP (>= 2 samples across
``checks.recording_seconds``; the last must exceed the first); ``stop_recording`` (status
STOPPED); stat, fetch over SFTP to ``artifacts/<label>/<host>/recording.mp4`` and stat again:
the size must not change (closed) and must match the bytes fetched and the size
``stop_recording`` reported; decode every frame with PyAV: >= 2 frames, and a decoded
duration between 0.7x the time it surely recorded (start's answer -> stop's request) and
1.5x (+1 s) the time it may have recorded (start's request -> stop's answer).
Without SSH, growth is sampled with ``get_recording_info`` over RPC and the check fails
saying the file could not be fetched.
"""

from __future__ import annotations

import asyncio
import time

from runners.config import Checks
from runners.smoke.checks._util import inspect_video, need_dict, remote_path, stop_quietly
from runners.smoke.context import CheckContext
from runners.smoke.outcome import CheckFailed, Passed
from runners.smoke.registry import CheckSpec

FETCH_TIMEOUT = 60.0
MIN_RATIO, MAX_RATIO = 0.7, 1.5
RECORDING_STATES = {"RECORDING", "STARTED", "STARTING", "ACTIVE"}


async def check(ctx: CheckContext) -> Passed:
    seconds = ctx.checks.recording_seconds
    ctx.expect("an authenticated RPC session")
    c = await ctx.client()
    ctx.expect("a CONNECTED camera")
    cams = await ctx.connected_cameras(c)
    ssh = None
    if ctx.host.ssh.host:
        ctx.expect("an SSH connection to the host (to watch and fetch the recording)")
        ssh = await ctx.require_ssh("recording file watched and fetched")
    metrics: dict[str, float] = {}
    async with ctx.lease_camera(cams) as cam:
        state = {"started": False, "stopped": False}
        try:
            rec = await _record(ctx, c, cam, ssh, seconds, metrics, state)
        finally:
            if state["started"] and not state["stopped"]:
                await stop_quietly(ctx, cam)
    filename, path, samples, stop, (wall, wall_max) = rec
    sizes = [s for _, s in samples]
    metrics["recorded_wall_s"] = round(wall, 3)
    if str(stop.get("status", "")).upper() != "STOPPED":
        raise CheckFailed("stop_recording status STOPPED", f"status {stop.get('status')!r}", fault="contract")
    reported = stop.get("file_size")
    ctx.emit_step(f"stopped after {wall:.2f} s" + (f", {reported} bytes reported" if isinstance(reported, int) else ""))
    if ssh is None:
        raise CheckFailed("recording file fetched over SSH", "host has no SSH configured (hosts.ssh.host is empty); "
                          f"over RPC it grew {sizes[0]} -> {sizes[-1]} bytes and stopped", fault="no_ssh")

    ctx.expect(f"{path} closed and fetched over SFTP")
    st1 = await ssh.stat(path)
    if st1 is None:
        raise CheckFailed(f"{path} on the host after stop", "no such file", fault="file_missing")
    local = ctx.artifacts_dir / "recording.mp4"
    t1 = time.monotonic()
    n = await asyncio.wait_for(ssh.get(path, local), FETCH_TIMEOUT)
    metrics["fetch_s"] = round(time.monotonic() - t1, 3)
    st2 = await ssh.stat(path)
    if st2 is None or st2.size != st1.size or n != st1.size:
        raise CheckFailed(f"{path} closed by stop_recording (size stable, all of it fetched)",
                          f"size {st1.size} before the fetch, {st2.size if st2 else 'missing'} after, {n} fetched",
                          fault="not_closed")
    if isinstance(reported, int) and reported != n:
        raise CheckFailed(f"{reported} bytes (the size stop_recording reported)", f"{n} bytes on the host",
                          fault="size_mismatch")
    metrics["file_size"] = float(n)
    ctx.emit_step(f"fetched {local.name} ({n} bytes)")

    ctx.expect("the recording decodes with real frames and a plausible duration")
    try:
        v = await asyncio.to_thread(inspect_video, local)
    except ValueError as e:
        raise CheckFailed("the recording decodes (PyAV) with video frames", f"{local.name} ({n} bytes) {e}",
                          fault="bad_media") from None
    metrics.update(frames=float(v["frames"]), decoded_s=round(v["duration"], 3), fps=round(v["fps"], 3))
    lo, hi = MIN_RATIO * wall, MAX_RATIO * wall_max + 1.0
    if v["frames"] < 2 or not lo <= v["duration"] <= hi:
        raise CheckFailed(f">= 2 frames and a decoded duration of {lo:.2f}..{hi:.2f} s (recorded {wall:.2f} s)",
                          f"{v['frames']} frames, {v['duration']:.2f} s decoded"
                          + (f"; decoder stopped: {v['decode_error']}" if v["decode_error"] else ""),
                          fault="bad_media")
    w, h = v["size"]
    moving = "" if v["moving"] else "; first and last frames identical (a still picture?)"
    return Passed(f"{filename}: grew {sizes[0]} -> {sizes[-1]} bytes over {len(samples)} samples, stopped, "
                  f"{n} bytes fetched; {v['codec']} {w}x{h}, {v['frames']} frames, {v['duration']:.2f} s "
                  f"decoded for {wall:.2f} s recorded{moving}", metrics, [str(local)])


async def _record(ctx: CheckContext, c, cam: str, ssh, seconds: float, metrics: dict[str, float],
                  state: dict[str, bool]):
    """start -> growth samples -> stop on the leased camera; returns
    (filename, remote path, samples, stop result, recorded wall seconds)."""
    ctx.expect(f"start_recording on {cam} to start a recording")
    ctx.emit_step(f"start_recording on {cam} for {seconds:g} s")
    t_request = time.monotonic()
    res = need_dict("start_recording", await ctx.call(c, "start_recording", {"device": cam}), ("filename",))
    state["started"] = True
    t_start = time.monotonic()  # the recording runs by now: it started before the answer
    metrics["start_ms"] = round((t_start - t_request) * 1000, 3)
    ctx.ops.add("recording")
    status = str(res.get("status", "")).upper()
    if status not in RECORDING_STATES:
        raise CheckFailed("start_recording status RECORDING", f"status {res.get('status')!r}", fault="contract")
    path = remote_path(res, ctx.host.recordings_dir)
    filename = str(res["filename"])
    ctx.emit_step(f"recording {filename}", file=path)

    async def size_now() -> int:
        if ssh is not None:
            st = await ssh.stat(path)
            return st.size if st else -1
        info = await ctx.call(c, "get_recording_info", {"filename": filename})
        fs = info.get("file_size") if isinstance(info, dict) else None
        return int(fs) if isinstance(fs, int) else -1

    ctx.expect(f"{path} to grow while recording")
    how = "SFTP stat" if ssh is not None else "get_recording_info (no SSH)"
    samples: list[tuple[float, int]] = []
    interval = max(0.25, seconds / 4)
    deadline = t_start + seconds
    while True:
        samples.append((round(time.monotonic() - t_start, 3), await size_now()))
        now = time.monotonic()
        if now >= deadline:
            break
        await asyncio.sleep(min(interval, deadline - now))
    ctx.emit_step(f"size samples ({how}): " + ", ".join(f"{t:.1f}s={s}" for t, s in samples))
    sizes = [s for _, s in samples]
    if len(samples) < 2 or sizes[-1] <= max(sizes[0], 0):
        raise CheckFailed(f"{path} growing while recording (>= 2 samples by {how}, last > first)",
                          "sizes " + ", ".join(f"{t:.1f}s={'missing' if s < 0 else s}" for t, s in samples),
                          fault="not_growing")
    metrics["growth_samples"] = float(len(samples))
    ctx.expect(f"stop_recording on {cam} to stop it")
    t_stop_call = time.monotonic()
    stop = need_dict("stop_recording", await ctx.call(c, "stop_recording", {"device": cam}), ("status",))
    state["stopped"] = True
    t_stopped = time.monotonic()
    metrics["stop_ms"] = round((t_stopped - t_stop_call) * 1000, 3)
    # The recording lasted at least from the start's answer to the stop's request, and at
    # most from the start's request to the stop's answer (slow answers under load widen it).
    return filename, path, samples, stop, (t_stop_call - t_start, t_stopped - t_request)


def _timeout(c: Checks) -> float:
    lease_wait = c.concurrency_seconds + 3 * c.rpc_timeout + 5.0  # SMK-7's recorder on a one-camera host
    return (c.discovery_timeout + c.connect_timeout + 4 * c.rpc_timeout + lease_wait + c.recording_seconds
            + FETCH_TIMEOUT + 20.0)


SPEC = CheckSpec("SMK-5", "Recording: start -> file growing; stop closes; playable", check, _timeout,
                 ops=frozenset({"recording"}), needs_ssh=lambda c: True)

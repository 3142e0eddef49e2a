"""SMK-4: snapshot — ``take_snapshot`` returns SUCCESS and a file that is really there,
decodes as an image and carries EXIF DateTimeOriginal or a trustworthy timestamp.

Steps: authenticate; wait for a CONNECTED camera; ``take_snapshot``; require status
SUCCESS, a filename and a file size; over SSH stat the file (it must exist with that size)
and fetch it over SFTP to ``artifacts/<label>/<host>/snapshot.jpg``; decode it fully
(Pillow); require EXIF DateTimeOriginal (or IFD0 DateTime) within
``checks.snapshot_time_tolerance`` of the lab clock at the call, or, without EXIF (V4L2
grabs carry none), both the result's ``timestamp`` and the file's mtime within it.
Without SSH the RPC part is still verified and the check fails saying the fetch was not
possible.
"""

from __future__ import annotations

import asyncio
import time

from runners.config import Checks
from runners.smoke.checks._util import inspect_jpeg, need_dict, parse_time, remote_path, short
from runners.smoke.context import CheckContext
from runners.smoke.outcome import CheckFailed, Passed
from runners.smoke.registry import CheckSpec

FETCH_TIMEOUT = 30.0


def _skew(t: float | None, lo: float, hi: float) -> float | None:
    """Distance (s) of t from the window [lo, hi]; 0 inside; None if t is None."""
    if t is None:
        return None
    return 0.0 if lo <= t <= hi else min(abs(t - lo), abs(t - hi))


async def check(ctx: CheckContext) -> Passed:
    tol = ctx.checks.snapshot_time_tolerance
    ctx.expect("an authenticated RPC session")
    c = await ctx.client()
    ctx.expect("a CONNECTED camera")
    cams = await ctx.connected_cameras(c)
    cam = cams[0]
    ctx.expect(f"take_snapshot on {cam} to return status SUCCESS")
    ctx.emit_step(f"take_snapshot on {cam}")
    lo = time.time()
    t0 = time.monotonic()
    res = await ctx.call(c, "take_snapshot", {"device": cam})
    ms = (time.monotonic() - t0) * 1000
    hi = time.time()
    res = need_dict("take_snapshot", res, ("status", "filename"))
    status = str(res.get("status", "")).upper()
    if status != "SUCCESS":
        why = f" ({res['error']})" if res.get("error") else ""
        raise CheckFailed("take_snapshot status SUCCESS", f"status {res.get('status')!r}{why}", fault="snapshot_failed")
    size = res.get("file_size")
    if not isinstance(size, int) or size <= 0:
        raise CheckFailed("take_snapshot file_size > 0", f"file_size {short(size, 40)}", fault="contract")
    path = remote_path(res, ctx.host.snapshots_dir)
    ctx.emit_step(f"snapshot {res['filename']} ({size} bytes) in {ms:.0f} ms", file=path)
    metrics: dict[str, float] = {"snapshot_ms": round(ms, 3), "file_size": float(size)}

    ssh = await ctx.require_ssh(f"snapshot file {path} fetched")
    ctx.expect(f"{path} to exist on the host")
    st = await ssh.stat(path)
    if st is None:
        raise CheckFailed(f"snapshot file {path} on the host", "no such file", fault="file_missing")
    if st.size != size:
        raise CheckFailed(f"{path} of {size} bytes (as take_snapshot said)", f"{st.size} bytes on disk",
                          fault="size_mismatch")
    local = ctx.artifacts_dir / "snapshot.jpg"
    ctx.expect(f"{path} to download over SFTP")
    t1 = time.monotonic()
    n = await asyncio.wait_for(ssh.get(path, local), FETCH_TIMEOUT)
    metrics["fetch_s"] = round(time.monotonic() - t1, 3)
    if n != size:
        raise CheckFailed(f"{size} bytes fetched", f"{n} bytes", fault="size_mismatch")
    ctx.emit_step(f"fetched to {local.name} ({n} bytes)")

    try:
        info = await asyncio.to_thread(inspect_jpeg, local)
    except ValueError as e:
        raise CheckFailed("the snapshot decodes as an image", f"{local.name} {e}", fault="bad_media") from None
    w, h = info["size"]
    if info["exif_time"] is not None:
        skew = _skew(info["exif_time"], lo - 1, hi + 1)  # EXIF has whole seconds
        if skew > tol:
            raise CheckFailed(f"EXIF {info['exif_tag']} within {tol:g} s of the lab clock",
                              f"{info['exif_raw']} is {skew:.0f} s off", fault="bad_timestamp")
        metrics["exif"] = 1.0
        metrics["clock_skew_s"] = round(skew, 3)
        stamp = f"EXIF {info['exif_tag']} {info['exif_raw']} ({skew:.1f} s from the lab clock)"
    else:
        metrics["exif"] = 0.0
        ts = parse_time(res.get("timestamp"))
        rskew = _skew(ts, lo, hi)
        mskew = _skew(st.mtime, lo - 1, hi + 1)
        if rskew is None:
            raise CheckFailed("EXIF DateTimeOriginal or a trustworthy timestamp",
                              f"no EXIF date and no readable timestamp in the result ({short(res.get('timestamp'), 60)})",
                              fault="no_timestamp")
        if rskew > tol or mskew > tol:
            raise CheckFailed(f"no-EXIF fallback: result timestamp and file mtime within {tol:g} s of the lab clock",
                              f"result timestamp {rskew:.0f} s off, file mtime {mskew:.0f} s off",
                              fault="bad_timestamp")
        metrics["clock_skew_s"] = round(max(rskew, mskew), 3)
        stamp = (f"no EXIF; result timestamp {res.get('timestamp')} and file mtime agree with the lab clock "
                 f"(within {max(rskew, mskew):.1f} s)")
    return Passed(f"{info['format']} {w}x{h}, {size} bytes from {cam}; {stamp}", metrics, [str(local)])


def _timeout(c: Checks) -> float:
    return c.discovery_timeout + c.connect_timeout + 3 * c.rpc_timeout + FETCH_TIMEOUT + 15.0


SPEC = CheckSpec("SMK-4", "Snapshot: take_snapshot returns file; EXIF/timestamp present", check, _timeout,
                 ops=frozenset({"snapshot"}), needs_ssh=lambda c: True)

"""Small helpers the checks share: result shape checks, times, remote paths, media decoding."""

from __future__ import annotations

import posixpath
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from runners.smoke.outcome import CheckFailed


def short(v: Any, n: int = 200) -> str:
    """A seen value for a message: tokens redacted first (a cut token would escape the
    redaction of the record), then cut to ``n`` characters."""
    from runners.trace import redact

    s = repr(redact(v))
    return s if len(s) <= n else s[: n - 3] + "..."


def need_dict(method: str, result: Any, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The result as a dict holding ``keys``; CheckFailed (fault "contract") naming what is missing."""
    if not isinstance(result, dict):
        raise CheckFailed(f"{method} result to be an object" + (f" with {', '.join(keys)}" if keys else ""),
                          short(result), fault="contract")
    missing = [k for k in keys if k not in result]
    if missing:
        raise CheckFailed(f"{method} result with {', '.join(keys)}",
                          f"no {', '.join(missing)} in {short(result)}", fault="contract")
    return result


def parse_time(value: Any) -> float | None:
    """An ISO 8601 timestamp (or epoch seconds) -> epoch seconds; None if unreadable.
    A timestamp without a zone is taken as the lab machine's local time."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def remote_path(result: dict[str, Any], folder: str) -> str:
    """The file's path on the host: the result's ``file_path`` when absolute, else folder/filename."""
    fp = result.get("file_path")
    if isinstance(fp, str) and fp.startswith("/"):
        return fp
    return posixpath.join(folder, str(result.get("filename", "")))


def since(t0: float) -> float:
    return time.monotonic() - t0


# ------------------------------------------------------------------ media (run in a thread)

EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 36867
DATETIME = 0x0132
OFFSET_TIME_ORIGINAL = 36881


def inspect_jpeg(path: Path) -> dict[str, Any]:
    """Decode the image fully; return format, size and EXIF DateTimeOriginal (epoch, or None).
    Raises ValueError saying what is wrong with the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            fmt = img.format
            img.load()  # a full decode: a truncated JPEG fails here, not just at the header
            size = img.size
            exif = img.getexif()
            sub = exif.get_ifd(EXIF_IFD) if exif else {}
            raw = sub.get(DATETIME_ORIGINAL) if sub else None
            tag = "DateTimeOriginal"
            if not raw and exif and exif.get(DATETIME):
                raw, tag = exif.get(DATETIME), "DateTime"
            offset = sub.get(OFFSET_TIME_ORIGINAL) if sub else None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"does not decode as an image: {e}") from None
    when = None
    if raw:
        try:
            text = str(raw).strip("\x00 ")
            if offset:
                when = datetime.strptime(f"{text}{str(offset).replace(':', '')}", "%Y:%m:%d %H:%M:%S%z").timestamp()
            else:
                when = datetime.strptime(text, "%Y:%m:%d %H:%M:%S").timestamp()  # local time, as cameras write
        except ValueError:
            when = None
    return {"format": fmt, "size": size, "exif_tag": tag if raw else "", "exif_raw": str(raw) if raw else "",
            "exif_time": when}


def inspect_video(path: Path) -> dict[str, Any]:
    """Decode every video frame with PyAV; frames, decoded duration (s), size, codec, and
    whether the first and last frames differ (a moving picture, not a still).
    Raises ValueError if the file does not open or has no video frames."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise ValueError(f"does not open as a media file: {e}") from None
    frames = 0
    first_pts = last_pts = None
    tb = None
    first_sig = last_sig = None
    decode_error = ""
    size = (0, 0)
    codec = ""
    try:
        if not container.streams.video:
            raise ValueError("has no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        tb = stream.time_base
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        try:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    first_pts = frame.pts if first_pts is None else first_pts
                    last_pts = frame.pts
                if frames == 0 or frames % 5 == 0:
                    sig = bytes(frame.planes[0])[:: 97]
                    if frames == 0:
                        first_sig = sig
                    last_sig = sig
                size = (frame.width, frame.height)
                frames += 1
        except (av.FFmpegError, OSError) as e:
            decode_error = str(e)
    finally:
        container.close()
    if frames == 0:
        raise ValueError("holds no decodable video frame" + (f" ({decode_error})" if decode_error else ""))
    duration = 0.0
    if first_pts is not None and last_pts is not None and tb is not None:
        duration = float((last_pts - first_pts) * tb) + (1.0 / rate if rate else 0.0)
    return {"frames": frames, "duration": duration, "size": size, "codec": codec, "fps": rate or 0.0,
            "moving": first_sig != last_sig, "decode_error": decode_error}


async def stop_quietly(ctx: Any, device: str) -> None:
    """Best-effort ``stop_recording`` on a fresh socket after a check failed mid-recording,
    so the camera is free for the next check. Bounded; never raises."""
    import asyncio

    try:
        async with asyncio.timeout(ctx.checks.connect_timeout + ctx.checks.rpc_timeout + 1):
            c = await ctx.client()
            await c.call("stop_recording", {"device": device})
        ctx.emit_step(f"cleanup: stopped the recording on {device}")
    except BaseException as e:  # noqa: BLE001 - cleanup must not mask the check's real outcome
        if isinstance(e, asyncio.CancelledError):
            raise
        ctx.emit_step(f"cleanup: could not stop the recording on {device}: {type(e).__name__}: {e}")

"""Real media files for the simulated camera host: JPEG snapshots and fragmented MP4 recordings.

The smoke checks judge files the way an operator would (does the JPEG open, does it carry
EXIF or a trustworthy timestamp, does the recording grow while recording and play after
stop), so the simulator writes genuine files with Pillow and PyAV, not placeholders.

Recording encodes in a dedicated thread per recording: the event loop never blocks, and
20 hosts recording at once do not starve asyncio's small default executor (a long-lived
``to_thread`` job per recording would). Frames are small and encoded with libx264
``ultrafast``/``zerolatency`` on one thread each, so a 2-core machine copes.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# EXIF tags (numbers, so a reader can check against the spec).
TAG_DATETIME = 0x0132  # IFD0 DateTime
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_SOFTWARE = 0x0131
TAG_EXIF_IFD = 0x8769  # pointer to the Exif sub-IFD
TAG_DATETIME_ORIGINAL = 36867  # 0x9003, in the Exif sub-IFD
TAG_DATETIME_DIGITIZED = 36868  # 0x9004
TAG_OFFSET_TIME_ORIGINAL = 36881  # 0x9011, "+01:00"

EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"

# Container per recording format. "fmp4" is what MediaMTX records by default; plain "mp4"
# is fragmented too, so every mp4 recording grows on disk while recording (a muxer that
# writes the index only at the end would show a file that stays tiny until stop).
_FORMATS = {"fmp4": "mp4", "mp4": "mp4", "mkv": "matroska"}
_MP4_FLAGS = "frag_keyframe+empty_moov+default_base_moof"

FAULTS = (None, "zero", "truncate")
TRUNCATE_FRACTION = 0.4  # "truncate" keeps this share of the bytes: the tail no longer decodes


class MediaError(RuntimeError):
    """The simulator could not write a media file (bad arguments or an encoder failure)."""


# ----------------------------------------------------------------------------- fonts

_font_cache: dict[int, ImageFont.ImageFont | ImageFont.FreeTypeFont] = {}


def _font(size: int):
    font = _font_cache.get(size)
    if font is None:
        try:
            font = ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
        except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
            font = ImageFont.load_default()
        _font_cache[size] = font
    return font


# ----------------------------------------------------------------------------- snapshot

_BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
         (192, 0, 192), (192, 0, 0), (0, 0, 192)]


def render_test_card(size: tuple[int, int], label: str, when: datetime) -> Image.Image:
    """An SMPTE-like colour-bar card with the label and the timestamp written on it."""
    w, h = _check_size(size)
    img = Image.new("RGB", (w, h), (16, 16, 16))
    draw = ImageDraw.Draw(img)
    bar_w = w / len(_BARS)
    for i, colour in enumerate(_BARS):
        draw.rectangle([round(i * bar_w), 0, round((i + 1) * bar_w) - 1, int(h * 0.62)], fill=colour)
    # A grey ramp under the bars: a viewer sees at once whether the image is intact.
    steps = 8
    for i in range(steps):
        g = round(255 * i / (steps - 1))
        draw.rectangle([round(i * w / steps), int(h * 0.62), round((i + 1) * w / steps) - 1, int(h * 0.72)],
                       fill=(g, g, g))
    r = min(w, h) // 6
    draw.ellipse([w // 2 - r, int(h * 0.31) - r, w // 2 + r, int(h * 0.31) + r], outline=(255, 255, 255), width=3)
    big, small = _font(max(10, h // 14)), _font(max(8, h // 22))
    draw.text((max(4, w // 40), int(h * 0.75)), label or "camera-sim", fill=(255, 255, 255), font=big)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + (when.strftime(" %z") if when.tzinfo else "")
    draw.text((max(4, w // 40), int(h * 0.87)), stamp, fill=(255, 220, 0), font=small)
    return img


def write_snapshot_jpeg(path: Path, *, when: datetime, exif: bool = True, size=(640, 480), label: str = "") -> int:
    """Write a test-card JPEG at ``path`` atomically; return the bytes written.

    With ``exif=True`` the file carries DateTime (IFD0) and DateTimeOriginal /
    DateTimeDigitized (Exif sub-IFD, tag 36867 / 36868) set to ``when``, like a camera;
    with ``exif=False`` it has none, like a frame grabbed straight from V4L2.
    """
    if not isinstance(when, datetime):
        raise MediaError(f"snapshot time must be a datetime, got {type(when).__name__}")
    path = Path(path)
    img = render_test_card(size, label, when)
    kwargs: dict = {"quality": 85}
    if exif:
        ex = Image.Exif()
        stamp = when.strftime(EXIF_TIME_FORMAT)
        ex[TAG_DATETIME] = stamp
        ex[TAG_MAKE] = "dryrun-sim"
        ex[TAG_MODEL] = "SimCam 1"
        ex[TAG_SOFTWARE] = "camera-service simulator"
        sub = ex.get_ifd(TAG_EXIF_IFD)
        sub[TAG_DATETIME_ORIGINAL] = stamp
        sub[TAG_DATETIME_DIGITIZED] = stamp
        if when.tzinfo is not None and when.utcoffset() is not None:
            off = when.strftime("%z")  # +0100 -> +01:00 as EXIF 2.31 wants
            sub[TAG_OFFSET_TIME_ORIGINAL] = f"{off[:3]}:{off[3:]}"
        kwargs["exif"] = ex.tobytes()
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kwargs)
    data = buf.getvalue()
    _atomic_write(path, data)
    return len(data)


def _atomic_write(path: Path, data: bytes) -> None:
    # A reader (SFTP get, list_snapshots) never sees a half-written snapshot.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(size[0]), int(size[1]))
    except (TypeError, ValueError, IndexError):
        raise MediaError(f"size must be (width, height), got {size!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise MediaError(f"size must be 16..4096 pixels each way, got {w}x{h}")
    return w, h


# ----------------------------------------------------------------------------- recording

def pick_video_codec() -> str:
    """libx264 if this PyAV build has it (the PyPI wheels do), else MPEG-4 part 2."""
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class RecordingWriter:
    """Real fragmented MP4 (or MKV) written in real time; grows on disk, playable after stop().

    One keyframe per second and a fragment per keyframe: the file grows about once a
    second, and a reader can decode whatever fragments are complete.
    """

    def __init__(self, path: Path, *, fps: int = 15, size=(320, 240), fmt: str = "fmp4"):
        if fmt not in _FORMATS:
            raise MediaError(f"recording format must be one of {', '.join(_FORMATS)}, got {fmt!r}")
        if not isinstance(fps, int) or isinstance(fps, bool) or not 1 <= fps <= 60:
            raise MediaError(f"fps must be an integer 1..60, got {fps!r}")
        self.path = Path(path)
        self.fps = fps
        self.size = _check_size(size)
        # Encoders want even dimensions for 4:2:0.
        self.size = (self.size[0] - self.size[0] % 2, self.size[1] - self.size[1] % 2)
        self.fmt = fmt
        self.codec = ""
        self.frames = 0
        self.started_at: float | None = None  # time.time() of the first frame
        self.stopped_at: float | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started: asyncio.Future | None = None
        self._done: asyncio.Future | None = None
        self._final_size: int | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._done is not None and not self._done.done()

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.stopped_at or time.time()) - self.started_at

    def size_on_disk(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    async def start(self) -> None:
        """Open the file and write its header; returns once the file exists on disk."""
        if self._thread is not None:
            raise MediaError(f"recording {self.path.name} already started")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MediaError(f"cannot record {self.path}: {e.strerror or e}") from None
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.create_future()
        self._done = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name=f"rec:{self.path.name}", daemon=True)
        self._thread.start()
        await self._started

    async def stop(self, fault: str | None = None) -> int:
        """Finish the file (trailer written) and return its final size.

        ``fault="zero"`` leaves a 0-byte file, ``"truncate"`` cuts it to
        :data:`TRUNCATE_FRACTION` of its length so it no longer decodes fully.
        """
        if fault not in FAULTS:
            raise MediaError(f"fault must be one of None, 'zero', 'truncate', got {fault!r}")
        if self._thread is None or self._done is None:
            raise MediaError(f"recording {self.path.name} was never started")
        self._stop.set()
        await asyncio.shield(self._done)
        if self.error is not None:
            raise MediaError(f"encoding {self.path.name} failed: {self.error}") from self.error
        if self._final_size is None:
            size = self.size_on_disk()
            if fault == "zero":
                os.truncate(self.path, 0)
                size = 0
            elif fault == "truncate" and size:
                size = max(1, int(size * TRUNCATE_FRACTION))
                os.truncate(self.path, size)
            self._final_size = size
        return self._final_size

    # -- encoder thread ------------------------------------------------------------

    def _signal(self, fut: asyncio.Future | None, exc: BaseException | None = None) -> None:
        def settle() -> None:
            if fut is not None and not fut.done():
                if exc is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(MediaError(f"cannot record {self.path.name}: {exc}"))
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the loop closed between the check and the call
                pass

    def _open(self):
        import av

        fmt = _FORMATS[self.fmt]
        options = {"flush_packets": "1"}  # every packet reaches the file: growth is visible at once
        if fmt == "mp4":
            options["movflags"] = _MP4_FLAGS
        container = av.open(str(self.path), "w", format=fmt, options=options)
        self.codec = pick_video_codec()
        if self.codec == "libx264":
            stream = container.add_stream("libx264", rate=self.fps,
                                          options={"preset": "ultrafast", "tune": "zerolatency"})
        else:
            stream = container.add_stream("mpeg4", rate=self.fps)
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = self.fps  # a keyframe, hence a fragment, every second
        stream.thread_count = 1  # many recorders share 2 cores; one thread each is fairest
        return container, stream

    def _run(self) -> None:
        import av

        container = stream = None
        try:
            container, stream = self._open()
            t0 = time.monotonic()
            self.started_at = time.time()
            self._mux(container, stream, self._frame(0), 0)
            self._signal(self._started)
            last_pts = 0
            period = 1.0 / self.fps
            while not self._stop.wait(max(0.0, t0 + (last_pts + 1) * period - time.monotonic())):
                # pts from the wall clock: if the machine is loaded we drop frames instead of
                # stretching time, so duration stays close to the recording time.
                pts = max(last_pts + 1, int((time.monotonic() - t0) * self.fps))
                self._mux(container, stream, self._frame(pts), pts)
                last_pts = pts
            # The last frame marks the real stop time, so duration ~= elapsed wall time.
            end_pts = int((time.monotonic() - t0) * self.fps)
            if end_pts > last_pts:
                self._mux(container, stream, self._frame(end_pts), end_pts)
            for packet in stream.encode(None):
                container.mux(packet)
            container.close()
            container = None
            self.stopped_at = time.time()
        except (av.FFmpegError, OSError, ValueError) as e:
            self.error = e
            self._signal(self._started, e)
        finally:
            if container is not None:
                try:
                    container.close()
                except (av.FFmpegError, OSError, ValueError):
                    pass
            self.stopped_at = self.stopped_at or time.time()
            self._signal(self._started)  # no-op if already settled
            self._signal(self._done)

    def _mux(self, container, stream, image: Image.Image, pts: int) -> None:
        import av

        frame = av.VideoFrame.from_image(image)
        frame.pts = pts
        for packet in stream.encode(frame):
            container.mux(packet)
        self.frames += 1

    def _frame(self, n: int) -> Image.Image:
        """A moving pattern and a frame counter: motion proves the video is not a still."""
        w, h = self.size
        img = Image.new("RGB", (w, h), (20, 24, 40))
        draw = ImageDraw.Draw(img)
        x = (n * 7) % (w + 40) - 40
        draw.rectangle([x, h // 3, x + 40, h // 3 + 40], fill=(240, 200, 30))
        y = (n * 5) % (h + 20) - 20
        draw.rectangle([0, y, w, y + 6], fill=(60, 160, 220))
        font = _font(max(8, h // 16))
        draw.text((6, 6), f"{self.path.stem}", fill=(255, 255, 255), font=font)
        secs = n / self.fps
        draw.text((6, h - h // 8), f"frame {n}  t={secs:7.2f}s", fill=(255, 255, 255), font=font)
        return img

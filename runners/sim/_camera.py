"""Simulated cameras and recordings: plain state, no I/O."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Both implementations report these words for a camera; the sim never reports ERROR.
CONNECTED, DISCONNECTED = "CONNECTED", "DISCONNECTED"

RESOLUTIONS = ["1920x1080", "1280x720", "640x480"]
FORMATS = ["YUYV", "MJPEG"]
FPS_OPTIONS = [15, 30]
EXTENSIONS = {"fmp4": "mp4", "mp4": "mp4", "mkv": "mkv"}


def iso(ts: float | None = None) -> str:
    """UTC ISO-8601 with milliseconds and a Z, as both services print times."""
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def camera_id(dialect: str, index: int) -> str:
    return f"camera{index}" if dialect == "current" else f"/dev/video{index}"


@dataclass
class Recording:
    device: str
    filename: str
    path: Path
    fmt: str
    session_id: str
    started: float  # time.time()
    writer: Any  # runners.sim.media.RecordingWriter
    duration_limit: float | None = None
    auto_stop: asyncio.Task | None = None


@dataclass
class Camera:
    index: int
    device: str
    stream_name: str  # camera0, camera1...: the MediaMTX path name in both dialects
    status: str = DISCONNECTED
    discovered: bool = False  # present in get_camera_list
    connected_at: float | None = None
    recording: Recording | None = None
    bytes_sent: int = 0
    readers: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"Camera {self.index}"

    def streams(self) -> dict[str, str]:
        # Strings only: nothing in the simulator ever connects to these.
        return {
            "rtsp": f"rtsp://127.0.0.1:8554/{self.stream_name}",
            "webrtc": f"http://127.0.0.1:8889/{self.stream_name}/webrtc",
            "hls": f"http://127.0.0.1:8888/{self.stream_name}",
        }

    def summary(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "status": self.status,
            "name": self.name,
            "resolution": RESOLUTIONS[0],
            "fps": 30,
            "streams": self.streams(),
        }

    def status_detail(self) -> dict[str, Any]:
        up = time.time() - self.connected_at if self.connected_at and self.status == CONNECTED else 0
        out = self.summary()
        out["metrics"] = {"bytes_sent": self.bytes_sent, "readers": self.readers, "uptime": int(up)}
        out["capabilities"] = {"formats": list(FORMATS), "resolutions": list(RESOLUTIONS)}
        out["recording"] = self.recording is not None
        return out

    def capabilities(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "formats": list(FORMATS),
            "resolutions": list(RESOLUTIONS),
            "fps_options": list(FPS_OPTIONS),
            "validation_status": "confirmed",
        }

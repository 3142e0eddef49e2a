"""The camera, snapshot, recording and file methods of the simulated camera service
(a mixin of :class:`runners.sim.service.CameraService`, split out to keep modules small)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runners.sim import _errors as E
from runners.sim._camera import CONNECTED, EXTENSIONS, Camera, Recording, iso
from runners.sim._params import Params
from runners.sim._session import PendingCall, Session

if TYPE_CHECKING:
    from runners.sim._files import MediaDir
    from runners.sim.chaos import Chaos


class MediaMethods:
    # Provided by CameraService.
    dialect: str
    name: str
    log: Any
    chaos: Chaos | None
    mediamtx_up: bool
    record_format: str
    recording_fps: int
    recording_size: tuple[int, int]
    snapshot_size: tuple[int, int]
    recordings: MediaDir
    snapshots: MediaDir
    _cameras: list[Camera]
    _by_device: dict[str, Camera]
    _recording_meta: dict[str, dict[str, Any]]

    def _emit(self, topic: str, params: dict, *, legacy: dict | None = None) -> None: ...
    def _spawn(self, coro, name: str = "") -> asyncio.Task: ...


    def _camera(self, p: Params) -> Camera:
        device = p.string("device")
        cam = self._by_device.get(device)
        if cam is None or not cam.discovered:
            raise E.camera_not_found(self.dialect, device)
        return cam

    def _need_connected(self, cam: Camera) -> None:
        if cam.status != CONNECTED:
            raise E.invalid_state(self.dialect, cam.status, [CONNECTED], legacy_code=-32004,
                                  legacy_message="Camera not found or disconnected")

    def _need_mediamtx(self) -> None:
        if not self.mediamtx_up:
            raise E.dependency_failed(self.dialect, "mediamtx", "MediaMTX API unreachable at 127.0.0.1:9997")

    async def _ping(self, session: Session, p: Params, call: PendingCall) -> str:
        return "pong"

    async def _get_camera_list(self, session: Session, p: Params, call: PendingCall) -> dict:
        cams = [c.summary() for c in self._cameras if c.discovered]
        return {"cameras": cams, "total": len(cams), "connected": sum(c["status"] == CONNECTED for c in cams)}

    async def _get_camera_status(self, session: Session, p: Params, call: PendingCall) -> dict:
        return self._camera(p).status_detail()

    async def _get_camera_capabilities(self, session: Session, p: Params, call: PendingCall) -> dict:
        return self._camera(p).capabilities()

    async def _take_snapshot(self, session: Session, p: Params, call: PendingCall) -> dict:
        from runners.sim.media import MediaError, write_snapshot_jpeg

        cam = self._camera(p)
        filename = p.filename("filename", required=False)
        self._need_connected(cam)
        self._need_mediamtx()
        when = datetime.now().astimezone()
        if filename is None:
            filename = self.snapshots.unique_name(f"{cam.stream_name}_{when.strftime('%Y-%m-%d_%H-%M-%S_%f')[:-3]}",
                                                  "jpg")
        elif "." not in filename:
            filename += ".jpg"
        fault = self.chaos.pick("snapshot", request_id=call.rid, device=cam.device) if self.chaos else None
        path = self.snapshots.local_path(filename)
        try:
            size = await asyncio.to_thread(write_snapshot_jpeg, path, when=when, exif=fault != "no_exif",
                                           size=self.snapshot_size, label=f"{self.name} {cam.device}")
        except (MediaError, OSError) as e:
            self.log.write("ERROR", "snapshot failed", device=cam.device, filename=filename, error=str(e))
            if self.dialect == "legacy":
                return {"device": cam.device, "filename": filename, "status": "FAILED", "timestamp": iso(),
                        "file_size": 0, "file_path": self.snapshots.host_path(filename), "error": str(e)}
            raise E.dependency_failed(self.dialect, "ffmpeg", f"snapshot capture failed: {e}") from None
        result = {
            "device": cam.device,
            "filename": filename,
            "status": "SUCCESS",
            "timestamp": iso(when.timestamp()),
            "file_size": size,
            "file_path": self.snapshots.host_path(filename),
        }
        self.log.write("INFO", "snapshot taken", device=cam.device, filename=filename, file_size=size,
                       exif=fault != "no_exif")
        self._emit("snapshot.taken", {k: result[k] for k in ("device", "filename", "file_path", "file_size")})
        return result

    async def _start_recording(self, session: Session, p: Params, call: PendingCall) -> dict:
        cam = self._camera(p)
        duration = p.number("duration", minimum=0.001, maximum=86400)
        fmt = p.choice("format", tuple(EXTENSIONS), default=self.record_format)
        self._need_connected(cam)
        self._need_mediamtx()
        if cam.recording is not None:
            raise E.invalid_state(self.dialect, "RECORDING", ["IDLE"], legacy_code=-32005,
                                  legacy_message="Recording already in progress")
        from runners.sim.media import RecordingWriter

        started = time.time()
        stem = f"{cam.stream_name}_{datetime.fromtimestamp(started).strftime('%Y-%m-%d_%H-%M-%S')}"
        filename = self.recordings.unique_name(stem, EXTENSIONS[fmt])
        path = self.recordings.local_path(filename)
        writer = RecordingWriter(path, fps=self.recording_fps, size=self.recording_size, fmt=fmt)
        rec = Recording(cam.device, filename, path, fmt, str(uuid.uuid4()), started, writer, duration)
        cam.recording = rec  # reserved before any await: a concurrent start sees it
        # Shielded: a client that hangs up mid-call does not leave a half-started recording.
        task = self._spawn(self._begin_recording(cam, rec), f"start:{filename}")
        await asyncio.shield(task)
        result = {
            "device": cam.device,
            "session_id": rec.session_id,
            "filename": filename,
            "status": "RECORDING",
            "start_time": iso(rec.started),
            "format": fmt,
            "file_path": self.recordings.host_path(filename),
        }
        if duration is not None:
            result["duration"] = duration
        return result

    async def _begin_recording(self, cam: Camera, rec: Recording) -> None:
        from runners.sim.media import MediaError

        try:
            await rec.writer.start()
        except (MediaError, OSError) as e:
            if cam.recording is rec:
                cam.recording = None
            self.log.write("ERROR", "recording failed to start", device=cam.device, filename=rec.filename,
                           error=str(e))
            raise E.dependency_failed(self.dialect, "mediamtx", f"recording could not start: {e}") from None
        rec.started = rec.writer.started_at or rec.started
        if cam.recording is not rec:  # the service restarted or the camera vanished meanwhile
            await self._finish_recording(cam, rec, reason="aborted", request_id=None, chaos_ok=False)
            raise E.invalid_state(self.dialect, cam.status, [CONNECTED], legacy_code=-32004,
                                  legacy_message="Camera not found or disconnected")
        if rec.duration_limit is not None:
            rec.auto_stop = self._spawn(self._auto_stop(cam, rec), f"autostop:{rec.filename}")
        self.log.write("INFO", "recording started", device=cam.device, filename=rec.filename, format=rec.fmt,
                       duration=rec.duration_limit)
        self._emit("recording.start",
                   {"device": cam.device, "filename": rec.filename, "format": rec.fmt,
                    "session_id": rec.session_id, "start_time": iso(rec.started)},
                   legacy={"device": cam.device, "status": "STARTED", "filename": rec.filename, "duration": 0})

    async def _auto_stop(self, cam: Camera, rec: Recording) -> None:
        await asyncio.sleep(rec.duration_limit or 0)
        if cam.recording is rec:
            cam.recording = None
            await self._finish_recording(cam, rec, reason="duration reached", request_id=None)

    async def _finish_recording(self, cam: Camera, rec: Recording, *, reason: str, request_id: Any,
                                chaos_ok: bool = True) -> dict:
        """Close the writer of a recording already detached from its camera."""
        from runners.sim.media import MediaError

        current = asyncio.current_task()
        if rec.auto_stop is not None and rec.auto_stop is not current and not rec.auto_stop.done():
            rec.auto_stop.cancel()
        fault = None
        if chaos_ok and self.chaos is not None:
            fault = self.chaos.pick("recording", request_id=request_id if request_id is not None else "auto",
                                    device=cam.device)
        try:
            size = await rec.writer.stop(fault)
        except (MediaError, OSError) as e:
            size = rec.writer.size_on_disk()
            self.log.write("ERROR", "recording failed", device=cam.device, filename=rec.filename, error=str(e))
            self._emit("recording.error", {"device": cam.device, "filename": rec.filename, "error": str(e)},
                       legacy={"device": cam.device, "status": "ERROR", "filename": rec.filename,
                               "duration": round(rec.writer.elapsed, 3)})
            raise E.dependency_failed(self.dialect, "mediamtx", f"recording failed: {e}") from None
        end = time.time()
        duration = round(rec.writer.elapsed or (end - rec.started), 3)
        self._recording_meta[rec.filename] = {"duration": duration, "format": rec.fmt, "device": cam.device}
        info = {
            "device": cam.device,
            "session_id": rec.session_id,
            "filename": rec.filename,
            "status": "STOPPED",
            "start_time": iso(rec.started),
            "end_time": iso(end),
            "duration": duration,
            "file_size": size,
            "format": rec.fmt,
            "file_path": self.recordings.host_path(rec.filename),
        }
        self.log.write("INFO", "recording stopped", device=cam.device, filename=rec.filename, duration=duration,
                       file_size=size, reason=reason)
        self._emit("recording.stop", {k: info[k] for k in ("device", "filename", "duration", "file_size",
                                                            "end_time", "session_id")} | {"reason": reason},
                   legacy={"device": cam.device, "status": "STOPPED", "filename": rec.filename, "duration": duration})
        return info

    async def _stop_recording(self, session: Session, p: Params, call: PendingCall) -> dict:
        cam = self._camera(p)
        rec = cam.recording
        if rec is None:
            raise E.invalid_state(self.dialect, "IDLE", ["RECORDING"], legacy_code=E.INVALID_PARAMS,
                                  legacy_message=f"Invalid params: device: no recording in progress on {cam.device}")
        cam.recording = None  # detached now: a concurrent stop gets "not recording"
        task = self._spawn(self._finish_recording(cam, rec, reason="requested", request_id=call.rid),
                           f"stop:{rec.filename}")
        return await asyncio.shield(task)

    # ------------------------------------------------------------------ file methods

    async def _list_recordings(self, session: Session, p: Params, call: PendingCall) -> dict:
        return self.recordings.listing(p.integer("limit", default=50, minimum=1, maximum=1000),
                                       p.integer("offset", default=0, minimum=0, maximum=10**9))

    async def _list_snapshots(self, session: Session, p: Params, call: PendingCall) -> dict:
        return self.snapshots.listing(p.integer("limit", default=50, minimum=1, maximum=1000),
                                      p.integer("offset", default=0, minimum=0, maximum=10**9))

    def _active_recording(self, filename: str) -> Recording | None:
        return next((c.recording for c in self._cameras if c.recording and c.recording.filename == filename), None)

    async def _get_recording_info(self, session: Session, p: Params, call: PendingCall) -> dict:
        name = p.filename()
        info = self.recordings.info(name)
        if info is None:
            raise E.file_not_found(self.dialect, "recording", name)
        meta = self._recording_meta.get(name, {})
        active = self._active_recording(name)
        info.update({"duration": round(active.writer.elapsed, 3) if active else meta.get("duration"),
                     "format": meta.get("format") or (active.fmt if active else None),
                     "device": meta.get("device") or (active.device if active else None),
                     "recording": active is not None})
        return info

    async def _get_snapshot_info(self, session: Session, p: Params, call: PendingCall) -> dict:
        name = p.filename()
        info = self.snapshots.info(name)
        if info is None:
            raise E.file_not_found(self.dialect, "snapshot", name)
        info["resolution"] = f"{self.snapshot_size[0]}x{self.snapshot_size[1]}"
        return info

    async def _delete_recording(self, session: Session, p: Params, call: PendingCall) -> dict:
        name = p.filename()
        if self._active_recording(name) is not None:
            raise E.invalid_state(self.dialect, "RECORDING", ["STOPPED"], legacy_code=E.INVALID_PARAMS,
                                  legacy_message=f"Invalid params: filename: {name} is still being recorded")
        if not self.recordings.delete(name):
            raise E.file_not_found(self.dialect, "recording", name)
        self._recording_meta.pop(name, None)
        self.log.write("INFO", "recording deleted", filename=name, user_id=session.user_id)
        return {"filename": name, "deleted": True, "message": "Recording file deleted successfully"}

    async def _delete_snapshot(self, session: Session, p: Params, call: PendingCall) -> dict:
        name = p.filename()
        if not self.snapshots.delete(name):
            raise E.file_not_found(self.dialect, "snapshot", name)
        self.log.write("INFO", "snapshot deleted", filename=name, user_id=session.user_id)
        return {"filename": name, "deleted": True, "message": "Snapshot file deleted successfully"}

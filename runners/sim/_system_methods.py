"""Authentication, status, metrics and event-subscription methods of the simulated camera
service (a mixin of :class:`runners.sim.service.CameraService`), and the health summary the
HTTP endpoints report."""

from __future__ import annotations

import platform
import resource
import shutil
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt

from runners.sim import _errors as E
from runners.sim._camera import CONNECTED, Camera, iso
from runners.sim._params import Params
from runners.sim._session import PendingCall, Session

if TYPE_CHECKING:
    from runners.sim._files import MediaDir

ROLES = {"viewer": 1, "operator": 2, "admin": 3}
PERMISSIONS = {"viewer": ["view"], "operator": ["view", "control"], "admin": ["view", "control", "admin"]}
EVENT_TOPICS = (
    "camera.connected", "camera.disconnected", "camera.status_change",
    "recording.start", "recording.stop", "recording.progress", "recording.error",
    "snapshot.taken", "system.health", "system.startup", "system.shutdown",
)


class SystemMethods:
    # Provided by CameraService.
    dialect: str
    name: str
    version: str
    secret: str
    log: Any
    root: Any
    state: str
    started_at: float
    discovery_done: bool
    mediamtx_up: bool
    total_requests: int
    total_errors: int
    rate_limited: int
    snapshot_size: tuple[int, int]
    recordings: MediaDir
    snapshots: MediaDir
    _cameras: list[Camera]
    _sessions: dict[int, Session]
    _latency_sum_ms: float
    _latency_n: int
    _mono_start: float

    @property
    def accepting(self) -> bool: ...
    @property
    def uptime(self) -> float: ...


    def verify_token(self, token: str) -> dict | str:
        """The token's claims, or the reason it is rejected."""
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], options={"require": ["exp", "iat"]})
        except jwt.ExpiredSignatureError:
            return "token expired"
        except jwt.InvalidSignatureError:
            return "invalid token signature"
        except jwt.MissingRequiredClaimError as e:
            return f"token lacks the '{e.claim}' claim"
        except jwt.ImmatureSignatureError:
            return "token issued in the future (check the clocks)"
        except jwt.InvalidTokenError as e:
            return f"invalid token: {e}"
        role, user = claims.get("role"), claims.get("user_id")
        if role not in ROLES:
            return f"unknown role {role!r}: expected viewer, operator or admin"
        if not isinstance(user, str) or not user:
            return "token lacks the 'user_id' claim"
        return claims

    async def _authenticate(self, session: Session, p: Params, call: PendingCall) -> dict:
        token = p.raw.get("auth_token")
        if not isinstance(token, str) or not token:
            if self.dialect == "current":
                raise p.fail("auth_token", "required", "'auth_token' is required: a JWT (HS256) string")
            reason = "auth_token is required"
        else:
            got = self.verify_token(token)
            if isinstance(got, dict):
                # A later failed attempt does not undo this: the socket stays authenticated.
                session.authenticated = True
                session.role = got["role"]
                session.user_id = got["user_id"]
                session.session_id = str(uuid.uuid4())
                self.log.write("INFO", "client authenticated", session=session.id, user_id=session.user_id,
                               role=session.role)
                return {
                    "authenticated": True,
                    "role": session.role,
                    "permissions": PERMISSIONS[session.role],
                    "expires_at": iso(float(got["exp"])),
                    "session_id": session.session_id,
                    "user_id": session.user_id,
                }
            reason = got
        self.log.write("WARNING", "authentication failed", session=session.id, reason=reason)
        if self.dialect == "current":
            raise E.auth_failed(self.dialect, reason)
        return {"authenticated": False, "error": reason}  # legacy: a result, not an error


    def system_status(self) -> dict:
        found = [c for c in self._cameras if c.discovered]
        if not self.accepting or (not found and self._cameras):
            status, message = "starting", "camera discovery in progress"
        elif len(found) < len(self._cameras) or not self.discovery_done:
            status, message = "partial", f"{len(found)} of {len(self._cameras)} cameras discovered"
        else:
            status, message = "ready", f"{len(found)} cameras available"
        return {"status": status, "message": message,
                "available_cameras": [c.device for c in found if c.status == CONNECTED],
                "discovery_active": not self.discovery_done}

    async def _get_system_status(self, session: Session, p: Params, call: PendingCall) -> dict:
        return self.system_status()

    def health(self) -> dict:
        """Everything the health endpoints report (status words lowercase, as over HTTP)."""
        connected = sum(c.status == CONNECTED for c in self._cameras)
        discovered = sum(c.discovered for c in self._cameras)
        if not self.accepting:
            status, detail = "unhealthy", f"camera service is {self.state}"
        elif not self.mediamtx_up:
            status, detail = "degraded", "MediaMTX API unreachable"
        elif not self.discovery_done:
            status, detail = "degraded", "camera discovery in progress"
        elif connected < discovered:
            status, detail = "degraded", f"{discovered - connected} camera(s) disconnected"
        else:
            status, detail = "healthy", "all components operational"
        return {
            "status": status,
            "detail": detail,
            "state": self.state,
            "ready": self.accepting and self.discovery_done and self.mediamtx_up,
            "alive": self.accepting,
            "uptime": round(self.uptime, 3),
            "started_at": iso(self.started_at),
            "version": self.version,
            "dialect": self.dialect,
            "name": self.name,
            "mediamtx": self.mediamtx_up,
            "camera_monitor": self.accepting,
            "discovery_done": self.discovery_done,
            "cameras_total": len(self._cameras),
            "cameras_discovered": discovered,
            "cameras_connected": connected,
            "recordings_active": sum(c.recording is not None for c in self._cameras),
            "connections": len(self._sessions),
            "total_requests": self.total_requests,
            "total_errors": self.total_errors,
        }

    async def _get_status(self, session: Session, p: Params, call: PendingCall) -> dict:
        h = self.health()
        return {
            "status": h["status"].upper(),
            "uptime": int(h["uptime"]),
            "version": self.version,
            "components": {
                "websocket_server": "running",
                "camera_monitor": "running" if self.discovery_done else "starting",
                "mediamtx_controller": "running" if self.mediamtx_up else "error",
            },
        }

    async def _get_server_info(self, session: Session, p: Params, call: PendingCall) -> dict:
        info = {
            "name": "MediaMTX Camera Service",
            "version": self.version,
            "build_date": "2025-09-01",
            "architecture": platform.machine() or "x86_64",
            "capabilities": ["snapshots", "recordings", "streaming"],
            "supported_formats": ["fmp4", "mp4", "mkv", "jpg"],
            "max_cameras": 16,
            "hostname": self.name,
        }
        if self.dialect == "current":
            info["go_version"] = "go1.22.5"
        else:
            info["python_version"] = platform.python_version()
        return info

    async def _get_metrics(self, session: Session, p: Params, call: PendingCall) -> dict:
        avg = self._latency_sum_ms / self._latency_n if self._latency_n else 0.0
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "active_connections": len(self._sessions),
            "total_requests": self.total_requests,
            "average_response_time": round(avg, 3),
            "error_rate": round(self.total_errors / self.total_requests, 4) if self.total_requests else 0.0,
            "rate_limited": self.rate_limited,
            "memory_usage": round(rss_kb / 1024 if sys.platform != "darwin" else rss_kb / 2**20, 1),
            "cpu_usage": round(time.process_time() / max(1e-9, time.monotonic() - self._mono_start) * 100, 1),
            "uptime": int(self.uptime),
            "cameras_connected": sum(c.status == CONNECTED for c in self._cameras),
            "recordings_active": sum(c.recording is not None for c in self._cameras),
        }

    async def _get_storage_info(self, session: Session, p: Params, call: PendingCall) -> dict:
        du = shutil.disk_usage(self.root)
        rec, snap = self.recordings.total_bytes(), self.snapshots.total_bytes()
        return {
            "total_space": du.total,
            "used_space": du.used,
            "available_space": du.free,
            "usage_percentage": round(du.used / du.total * 100, 1) if du.total else 0.0,
            "recordings_size": rec,
            "snapshots_size": snap,
            "low_space_warning": du.total > 0 and du.free / du.total < 0.1,
        }

    async def _subscribe_events(self, session: Session, p: Params, call: PendingCall) -> dict:
        topics = p.string_list("topics")
        families = {t.split(".", 1)[0] for t in EVENT_TOPICS}
        for t in topics:
            if t in EVENT_TOPICS or t == "*" or (t.endswith(".*") and t[:-2] in families):
                continue
            raise p.fail("topics", "enum", f"unknown topic {t!r}; known: {', '.join(EVENT_TOPICS)} (or 'family.*')")
        filters = p.mapping("filters")
        session.topics.update(topics)
        if filters is not None:
            session.filters = dict(filters)
        return {"subscribed": True, "topics": sorted(session.topics), "filters": session.filters}

    async def _unsubscribe_events(self, session: Session, p: Params, call: PendingCall) -> dict:
        topics = p.string_list("topics", required=False)
        if topics is None:
            session.topics.clear()
        else:
            session.topics.difference_update(topics)
        return {"unsubscribed": True, "topics": sorted(session.topics)}


# Methods that talk to MediaMTX: a chaos "error" on the current service reports a failed dependency.

"""The simulated MediaMTX Camera Service: state and behaviour, no sockets.

One :class:`CameraService` plays either implementation (camera-service-api.md):
``current`` (the Go service the API reference documents) or ``legacy`` (the retired Python
service still on older hosts). Transports (``rpc_server``, ``health_server``) call in:

- ``open_session(send, close)`` per WebSocket, ``close_session(s)`` when it ends;
- ``begin(session, frame)`` per text/binary frame: runs every check that needs no waiting
  (parse, rate limit, method, auth, role, chaos decision) at once, in arrival order, and
  returns an error response, ``None`` (notification) or a :class:`PendingCall` to run;
- ``health()`` for the HTTP health endpoints.

This module holds lifecycle, discovery, sessions, dispatch and events; the method handlers
are mixins in ``_media_methods`` (cameras, snapshots, recordings, files) and
``_system_methods`` (authenticate, status, metrics, subscriptions, health summary).

Dialect differences handled here (the error codes themselves live in ``_errors``):
ping needs auth on legacy; legacy rejects a bad token with a *result*
``{"authenticated": false, "error": …}``; camera ids are ``camera0`` vs ``/dev/video0``;
events are dotted topics to subscribers (current) vs ``camera_status_update`` /
``recording_status_update`` broadcasts to every authenticated client (legacy);
``get_server_info`` needs admin on legacy, viewer on current; default limits 300/min and
10 connections (current) vs 120/min and 100 connections (legacy).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any, Callable

from runners.sim import _errors as E
from runners.sim._camera import CONNECTED, DISCONNECTED, Camera, camera_id, iso
from runners.sim._errors import RpcFault
from runners.sim._files import MediaDir
from runners.sim._media_methods import MediaMethods
from runners.sim._session import ConnectionRefused, MethodSpec, PendingCall, Session
from runners.sim._system_methods import EVENT_TOPICS, PERMISSIONS, ROLES, SystemMethods
from runners.sim.chaos import Chaos

__all__ = ["CameraService", "ConnectionRefused", "PendingCall", "Session", "DIALECT_DEFAULTS", "EVENT_TOPICS",
           "LEGACY_EVENT_METHOD", "MAX_FRAME", "PERMISSIONS", "ROLES"]

DIALECT_DEFAULTS: dict[str, dict[str, Any]] = {
    "current": {"rate_limit": 300, "max_connections": 10, "version": "2.1.0", "log_fmt": "plain",
                "record_format": "fmp4"},
    "legacy": {"rate_limit": 120, "max_connections": 100, "version": "1.0.3", "log_fmt": "json",
               "record_format": "mp4"},
}

# What the legacy service broadcasts for a topic (None: it has no such notification).
LEGACY_EVENT_METHOD = {
    "camera.connected": "camera_status_update",
    "camera.disconnected": "camera_status_update",
    "camera.status_change": "camera_status_update",
    "recording.start": "recording_status_update",
    "recording.stop": "recording_status_update",
    "recording.error": "recording_status_update",
}

MAX_FRAME = 4 * 2**20  # bytes; the transports enforce it, begin() re-checks


class _NullLog:
    def write(self, level: str, message: str, **fields: Any) -> None:
        pass


def _type_name(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number" if isinstance(v, (int, float)) else type(v).__name__)


class CameraService(MediaMethods, SystemMethods):
    def __init__(self, *, name: str, dialect: str, root: Path, secret: str, cameras: int = 2,
                 discovery_delay: float = 1.0, chaos: Chaos | None = None, log: Any | None = None,
                 rate_limit: int | None = None, rate_window: float = 60.0, max_connections: int | None = None,
                 version: str | None = None, discovery_stagger: float = 0.05, restart_gap: float = 0.3,
                 snapshot_size: tuple[int, int] = (640, 480), recording_size: tuple[int, int] = (320, 240),
                 recording_fps: int = 15):
        self.dialect = E.check_dialect(dialect)
        if not isinstance(secret, str) or not secret:
            raise ValueError("secret must be a non-empty string (the JWT signing secret)")
        if not isinstance(cameras, int) or not 0 <= cameras <= 64:
            raise ValueError(f"cameras must be an integer 0..64, got {cameras!r}")
        if not isinstance(discovery_delay, (int, float)) or discovery_delay < 0:
            raise ValueError(f"discovery_delay must be seconds >= 0, got {discovery_delay!r}")
        defaults = DIALECT_DEFAULTS[self.dialect]
        self.name = name
        self.root = Path(root)
        self.secret = secret
        self.discovery_delay = float(discovery_delay)
        self.discovery_stagger = float(discovery_stagger)
        self.restart_gap = float(restart_gap)
        self.rate_limit = int(rate_limit if rate_limit is not None else defaults["rate_limit"])
        self.rate_window = float(rate_window)
        self.max_connections = int(max_connections if max_connections is not None else defaults["max_connections"])
        self.version = version or defaults["version"]
        self.record_format = defaults["record_format"]
        self.snapshot_size = snapshot_size
        self.recording_size = recording_size
        self.recording_fps = recording_fps
        self.log = log if log is not None else _NullLog()
        self.chaos = chaos
        if chaos is not None and chaos.log is None:
            # The CHAOS marker goes to the host's service log, where a smoke check can find it.
            chaos.log = lambda line: self.log.write("WARNING", line)
        self.recordings = MediaDir(self.root, "recordings")
        self.snapshots = MediaDir(self.root, "snapshots")
        self._cameras = [Camera(i, camera_id(self.dialect, i), f"camera{i}") for i in range(cameras)]
        self._by_device = {c.device: c for c in self._cameras}
        self._sessions: dict[int, Session] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self._discovery: asyncio.Task | None = None
        self._restart_lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._recording_meta: dict[str, dict[str, Any]] = {}
        self.state = "stopped"  # stopped | starting | running | restarting | closed
        self.started_at = time.time()
        self._mono_start = time.monotonic()
        self.discovery_done = False
        self.mediamtx_up = True
        self.restarts = 0
        self.total_requests = 0
        self.total_errors = 0
        self.rate_limited = 0
        self._latency_sum_ms = 0.0
        self._latency_n = 0
        self._methods = self._method_table()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the service (idempotent): cameras are discovered after ``discovery_delay``."""
        if self.state == "closed":
            raise RuntimeError(f"camera service {self.name} is closed")
        if self.state == "stopped":
            self._boot()

    def _boot(self) -> None:
        self.recordings.ensure()
        self.snapshots.ensure()
        self.state = "starting"
        self.started_at = time.time()
        self._mono_start = time.monotonic()
        self.discovery_done = False
        self._ready.clear()
        self.log.write("INFO", "camera service started", version=self.version, dialect=self.dialect,
                       cameras=len(self._cameras))
        self._discovery = self._spawn(self._discover(), f"discovery:{self.name}")

    async def restart(self) -> None:
        """Like ``systemctl restart camera-service``: connections drop, recordings end,
        cameras vanish; health says unhealthy/not ready for ``restart_gap`` seconds, then the
        service is back and rediscovers cameras after ``discovery_delay``."""
        async with self._restart_lock:
            if self.state == "closed":
                raise RuntimeError(f"camera service {self.name} is closed")
            self.log.write("WARNING", "camera service restarting")
            self.state = "restarting"
            self.restarts += 1
            await self._teardown(1012, "service restart")
            await asyncio.sleep(self.restart_gap)
            if self.state == "restarting":
                self._boot()

    async def close(self) -> None:
        """Stop for good: recordings finalised, connections closed, background tasks ended."""
        if self.state == "closed":
            return
        self.state = "closed"
        await self._teardown(1001, "service shutting down")
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.log.write("INFO", "camera service stopped")

    async def _teardown(self, code: int, reason: str) -> None:
        self._ready.clear()
        self.discovery_done = False
        if self._discovery is not None and not self._discovery.done():
            self._discovery.cancel()
            await asyncio.gather(self._discovery, return_exceptions=True)
        self._discovery = None
        for s in list(self._sessions.values()):
            s.close(code, reason)
        self._sessions.clear()
        stops = []
        for cam in self._cameras:
            rec, cam.recording = cam.recording, None
            if rec is not None:
                stops.append(self._finish_recording(cam, rec, reason=reason, request_id=None, chaos_ok=False))
            cam.discovered = False
            cam.status = DISCONNECTED
            cam.connected_at = None
        if stops:
            await asyncio.gather(*stops, return_exceptions=True)

    def _spawn(self, coro, name: str = "") -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not isinstance(task.exception(), RpcFault):
            self.log.write("ERROR", f"background task {task.get_name()} failed: {task.exception()!r}")

    @property
    def accepting(self) -> bool:
        return self.state in ("starting", "running")

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._mono_start if self.accepting else 0.0

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until discovery has finished; False on timeout."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    # ------------------------------------------------------------------ discovery & cameras

    async def _discover(self) -> None:
        delay = self.discovery_delay
        if self.chaos is not None and self.chaos.pick("discovery") == "slow_discovery":
            delay *= self.chaos.slow_discovery_factor
        self.log.write("INFO", "camera discovery started", expected_s=round(delay, 3))
        await asyncio.sleep(delay)
        for i, cam in enumerate(self._cameras):
            if i and self.discovery_stagger:
                await asyncio.sleep(self.discovery_stagger)
            self._connect(cam)
        self.discovery_done = True
        self.state = "running"
        self._ready.set()
        self.log.write("INFO", "camera discovery complete", cameras=len(self._cameras))

    def _connect(self, cam: Camera) -> None:
        cam.discovered = True
        cam.status = CONNECTED
        cam.connected_at = time.time()
        self.log.write("INFO", "camera connected", device=cam.device, name=cam.name)
        self._emit("camera.connected", cam.summary(), legacy=cam.summary())

    def set_camera_connected(self, device: str, connected: bool) -> None:
        """Plug or unplug a camera (host commands, tests). Unplugging ends its recording."""
        cam = self._by_device.get(device)
        if cam is None:
            raise KeyError(f"no camera {device!r}; cameras: {', '.join(self._by_device)}")
        if connected:
            if cam.status != CONNECTED:
                self._connect(cam)
            return
        if cam.status == DISCONNECTED:
            return
        cam.status = DISCONNECTED
        cam.connected_at = None
        self.log.write("WARNING", "camera disconnected", device=cam.device)
        self._emit("camera.disconnected", cam.summary(), legacy=cam.summary())
        rec, cam.recording = cam.recording, None
        if rec is not None:
            self._spawn(self._finish_recording(cam, rec, reason="camera disconnected", request_id=None,
                                               chaos_ok=False), f"stop:{rec.filename}")

    def set_mediamtx(self, up: bool) -> None:
        """Simulate MediaMTX going down (snapshots/recordings fail, health degraded) or back up."""
        if up != self.mediamtx_up:
            self.mediamtx_up = up
            self.log.write("INFO" if up else "ERROR", "MediaMTX API reachable" if up else "MediaMTX API unreachable")

    def cameras(self) -> list[dict]:
        """Every configured camera with its state (discovered or not), for host tools and tests."""
        return [{**c.summary(), "discovered": c.discovered, "recording": c.recording is not None}
                for c in self._cameras]

    # ------------------------------------------------------------------ sessions

    def open_session(self, send: Callable[[dict], None], close: Callable[[int, str, bool], None], *,
                     peer: str = "") -> Session:
        if not self.accepting:
            raise ConnectionRefused(f"camera service is {self.state}", http_status=503, close_code=1012)
        if len(self._sessions) >= self.max_connections:
            self.log.write("WARNING", "connection refused: limit reached", limit=self.max_connections, peer=peer)
            raise ConnectionRefused(f"too many connections (limit {self.max_connections})")
        s = Session(next(self._ids), peer=peer, send=send, close=close)
        self._sessions[s.id] = s
        self.log.write("INFO", "client connected", session=s.id, peer=peer, connections=len(self._sessions))
        return s

    def close_session(self, session: Session) -> None:
        session.closed = True
        if self._sessions.pop(session.id, None) is not None:
            self.log.write("INFO", "client disconnected", session=session.id, connections=len(self._sessions))

    @property
    def connection_count(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ dispatch

    async def handle(self, session: Session, frame: str | bytes) -> dict | None:
        """Check and run one frame; the response to send, or None."""
        got = self.begin(session, frame)
        return await got.run() if isinstance(got, PendingCall) else got

    def begin(self, session: Session, frame: str | bytes) -> dict | PendingCall | None:
        """Every check that needs no waiting, in arrival order (so rate limiting and chaos
        decisions are deterministic): returns an error response, None, or a PendingCall."""
        t0 = time.perf_counter()
        d = self.dialect
        if isinstance(frame, (bytes, bytearray, memoryview)):
            return self._reject(session, None, "-", t0, E.invalid_request(
                d, f"binary frame of {len(frame)} bytes: expected a text frame holding one JSON-RPC 2.0 object"))
        if len(frame) > MAX_FRAME:
            return self._reject(session, None, "-", t0, E.invalid_request(
                d, f"frame of {len(frame)} characters exceeds the {MAX_FRAME} byte limit"))
        try:
            msg = json.loads(frame)
        except (ValueError, RecursionError) as e:
            return self._reject(session, None, "-", t0, E.parse_error(d, f"invalid JSON: {str(e)[:200]}"))
        if isinstance(msg, list):
            return self._reject(session, None, "-", t0, E.invalid_request(
                d, "batch requests are not supported: send one JSON-RPC object per frame"))
        if not isinstance(msg, dict):
            return self._reject(session, None, "-", t0, E.invalid_request(
                d, f"expected a JSON-RPC request object, got a JSON {_type_name(msg)}"))
        has_id = "id" in msg
        rid = msg.get("id")
        if has_id and not (rid is None or isinstance(rid, str)
                           or (isinstance(rid, (int, float)) and not isinstance(rid, bool))):
            return self._reject(session, None, "-", t0, E.invalid_request(
                d, f"'id' must be a string, a number or null, got a JSON {_type_name(rid)}"))
        if msg.get("jsonrpc") != "2.0":
            seen = repr(msg["jsonrpc"])[:40] if "jsonrpc" in msg else "nothing"
            return self._reject(session, rid, "-", t0, E.invalid_request(d, f"'jsonrpc' must be \"2.0\", got {seen}"))
        method = msg.get("method")
        if not isinstance(method, str) or not method:
            return self._reject(session, rid, "-", t0, E.invalid_request(
                d, f"'method' must be a non-empty string, got a JSON {_type_name(method)}"))
        params = msg.get("params")
        if "params" in msg and not isinstance(params, (dict, list)):
            return self._reject(session, rid, method, t0, E.invalid_request(
                d, f"'params' must be an object or an array, got a JSON {_type_name(params)}"))
        notification = not has_id
        limited = self._rate_check(session)
        if limited is not None:
            self.rate_limited += 1
            return self._reject(session, rid, method, t0, limited, notification=notification)
        spec = self._methods.get(method)
        if spec is None:
            return self._reject(session, rid, method, t0, E.method_not_found(d, method), notification=notification)
        if spec.role is not None:
            if not session.authenticated:
                return self._reject(session, rid, method, t0, E.auth_required(d, method), notification=notification)
            if ROLES[session.role or "viewer"] < ROLES[spec.role]:
                return self._reject(session, rid, method, t0,
                                    E.permission_denied(d, method, spec.role, session.role or "none"),
                                    notification=notification)
        if isinstance(params, list):
            if params:
                return self._reject(session, rid, method, t0, E.invalid_params(
                    d, "params", "object", "send named parameters as a JSON object, not an array"),
                    notification=notification)
            params = {}
        fault = None
        if self.chaos is not None and not notification:
            fault = self.chaos.pick(f"rpc:{method}", request_id=rid, session=session.id)
        return PendingCall(self, session, method, rid, notification, params or {}, spec, fault, t0)

    def _reject(self, session: Session, rid: Any, method: str, t0: float, fault: RpcFault, *,
                notification: bool = False) -> dict | None:
        self._log_request(session, method, rid, f"error {fault.code}", t0)
        if notification:
            return None  # JSON-RPC: never answer a notification, not even with an error
        return {"jsonrpc": "2.0", "error": fault.to_error(), "id": rid}

    def _rate_check(self, session: Session) -> RpcFault | None:
        now = time.monotonic()
        stamps = session.stamps
        while stamps and stamps[0] <= now - self.rate_window:
            stamps.popleft()
        if len(stamps) >= self.rate_limit:
            retry = max(1, int((stamps[0] + self.rate_window - now) * 1000))
            return E.rate_limited(self.dialect, retry, self.rate_limit, self.rate_window)
        stamps.append(now)
        return None

    def _log_request(self, session: Session, method: str, rid: Any, outcome: str, t0: float,
                     fault: str | None = None) -> None:
        ms = (time.perf_counter() - t0) * 1000
        self.total_requests += 1
        self._latency_sum_ms += ms
        self._latency_n += 1
        ok = outcome == "ok"
        if not ok:
            self.total_errors += 1
        fields: dict[str, Any] = {"method": method, "id": rid, "session": session.id,
                                  "duration_ms": round(ms, 3), "outcome": outcome}
        if fault:
            fields["chaos"] = fault
        self.log.write("INFO" if ok else "WARNING", "rpc request", **fields)

    def _chaos_error(self, method: str) -> RpcFault:
        if self.dialect == "current" and method in _CAMERA_METHODS:
            return E.dependency_failed(self.dialect, "mediamtx", "MediaMTX API request failed: context deadline exceeded")
        return E.internal_error(self.dialect, "unexpected failure while handling the request")

    # ------------------------------------------------------------------ events

    def _emit(self, topic: str, params: dict, *, legacy: dict | None = None) -> None:
        """Deliver an event: dotted topic to subscribers (current), legacy broadcast (legacy)."""
        if self.dialect == "current":
            body = {**params, "timestamp": iso()}
            targets = [s for s in self._sessions.values() if s.authenticated and s.wants(topic, body)]
            msg = {"jsonrpc": "2.0", "method": topic, "params": body}
        else:
            method = LEGACY_EVENT_METHOD.get(topic)
            if method is None or legacy is None:
                return
            msg = {"jsonrpc": "2.0", "method": method, "params": legacy}
            targets = [s for s in self._sessions.values() if s.authenticated]
        for s in targets:
            s.send(msg)
        self.log.write("DEBUG", f"event {msg['method']}", topic=topic, delivered=len(targets))

    # ------------------------------------------------------------------ method table

    def _method_table(self) -> dict[str, MethodSpec]:
        legacy = self.dialect == "legacy"
        m = {
            "ping": MethodSpec(self._ping, "viewer" if legacy else None),
            "authenticate": MethodSpec(self._authenticate, None),
            "get_camera_list": MethodSpec(self._get_camera_list, "viewer"),
            "get_camera_status": MethodSpec(self._get_camera_status, "viewer"),
            "get_camera_capabilities": MethodSpec(self._get_camera_capabilities, "viewer"),
            "take_snapshot": MethodSpec(self._take_snapshot, "operator"),
            "start_recording": MethodSpec(self._start_recording, "operator"),
            "stop_recording": MethodSpec(self._stop_recording, "operator"),
            "list_recordings": MethodSpec(self._list_recordings, "viewer"),
            "list_snapshots": MethodSpec(self._list_snapshots, "viewer"),
            "get_recording_info": MethodSpec(self._get_recording_info, "viewer"),
            "get_snapshot_info": MethodSpec(self._get_snapshot_info, "viewer"),
            "delete_recording": MethodSpec(self._delete_recording, "admin"),
            "delete_snapshot": MethodSpec(self._delete_snapshot, "admin"),
            "get_system_status": MethodSpec(self._get_system_status, "viewer"),
            "get_status": MethodSpec(self._get_status, "admin"),
            "get_server_info": MethodSpec(self._get_server_info, "admin" if legacy else "viewer"),
            "get_metrics": MethodSpec(self._get_metrics, "admin"),
            "get_storage_info": MethodSpec(self._get_storage_info, "admin"),
            "subscribe_events": MethodSpec(self._subscribe_events, "viewer"),
            "unsubscribe_events": MethodSpec(self._unsubscribe_events, "viewer"),
        }
        return m

    @property
    def methods(self) -> dict[str, str | None]:
        """Method name -> minimum role (None: no authentication), for docs and tests."""
        return {k: v.role for k, v in self._methods.items()}

# Methods that talk to MediaMTX: a chaos "error" on the current service reports a failed dependency.
_CAMERA_METHODS = frozenset({"get_camera_status", "get_camera_capabilities", "take_snapshot",
                             "start_recording", "stop_recording"})

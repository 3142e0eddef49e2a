"""HTTP health endpoints of the simulated camera service: a small asyncio HTTP/1.1 server.

current: ``/health`` ``/health/detailed`` ``/health/ready`` ``/health/live``;
legacy:  ``/health/system`` ``/health/cameras`` ``/health/mediamtx`` ``/health/ready``.
Anything else is a JSON 404; methods other than GET/HEAD get 405.

HTTP handling: keep-alive by default for HTTP/1.1 (``Connection: close`` honoured, and
HTTP/1.0 closes unless it asks for keep-alive), so httpx's pool and curl both work. Request
heads are bounded (431 when too large, 400 on garbage, then the connection closes); idle
keep-alive connections close after ``idle_timeout``. Nothing a client sends crashes it.
"""

from __future__ import annotations

import asyncio
import json
import platform
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from runners.sim._camera import iso
from runners.sim.service import CameraService

MAX_HEAD = 16 * 1024  # request line + headers
MAX_BODY = 64 * 1024  # health requests have no body; a small one is read and ignored
IDLE_TIMEOUT = 15.0
HEAD_TIMEOUT = 10.0
LOOPBACK = ("127.0.0.1", "::1", "localhost")
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
           505: "HTTP Version Not Supported"}


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ----------------------------------------------------------------------------- routes

def _current(service: CameraService, path: str) -> tuple[int, dict] | None:
    h = service.health()
    now = iso()
    base = {"status": h["status"], "timestamp": now, "version": h["version"], "uptime": h["uptime"]}
    code = 503 if h["status"] == "unhealthy" else 200
    if path == "/health":
        return code, base
    if path == "/health/detailed":
        comp_status = "healthy" if h["alive"] else "unhealthy"
        components = [
            {"name": "websocket_server", "status": comp_status, "message": f"{h['connections']} connections",
             "last_check": now},
            {"name": "camera_monitor",
             "status": comp_status if h["discovery_done"] or not h["alive"] else "degraded",
             "message": f"{h['cameras_connected']} of {h['cameras_total']} cameras connected", "last_check": now},
            {"name": "mediamtx_controller", "status": "healthy" if h["mediamtx"] and h["alive"] else "unhealthy",
             "message": "MediaMTX API reachable" if h["mediamtx"] else "MediaMTX API unreachable",
             "last_check": now},
        ]
        return code, {**base, "detail": h["detail"], "components": components,
                      "metrics": {"active_connections": h["connections"], "total_requests": h["total_requests"],
                                  "total_errors": h["total_errors"], "cameras_connected": h["cameras_connected"],
                                  "recordings_active": h["recordings_active"]},
                      "environment": {"hostname": h["name"], "os": platform.system().lower(),
                                      "arch": platform.machine() or "x86_64", "go_version": "go1.22.5"}}
    if path == "/health/ready":
        ready = h["ready"]
        body = {"ready": ready, "status": "ready" if ready else "not_ready", "timestamp": now}
        if not ready:
            body["message"] = h["detail"]
        return (200 if ready else 503), body
    if path == "/health/live":
        alive = h["alive"]
        return (200 if alive else 503), {"alive": alive, "status": "alive" if alive else "dead", "timestamp": now}
    return None


def _legacy(service: CameraService, path: str) -> tuple[int, dict] | None:
    h = service.health()
    now = iso()
    cam_ok = h["camera_monitor"]
    mtx_ok = h["mediamtx"] and h["alive"]
    cam_detail = (f"Camera monitor is running with {h['cameras_connected']} cameras" if cam_ok
                  else f"Camera monitor is not running (service {h['state']})")
    mtx_detail = "MediaMTX controller is healthy" if mtx_ok else "MediaMTX controller is unreachable"
    if path == "/health/system":
        body = {"status": h["status"], "timestamp": now, "components": {
            "mediamtx": {"status": "healthy" if mtx_ok else "unhealthy", "details": mtx_detail},
            "camera_monitor": {"status": "healthy" if cam_ok else "unhealthy", "details": cam_detail},
            "service_manager": {"status": "healthy" if h["alive"] else "unhealthy",
                                "details": "Service manager is running" if h["alive"]
                                else f"Service manager is {h['state']}"},
        }}
        return (500 if h["status"] == "unhealthy" else 200), body
    if path == "/health/cameras":
        return (200 if cam_ok else 500), {"status": "healthy" if cam_ok else "unhealthy", "timestamp": now,
                                           "details": cam_detail}
    if path == "/health/mediamtx":
        return (200 if mtx_ok else 500), {"status": "healthy" if mtx_ok else "unhealthy", "timestamp": now,
                                           "details": mtx_detail}
    if path == "/health/ready":
        if h["ready"]:
            return 200, {"status": "ready", "timestamp": now}
        return 503, {"status": "not_ready", "timestamp": now, "details": {
            "mediamtx": "healthy" if mtx_ok else "unhealthy",
            "service_manager": "healthy" if h["alive"] else "unhealthy",
            "camera_monitor": "healthy" if h["discovery_done"] else "starting"}}
    return None


def route(service: CameraService, path: str) -> tuple[int, dict]:
    """Status and JSON body for a GET of ``path`` on this service's dialect."""
    found = (_current if service.dialect == "current" else _legacy)(service, path)
    if found is None:
        paths = (["/health", "/health/detailed", "/health/ready", "/health/live"] if service.dialect == "current"
                 else ["/health/system", "/health/cameras", "/health/mediamtx", "/health/ready"])
        return 404, {"error": "not found", "path": path[:200], "endpoints": paths}
    return found


# ----------------------------------------------------------------------------- HTTP

class HealthServer:
    """The running server: ``close()`` + ``await wait_closed()`` (like asyncio.Server),
    which also ends open keep-alive connections."""

    def __init__(self, service: CameraService, *, idle_timeout: float = IDLE_TIMEOUT):
        self.service = service
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task] = set()
        self.requests = 0

    @property
    def connection_count(self) -> int:
        """Open client connections (keep-alive ones included)."""
        return len(self._conns)

    @property
    def sockets(self):
        return self._server.sockets if self._server else ()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port, limit=MAX_HEAD)
        return self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._conns):
            t.cancel()

    async def wait_closed(self) -> None:
        if self._conns:
            await asyncio.gather(*list(self._conns), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def aclose(self) -> None:
        self.close()
        await self.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._conns.add(task)
        try:
            keep = True
            first = True
            while keep:
                keep = await self._one(reader, writer, HEAD_TIMEOUT if first else self.idle_timeout)
                first = False
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, asyncio.CancelledError):
                pass

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> bool:
        """Serve one request; True to keep the connection open."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except asyncio.TimeoutError:
            return False
        except asyncio.IncompleteReadError as e:
            if e.partial.strip():
                await self._send(writer, 400, {"error": "bad request", "detail": "incomplete request head"}, False)
            return False
        except asyncio.LimitOverrunError:
            await self._send(writer, 431, {"error": "request head too large", "limit_bytes": MAX_HEAD}, False)
            return False
        except ValueError:  # StreamReader wraps an overrun as ValueError in some paths
            await self._send(writer, 431, {"error": "request head too large", "limit_bytes": MAX_HEAD}, False)
            return False
        try:
            method, target, version, headers = _parse_head(head)
            keep = _keep_alive(version, headers)
            length = _content_length(headers)
            if length:
                if length > MAX_BODY:
                    raise _BadRequest(413, f"request body of {length} bytes not accepted (limit {MAX_BODY})")
                await asyncio.wait_for(reader.readexactly(length), HEAD_TIMEOUT)
        except _BadRequest as e:
            await self._send(writer, e.status, {"error": REASONS.get(e.status, "error").lower(),
                                                "detail": e.message}, False)
            return False
        except (asyncio.IncompleteReadError, asyncio.TimeoutError):
            return False
        self.requests += 1
        if method not in ("GET", "HEAD"):
            await self._send(writer, 405, {"error": "method not allowed", "method": method[:20],
                                           "allowed": ["GET", "HEAD"]}, keep, extra={"Allow": "GET, HEAD"})
            return keep
        path = urlsplit(target).path or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        status, body = route(self.service, path)
        await self._send(writer, status, body, keep, head_only=method == "HEAD")
        return keep

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: Any, keep: bool, *,
                    head_only: bool = False, extra: dict[str, str] | None = None) -> None:
        data = (json.dumps(body, default=str) + "\n").encode()
        lines = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
            f"Date: {formatdate(usegmt=True)}",
            "Server: camera-service-sim",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            "Cache-Control: no-store",
            f"Connection: {'keep-alive' if keep else 'close'}",
        ]
        for k, v in (extra or {}).items():
            lines.append(f"{k}: {v}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else data))
        await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    text = head.decode("latin-1")  # HTTP heads are bytes; latin-1 maps every byte, so never fails
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise _BadRequest(400, f"malformed request line {lines[0][:80]!r}: expected 'METHOD /path HTTP/1.1'")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(505 if version.startswith("HTTP/") else 400,
                          f"unsupported protocol {version[:20]!r}: expected HTTP/1.1 or HTTP/1.0")
    if not (target.startswith("/") or target.startswith("http://") or target == "*"):
        raise _BadRequest(400, f"malformed request target {target[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise _BadRequest(400, f"malformed header line {line[:80]!r}")
        headers[name.lower()] = value.strip()
    if version == "HTTP/1.1" and "host" not in headers:
        raise _BadRequest(400, "HTTP/1.1 request without a Host header")
    return method.upper(), target, version, headers


def _keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if "close" in tokens:
        return False
    return version == "HTTP/1.1" or "keep-alive" in tokens


def _content_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise _BadRequest(501, "chunked request bodies are not supported by the health endpoints")
    raw = headers.get("content-length")
    if raw is None:
        return 0
    if not raw.isdigit():
        raise _BadRequest(400, f"bad Content-Length {raw[:20]!r}")
    return int(raw)


async def serve_health(service: CameraService, host: str = "127.0.0.1", port: int = 0) -> tuple[HealthServer, int]:
    """Serve the health endpoints of ``service``; returns (server, port).
    Stop with ``server.close(); await server.wait_closed()``."""
    if host not in LOOPBACK:
        raise ValueError(f"the simulator binds loopback only (127.0.0.1), got host {host!r}")
    await service.start()
    server = HealthServer(service)
    bound = await server.start(host, port)
    return server, bound

"""The simulated service's HTTP health endpoints over real sockets: httpx, curl and raw bytes."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import httpx
import pytest

from runners.sim.health_server import MAX_HEAD, serve_health
from runners.sim.service import CameraService

SECRET = "sim-secret-0123456789-0123456789-abcdef"


class HealthSim:
    def __init__(self, tmp_path, dialect: str, **kw):
        kw.setdefault("discovery_delay", 0.05)
        self.service = CameraService(name="sim-h", dialect=dialect, root=tmp_path / "root", secret=SECRET, **kw)

    async def __aenter__(self) -> HealthSim:
        self.server, self.port = await serve_health(self.service)
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.AsyncClient(base_url=self.base, timeout=5)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()
        self.server.close()
        await self.server.wait_closed()
        await self.service.close()

    async def get(self, path: str) -> tuple[int, dict]:
        r = await self.http.get(path)
        assert r.headers["content-type"] == "application/json"
        return r.status_code, r.json()


async def raw(port: int, data: bytes, *, read_all: bool = True, timeout: float = 3.0) -> bytes:
    """Send bytes on a fresh TCP connection; everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if read_all:
            return await asyncio.wait_for(reader.read(), timeout)
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def wait_until(pred, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# ----------------------------------------------------------------------------- per dialect


async def test_current_endpoints(tmp_path):
    async with HealthSim(tmp_path, "current") as h:
        assert await h.service.wait_ready(5)
        code, body = await h.get("/health")
        assert code == 200 and body["status"] == "healthy"
        assert body["version"] == h.service.version and body["uptime"] >= 0 and body["timestamp"].endswith("Z")
        code, body = await h.get("/health/detailed")
        assert code == 200 and {c["name"] for c in body["components"]} == {
            "websocket_server", "camera_monitor", "mediamtx_controller"}
        assert body["metrics"]["cameras_connected"] == 2 and "environment" in body
        code, body = await h.get("/health/ready")
        assert code == 200 and body["ready"] is True and body["status"] == "ready"
        code, body = await h.get("/health/live")
        assert code == 200 and body["alive"] is True
        for legacy_only in ("/health/system", "/health/cameras", "/health/mediamtx", "/", "/metrics"):
            code, body = await h.get(legacy_only)
            assert code == 404 and body["error"] == "not found" and "/health" in body["endpoints"]


async def test_legacy_endpoints(tmp_path):
    async with HealthSim(tmp_path, "legacy") as h:
        assert await h.service.wait_ready(5)
        code, body = await h.get("/health/system")
        assert code == 200 and body["status"] == "healthy"
        assert set(body["components"]) == {"mediamtx", "camera_monitor", "service_manager"}
        assert all(c["status"] == "healthy" for c in body["components"].values())
        code, body = await h.get("/health/cameras")
        assert code == 200 and body["status"] == "healthy" and "2 cameras" in body["details"]
        code, body = await h.get("/health/mediamtx")
        assert code == 200 and body["status"] == "healthy"
        code, body = await h.get("/health/ready")
        assert code == 200 and body["status"] == "ready"
        for current_only in ("/health", "/health/live", "/health/detailed"):
            assert (await h.get(current_only))[0] == 404


@pytest.mark.parametrize("dialect", ["current", "legacy"])
async def test_not_ready_while_discovering_and_degraded_without_mediamtx(tmp_path, dialect):
    async with HealthSim(tmp_path, dialect, discovery_delay=30) as h:
        code, body = await h.get("/health/ready")
        assert code == 503
        assert (body["ready"] is False) if dialect == "current" else (body["status"] == "not_ready")
        await h.service.close()  # no need to wait 30 s: a fresh service with a short delay below
    async with HealthSim(tmp_path, dialect) as h:
        assert await h.service.wait_ready(5)
        h.service.set_mediamtx(False)
        if dialect == "current":
            code, body = await h.get("/health")
            assert code == 200 and body["status"] == "degraded"
            assert (await h.get("/health/ready"))[0] == 503
        else:
            code, body = await h.get("/health/mediamtx")
            assert code == 500 and body["status"] == "unhealthy"
            code, body = await h.get("/health/system")
            assert code == 200 and body["status"] == "degraded"
        h.service.set_mediamtx(True)
        assert (await h.get("/health/ready"))[0] == 200


@pytest.mark.parametrize("dialect", ["current", "legacy"])
async def test_restart_is_visible_then_recovers(tmp_path, dialect):
    async with HealthSim(tmp_path, dialect, restart_gap=0.3, discovery_delay=0.2) as h:
        assert await h.service.wait_ready(5)
        restart = asyncio.create_task(h.service.restart())
        await wait_until(lambda: h.service.state == "restarting", what="restart to begin")
        assert (await h.get("/health/ready"))[0] == 503
        if dialect == "current":
            code, body = await h.get("/health")
            assert code == 503 and body["status"] == "unhealthy"
            assert (await h.get("/health/live"))[0] == 503
        else:
            code, body = await h.get("/health/system")
            assert code == 500 and body["status"] == "unhealthy"
        await restart
        assert await h.service.wait_ready(5)
        assert (await h.get("/health/ready"))[0] == 200
        assert h.service.restarts == 1


# ----------------------------------------------------------------------------- HTTP behaviour


async def test_only_get_and_head(tmp_path):
    async with HealthSim(tmp_path, "current") as h:
        r = await h.http.post("/health", content=b"{}")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
        assert r.json()["allowed"] == ["GET", "HEAD"]
        get = await h.http.get("/health/live")
        head = await h.http.head("/health/live")
        assert head.status_code == get.status_code == 200
        assert head.content == b"" and int(head.headers["content-length"]) > 0


async def test_keep_alive_reuses_one_connection_and_connection_close_is_honoured(tmp_path):
    async with HealthSim(tmp_path, "current") as h:
        # Two pipelined requests on one connection, the second asking to close.
        req = (b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = await raw(h.port, req)  # returns only because the server closed after the 2nd
        assert out.count(b"HTTP/1.1 200 OK") == 2
        assert b"Connection: keep-alive" in out and b"Connection: close" in out
        # HTTP/1.0 without keep-alive: closed after one response.
        out = await raw(h.port, b"GET /health HTTP/1.0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in out
        # httpx's pool: many requests, one connection.
        before = h.server.requests
        for _ in range(5):
            assert (await h.http.get("/health")).status_code == 200
        assert h.server.requests - before == 5
        assert h.server.connection_count == 1


@pytest.mark.parametrize("data, status", [
    (b"\x00\x01\x02garbage\r\n\r\n", 400),
    (b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /health HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD + 100) + b"\r\n\r\n", 431),
])
async def test_bad_requests_get_a_clear_status_and_never_crash(tmp_path, data, status):
    async with HealthSim(tmp_path, "current") as h:
        out = await raw(h.port, data)
        assert out.startswith(f"HTTP/1.1 {status} ".encode()), out[:200]
        body = json.loads(out.split(b"\r\n\r\n", 1)[1])
        assert body["error"]
        # A half-sent request followed by a hang-up: no response, no crash.
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(b"GET /hea")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        assert (await h.http.get("/health/live")).status_code == 200


async def test_query_strings_and_trailing_slashes(tmp_path):
    async with HealthSim(tmp_path, "current") as h:
        assert (await h.http.get("/health/live/?verbose=1")).status_code == 200


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
@pytest.mark.parametrize("dialect, path", [("current", "/health"), ("legacy", "/health/system")])
async def test_curl(tmp_path, dialect, path):
    async with HealthSim(tmp_path, dialect) as h:
        assert await h.service.wait_ready(5)
        url = h.base + path
        # Two URLs in one curl run: the second must reuse the kept-alive connection.
        proc = await asyncio.create_subprocess_exec(
            "curl", "-sS", "-v", "--max-time", "5", url, url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
        bodies = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        assert len(bodies) == 2 and all(b["status"] == "healthy" for b in bodies)
        assert b"Re-using existing connection" in err or b"Reusing existing" in err, err.decode()
        proc = await asyncio.create_subprocess_exec(
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http1.0", "--max-time", "5",
            h.base + "/nope", stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
        assert out == b"404"


async def test_close_ends_idle_keep_alive_connections_promptly(tmp_path):
    h = HealthSim(tmp_path, "current")
    await h.__aenter__()
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"Connection: keep-alive" in head
    length = int(next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")).split(b":")[1])
    await reader.readexactly(length)
    assert h.server.connection_count == 1  # idle, kept alive
    t0 = time.monotonic()
    await h.__aexit__(None, None, None)
    assert time.monotonic() - t0 < 1
    assert await asyncio.wait_for(reader.read(), 2) == b""  # EOF: the server closed it
    writer.close()


async def test_only_loopback_binds(tmp_path):
    svc = CameraService(name="a", dialect="current", root=tmp_path, secret=SECRET)
    with pytest.raises(ValueError, match="loopback"):
        await serve_health(svc, host="0.0.0.0")

"""HealthProbe against a real HTTP server (http.server in a thread, 127.0.0.1 port 0).
httpx.MockTransport only for DNS failure, where a real endpoint is not the point."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import httpx
import pytest

from runners.errors import HealthError
from runners.health import HealthProbe, normalise_status

pytestmark = pytest.mark.timeout(30)

Reply = tuple[int, Any] | tuple[int, Any, str] | Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    server: "Site"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
            reply = self.server.routes.get(path, (404, {"error": "not found"}))
        if callable(reply):
            reply(self)
            return
        status, body, *ctype = reply
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype[0] if ctype else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Reply] = {}
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.release = threading.Event()  # frees handlers that hang on purpose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def site():
    s = Site()
    t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield s
    s.release.set()
    s.shutdown()
    s.server_close()


CURRENT_OK = {"/health": (200, {"status": "healthy", "version": "2.1.0", "uptime": 5}),
              "/health/ready": (200, {"ready": True})}


async def test_current_healthy(site):
    site.routes.update(CURRENT_OK)
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert (r.status, r.http_status, r.version, r.detail) == ("healthy", 200, "2.1.0", "")
    assert list(r.endpoints) == ["/health", "/health/ready"]
    assert r.endpoints["/health"]["body"]["uptime"] == 5
    assert r.elapsed_ms > 0 and r.healthy and r.summary() == "healthy (HTTP 200)"


async def test_status_is_lowercased_and_worst_endpoint_wins(site):
    site.routes.update({"/health": (200, {"status": "DEGRADED"}), "/health/ready": (200, {"ready": True})})
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert r.status == "degraded" and r.detail == "/health: status 'DEGRADED'"


async def test_http_503_is_unhealthy(site):
    site.routes.update({"/health": (503, {"status": "unhealthy"}),
                        "/health/ready": (503, {"ready": False, "message": "cameras not discovered"})})
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert r.status == "unhealthy" and r.http_status == 503
    assert "/health: HTTP 503 service unavailable: status 'unhealthy'" in r.detail
    assert "/health/ready: HTTP 503 service unavailable: message 'cameras not discovered'" in r.detail


async def test_not_ready_makes_a_healthy_service_unhealthy(site):
    site.routes.update({"/health": CURRENT_OK["/health"], "/health/ready": (200, {"ready": False})})
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert r.status == "unhealthy" and r.detail == "/health/ready: ready: false"


async def test_non_json_body_is_unhealthy_and_says_what_came(site):
    site.routes.update({"/health": (200, "<html>It works!</html>", "text/html"),
                        "/health/ready": CURRENT_OK["/health/ready"]})
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert r.status == "unhealthy"
    assert "/health: expected JSON, got text/html: '<html>It works!</html>'" in r.detail


@pytest.mark.parametrize("body, detail", [
    ({"status": "banana"}, "unknown status 'banana' (expected healthy, degraded or unhealthy)"),
    ({"uptime": 3}, "expected a 'status' field, got keys: uptime"),
    ([1, 2], "expected a JSON object, got list"),
])
async def test_bodies_without_a_usable_status(site, body, detail):
    site.routes.update({"/health": (200, body), "/health/ready": CURRENT_OK["/health/ready"]})
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert r.status == "unhealthy" and detail in r.detail


async def test_connection_refused_is_unreachable_with_reason():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    async with HealthProbe(f"http://127.0.0.1:{port}") as probe:
        r = await probe.check()
    assert r.status == "unreachable" and r.http_status is None
    assert r.detail == f"connection refused by 127.0.0.1:{port} (GET /health)"


async def test_unknown_host_is_unreachable_with_reason():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    async with HealthProbe("http://cam-09.lab.invalid:8003", transport=httpx.MockTransport(handler)) as probe:
        r = await probe.check()
    assert r.status == "unreachable"
    assert r.detail == "cannot resolve host 'cam-09.lab.invalid' (cam-09.lab.invalid:8003) (GET /health)"


async def test_a_silent_server_is_unreachable_within_the_timeout(site):
    def hang(h: Handler) -> None:
        h.server.release.wait(10)

    site.routes.update({"/health": hang, "/health/ready": hang})
    async with HealthProbe(site.url, timeout=0.3) as probe:
        r = await probe.check()
    assert r.status == "unreachable" and "no response from 127.0.0.1" in r.detail and "within 0.3 s" in r.detail
    assert r.elapsed_ms < 2000


async def test_a_server_that_breaks_http_is_unhealthy(site):
    def slam(h: Handler) -> None:
        h.close_connection = True  # no status line at all

    site.routes.update({"/health": slam, "/health/ready": CURRENT_OK["/health/ready"]})
    async with HealthProbe(site.url) as probe:
        r = await probe.check()
    assert r.status == "unhealthy" and "broke HTTP" in r.detail


async def test_detailed_and_live_when_asked(site):
    site.routes.update(CURRENT_OK)
    site.routes.update({"/health/detailed": (200, {"status": "healthy", "components": []}),
                        "/health/live": (503, {"alive": False})})
    async with HealthProbe(site.url, detailed=True, live=True) as probe:
        r = await probe.check()
    assert list(r.endpoints) == ["/health", "/health/ready", "/health/detailed", "/health/live"]
    assert r.status == "unhealthy" and "/health/live: HTTP 503" in r.detail


LEGACY_OK = {
    "/health/system": (200, {"status": "healthy", "version": "1.0.3", "components": {}}),
    "/health/cameras": (200, {"status": "healthy", "details": "2 cameras"}),
    "/health/mediamtx": (200, {"status": "healthy"}),
    "/health/ready": (200, {"status": "ready"}),
}


async def test_legacy_layout(site):
    site.routes.update(LEGACY_OK)
    async with HealthProbe(site.url, dialect="legacy") as probe:
        r = await probe.check()
        assert (r.status, r.version) == ("healthy", "1.0.3")
        assert list(r.endpoints) == list(LEGACY_OK)
        site.routes["/health/mediamtx"] = (500, {"status": "unhealthy", "details": "MediaMTX unreachable"})
        r = await probe.check()
    assert r.status == "unhealthy"
    assert r.detail == "/health/mediamtx: HTTP 500: status 'unhealthy', details 'MediaMTX unreachable'"


async def test_wrong_dialect_says_so(site):
    site.routes.update(CURRENT_OK)
    async with HealthProbe(site.url, dialect="legacy") as probe:
        r = await probe.check()
    assert r.status == "unhealthy"
    assert "/health/system: HTTP 404: no such endpoint (is this a current-dialect host?)" in r.detail


async def test_proxy_variables_are_ignored(site, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    site.routes.update(CURRENT_OK)
    async with HealthProbe(site.url) as probe:
        assert (await probe.check()).status == "healthy"


async def test_wait_healthy_returns_the_report_and_the_time_it_took(site):
    def starting_then_up(h: Handler) -> None:
        status, body = (503, {"status": "unhealthy"}) if h.server.hits["/health"] <= 3 else \
            (200, {"status": "healthy", "version": "2.1.0"})
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    site.routes.update({"/health": starting_then_up, "/health/ready": CURRENT_OK["/health/ready"]})
    async with HealthProbe(site.url) as probe:
        report, seconds = await probe.wait_healthy(within=10, interval=0.01)
    assert report.status == "healthy" and site.hits["/health"] == 4
    assert 0 < seconds < 5


async def test_wait_healthy_gives_up_with_last_status_and_elapsed(site):
    site.routes.update({"/health": (200, {"status": "degraded"}), "/health/ready": CURRENT_OK["/health/ready"]})
    async with HealthProbe(site.url) as probe:
        with pytest.raises(HealthError) as info:
            await probe.wait_healthy(within=0.3, interval=0.05)
    e = info.value
    assert f"{site.url} not healthy within 0.3 s: last status 'degraded' after 0.3 s" in str(e)
    assert e.last.status == "degraded" and 0.3 <= e.elapsed < 2
    assert site.hits["/health"] >= 3


async def test_wait_healthy_on_a_dead_port_says_unreachable():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    async with HealthProbe(f"http://127.0.0.1:{port}") as probe:
        with pytest.raises(HealthError, match="last status 'unreachable'.*connection refused"):
            await probe.wait_healthy(within=0.2, interval=0.05)


def test_normalise_status_and_bad_dialect():
    assert normalise_status("OK") == ("healthy", "")
    assert normalise_status("Starting") == ("degraded", "status 'Starting'")
    assert normalise_status(None)[0] == "unhealthy"
    with pytest.raises(ValueError, match="unknown dialect"):
        HealthProbe("http://127.0.0.1:1", dialect="v3")

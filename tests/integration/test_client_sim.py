"""RpcClient and HealthProbe against the real simulator (runners/sim), both dialects.

Tokens are minted here with PyJWT (HS256, the service's secret), independently of the
console's own token code, so a shared bug cannot hide on both sides."""

from __future__ import annotations

import time

import jwt
import pytest

from runners.errors import AuthRejected, RpcError, TransportError
from runners.health import HealthProbe
from runners.protocol import expected_code
from runners.rpc import RpcClient
from runners.sim.health_server import serve_health
from runners.sim.rpc_server import serve_rpc
from runners.sim.service import CameraService

pytestmark = pytest.mark.timeout(60)

SECRET = "sim-secret-" + "x" * 32


def token(role: str = "admin", *, secret: str = SECRET, expired: bool = False) -> str:
    now = int(time.time())
    iat, exp = (now - 7200, now - 3600) if expired else (now, now + 3600)
    return jwt.encode({"user_id": "tester", "role": role, "iat": iat, "exp": exp}, secret, algorithm="HS256")


class Sim:
    def __init__(self, service: CameraService, rpc, rpc_port: int, health, health_port: int):
        self.service = service
        self.rpc_url = f"ws://127.0.0.1:{rpc_port}/ws"
        self.health_url = f"http://127.0.0.1:{health_port}"
        self._rpc = rpc
        self._health = health
        self.dialect = service.dialect
        self.camera = "camera0" if service.dialect == "current" else "/dev/video0"

    def client(self, **kw) -> RpcClient:
        return RpcClient(self.rpc_url, dialect=self.dialect, host=f"sim-{self.dialect}", **kw)


@pytest.fixture(params=["current", "legacy"])
async def sim(request, tmp_path):
    service = CameraService(name=f"sim-{request.param}", dialect=request.param, root=tmp_path / "root",
                            secret=SECRET, cameras=2, discovery_delay=0.05, restart_gap=0.2)
    rpc, rpc_port = await serve_rpc(service)
    health, health_port = await serve_health(service)
    try:
        assert await service.wait_ready(5)
        yield Sim(service, rpc, rpc_port, health, health_port)
    finally:
        rpc.close()
        await rpc.wait_closed()
        health.close()
        await health.wait_closed()
        await service.close()


async def test_ping_follows_the_dialect(sim):
    async with sim.client() as c:
        if sim.dialect == "current":
            assert await c.call("ping") == "pong"
        else:
            with pytest.raises(RpcError) as info:
                await c.call("ping")
            assert info.value.code == -32001 and info.value.meaning == "auth_required"
        result = await c.authenticate(token())
        assert result["authenticated"] is True and result["role"] == "admin"
        assert await c.call("ping") == "pong"


@pytest.mark.parametrize("bad", ["expired", "wrong-secret"])
async def test_authenticate_rejections_say_which_form(sim, bad):
    tok = token(expired=True) if bad == "expired" else token(secret="not-the-secret-" + "y" * 32)
    async with sim.client() as c:
        with pytest.raises(AuthRejected) as info:
            await c.authenticate(tok)
    want = "error -32001" if sim.dialect == "current" else "result authenticated:false"
    assert info.value.form == want
    reason = "token expired" if bad == "expired" else "signature"
    if sim.dialect == "legacy":
        assert reason in str(info.value)  # legacy puts the reason in the result's message
    assert tok not in str(info.value)


async def test_error_codes_mean_the_same_thing_in_both_dialects(sim):
    async with sim.client() as c:
        await c.authenticate(token("viewer"))
        with pytest.raises(RpcError) as info:
            await c.call("no_such_method")
        assert info.value.meaning == "method_not_found" and info.value.code == -32601
        with pytest.raises(RpcError) as info:
            await c.call("get_camera_status", {"device": "camera99"})
        assert info.value.code == expected_code(sim.dialect, "camera_not_found")
        with pytest.raises(RpcError) as info:
            await c.call("take_snapshot", {"device": sim.camera})
        assert info.value.meaning == "permission_denied"
        assert info.value.code == (-32002 if sim.dialect == "current" else -32003)
        cams = await c.call("get_camera_list")
        assert cams["total"] == 2 and cams["cameras"][0]["device"] == sim.camera


async def test_events_arrive_under_one_canonical_name(sim):
    async with sim.client() as c:
        await c.authenticate(token())
        await c.subscribe(["camera.connected", "camera.disconnected"])
        sim.service.set_camera_connected(sim.camera, False)
        ev = await c.wait_event(timeout=5, match="camera.disconnected")
        assert ev.family == ("topic" if sim.dialect == "current" else "legacy")
        assert ev.params["device"] == sim.camera
        sim.service.set_camera_connected(sim.camera, True)
        assert (await c.wait_event(timeout=5, match="camera.connected")).params["status"] == "CONNECTED"


async def test_restart_drops_the_socket_then_the_client_reconnects_and_reauthenticates(sim, tmp_path):
    async with sim.client(connect_timeout=5) as c:
        await c.authenticate(token())
        await c.subscribe(["camera.disconnected"])
        await sim.service.restart()
        with pytest.raises(TransportError, match=r"\(1012, 'service restart'\)"):
            await c.next_event(timeout=5)  # the waiter hears about the drop
        # legacy ping needs auth: it only works because the client re-authenticated
        assert await c.call("ping") == "pong"
        assert c.stats["reconnects"] == 1
        # current delivers events only to subscribers: this one arrives because of the re-subscription
        assert await sim.service.wait_ready(5)
        sim.service.set_camera_connected(sim.camera, False)
        ev = await c.wait_event(timeout=5, match="camera.disconnected")
        assert ev.params["device"] == sim.camera
        c.trace.save(tmp_path / "rpc_trace.json")
        assert token() not in (tmp_path / "rpc_trace.json").read_text()


async def test_health_layouts(sim):
    async with HealthProbe(sim.health_url, dialect=sim.dialect, timeout=2) as probe:
        report, seconds = await probe.wait_healthy(within=5, interval=0.05)
        assert report.status == "healthy" and seconds < 5
        assert report.version == (sim.service.version if sim.dialect == "current" else "")  # legacy has none
        paths = ["/health", "/health/ready"] if sim.dialect == "current" else \
            ["/health/system", "/health/cameras", "/health/mediamtx", "/health/ready"]
        assert list(report.endpoints) == paths
        sim.service.set_mediamtx(False)
        sick = await probe.check()
        assert sick.status in ("degraded", "unhealthy") and "mediamtx" in sick.detail.lower()
        sim.service.set_mediamtx(True)
        assert (await probe.check()).status == "healthy"


async def test_health_during_a_restart_then_back(sim):
    sim.service.discovery_delay = 0.5
    async with HealthProbe(sim.health_url, dialect=sim.dialect, timeout=2) as probe:
        await sim.service.restart()
        first = await probe.check()
        assert first.status == "unhealthy"  # /health/ready answers 503 until discovery is done
        assert "not_ready" in first.detail
        report, seconds = await probe.wait_healthy(within=10, interval=0.02)
        assert report.status == "healthy" and 0.3 < seconds < 5

"""The simulated camera service over real WebSockets, both dialects, with a plain `websockets`
client (not the console's RpcClient: this pins the wire behaviour the client is tested against).
Media it writes are decoded with Pillow and PyAV; its log is read back as text."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import jwt
import pytest
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from runners.sim.chaos import Chaos, parse_marker
from runners.sim.rpc_server import serve_rpc
from runners.sim.service import CameraService
from runners.sim.servicelog import ServiceLog

SECRET = "sim-secret-0123456789-0123456789-abcdef"
DIALECTS = ["current", "legacy"]
TAG_EXIF_IFD, TAG_DATETIME_ORIGINAL = 0x8769, 36867


def token(role: str = "admin", *, secret: str = SECRET, ttl: float = 3600, user: str = "tester") -> str:
    now = int(time.time())
    return jwt.encode({"user_id": user, "role": role, "iat": now, "exp": int(now + ttl)}, secret, algorithm="HS256")


def cam(dialect: str, i: int = 0) -> str:
    return f"camera{i}" if dialect == "current" else f"/dev/video{i}"


class Client:
    """A bare JSON-RPC client: numbered calls, notifications kept aside in arrival order."""

    def __init__(self, ws):
        self.ws = ws
        self.n = 0
        self.events: list[dict] = []
        self._event = asyncio.Event()

    async def send(self, obj: Any) -> None:
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    async def recv(self, timeout: float = 5.0) -> dict:
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if "id" in msg:
                return msg
            self.events.append(msg)

    async def call(self, method: str, params: Any = None, *, timeout: float = 5.0) -> dict:
        self.n += 1
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": self.n}
        if params is not None:
            msg["params"] = params
        await self.send(msg)
        resp = await self.recv(timeout)
        assert resp["id"] == self.n, resp
        return resp

    async def ok(self, method: str, params: Any = None) -> Any:
        resp = await self.call(method, params)
        assert "error" not in resp, resp
        return resp["result"]

    async def error(self, method: str, params: Any = None) -> dict:
        resp = await self.call(method, params)
        assert "error" in resp, resp
        return resp["error"]

    async def event(self, method: str, timeout: float = 5.0, **match: Any) -> dict:
        """The first notification named ``method`` (with params matching ``match``), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method and all(ev["params"].get(k) == v for k, v in match.items()):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {method} {match} within {timeout}s; got {self.events}")
            try:
                msg = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except asyncio.TimeoutError:
                continue
            assert "id" not in msg, f"unexpected response while waiting for an event: {msg}"
            self.events.append(msg)


class Sim:
    def __init__(self, tmp: Path, dialect: str, **kw: Any):
        self.root = tmp / "root"
        self.log_path = self.root / "var" / "log" / "camera-service.log"
        self.log = ServiceLog(self.log_path, fmt="plain" if dialect == "current" else "json")
        kw.setdefault("discovery_delay", 0.05)
        self.service = CameraService(name="sim-a", dialect=dialect, root=self.root, secret=SECRET, log=self.log, **kw)
        self.dialect = dialect

    async def __aenter__(self) -> Sim:
        self.server, self.port = await serve_rpc(self.service)
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()
        await self.service.close()
        self.log.close()

    @asynccontextmanager
    async def client(self, role: str | None = "admin", *, ready: bool = True):
        if ready:
            assert await self.service.wait_ready(10)
        async with connect(self.url, max_size=None) as ws:
            c = Client(ws)
            if role is not None:
                res = await c.ok("authenticate", {"auth_token": token(role)})
                assert res["authenticated"] is True and res["role"] == role
            yield c

    def log_text(self) -> str:
        return self.log_path.read_text()


@pytest.fixture(params=DIALECTS)
async def sim(request, tmp_path):
    async with Sim(tmp_path, request.param) as s:
        yield s


async def wait_until(pred, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def decode(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


# ----------------------------------------------------------------------------- auth


async def test_ping_needs_auth_only_on_legacy(sim):
    async with sim.client(role=None) as c:
        resp = await c.call("ping")
        if sim.dialect == "current":
            assert resp["result"] == "pong"
        else:
            assert resp["error"]["code"] == -32001
        await c.ok("authenticate", {"auth_token": token("viewer")})
        assert await c.ok("ping") == "pong"


async def test_calls_before_authenticate_are_refused_with_32001(sim):
    async with sim.client(role=None) as c:
        err = await c.error("get_camera_list")
        assert err["code"] == -32001


@pytest.mark.parametrize("bad", ["expired", "wrong_key", "garbage", "bad_role"])
async def test_bad_tokens_rejected_in_the_dialects_form(sim, bad):
    tok = {"expired": token(ttl=-60), "wrong_key": token(secret="not-the-host-secret-0123456789-xyz"),
           "garbage": "not.a.jwt", "bad_role": token(role="superuser")}[bad]
    async with sim.client(role=None) as c:
        resp = await c.call("authenticate", {"auth_token": tok})
        if sim.dialect == "current":
            assert resp["error"]["code"] == -32001
            reason = resp["error"]["data"]["reason"]
        else:
            assert "error" not in resp  # legacy: a result, not an error
            assert resp["result"]["authenticated"] is False
            reason = resp["result"]["error"]
        assert {"expired": "expired", "wrong_key": "signature", "garbage": "invalid", "bad_role": "role"}[bad] in reason
        # Still not authenticated.
        assert (await c.error("get_camera_list"))["code"] == -32001
    assert "authentication failed" in sim.log_text()


async def test_valid_token_authenticates_the_socket_for_later_calls(sim):
    async with sim.client(role=None) as c:
        res = await c.ok("authenticate", {"auth_token": token("operator", ttl=600)})
        assert res["permissions"] == ["view", "control"]
        assert res["expires_at"].endswith("Z") and res["session_id"]
        cams = await c.ok("get_camera_list")
        assert cams["total"] == 2
        # A later bad token does not undo the authentication.
        await c.call("authenticate", {"auth_token": "junk"})
        assert (await c.ok("get_camera_list"))["total"] == 2


async def test_roles_are_enforced_with_the_dialects_codes(sim):
    async with sim.client("viewer") as c:
        err = await c.error("take_snapshot", {"device": cam(sim.dialect)})
        if sim.dialect == "current":
            assert err["code"] == -32002
            assert err["data"]["required_role"] == "operator" and err["data"]["have_role"] == "viewer"
        else:
            assert err["code"] == -32003
        info = await c.call("get_server_info")
        if sim.dialect == "current":
            assert info["result"]["version"] == sim.service.version
        else:
            assert info["error"]["code"] == -32003  # legacy: admin only
    async with sim.client("operator") as c:
        err = await c.error("delete_snapshot", {"filename": "x.jpg"})
        assert err["code"] == (-32002 if sim.dialect == "current" else -32003)
        err = await c.error("get_metrics")
        assert err["code"] == (-32002 if sim.dialect == "current" else -32003)


# ----------------------------------------------------------------------------- protocol


async def test_protocol_errors(sim):
    async with sim.client() as c:
        await c.send("{not json")
        resp = await c.recv()
        assert resp["error"]["code"] == -32700 and resp["id"] is None
        await c.send([{"jsonrpc": "2.0", "method": "ping", "id": 1}])
        resp = await c.recv()
        assert resp["error"]["code"] == -32600 and resp["id"] is None
        await c.send({"method": "ping", "id": "abc"})
        resp = await c.recv()
        assert resp["error"]["code"] == -32600 and resp["id"] == "abc"
        await c.send({"jsonrpc": "2.0", "method": "ping", "id": {"x": 1}})
        resp = await c.recv()
        assert resp["error"]["code"] == -32600 and resp["id"] is None
        err = await c.error("no_such_method")
        assert err["code"] == -32601
        err = await c.error("get_camera_status", {})
        assert err["code"] == -32602
        if sim.dialect == "current":
            assert err["data"]["param"] == "device" and err["data"]["rule"] == "required" and err["data"]["hint"]
        err = await c.error("list_recordings", {"limit": 5000})
        assert err["code"] == -32602
        err = await c.error("start_recording", {"device": cam(sim.dialect), "format": "avi"})
        assert err["code"] == -32602


async def test_ids_are_echoed_and_notifications_get_no_response(sim):
    async with sim.client() as c:
        await c.send({"jsonrpc": "2.0", "method": "ping", "id": "str-id-1"})
        assert (await c.recv())["id"] == "str-id-1"
        await c.send({"jsonrpc": "2.0", "method": "ping", "id": 7.5})
        assert (await c.recv())["id"] == 7.5
        # Notifications, valid or not, are never answered: the next frame is the ping's answer.
        await c.send({"jsonrpc": "2.0", "method": "ping"})
        await c.send({"jsonrpc": "2.0", "method": "no_such_method"})
        await c.send({"jsonrpc": "2.0", "method": "ping", "id": 99})
        resp = await c.recv()
        assert resp == {"jsonrpc": "2.0", "result": "pong", "id": 99}


async def test_binary_frames_get_an_error_and_oversize_frames_close_the_socket(sim):
    async with sim.client() as c:
        await c.send(b"\x00\x01binary")
        resp = await c.recv()
        assert resp["error"]["code"] == -32600 and resp["id"] is None
        await c.send("x" * (4 * 2**20 + 10))
        with pytest.raises(ConnectionClosed) as e:
            await c.recv()
        assert e.value.rcvd is not None and e.value.rcvd.code == 1009  # message too big
    async with sim.client() as c:  # the server is fine
        assert await c.ok("ping") == "pong"


async def test_unknown_camera_uses_the_dialects_code(sim):
    other = "/dev/video0" if sim.dialect == "current" else "camera0"  # the other dialect's id form
    async with sim.client() as c:
        for device in ("camera9", other):
            err = await c.error("get_camera_status", {"device": device})
            if sim.dialect == "current":
                assert err["code"] == -32010
                assert err["data"] == {"resource": "camera", "id": device}
            else:
                assert err["code"] == -32004


# ----------------------------------------------------------------------------- discovery & events


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_cameras_appear_after_the_discovery_delay_with_events(tmp_path, dialect):
    async with Sim(tmp_path, dialect, discovery_delay=0.6, cameras=2) as s:
        async with s.client(ready=False) as c:
            assert (await c.ok("get_camera_list")) == {"cameras": [], "total": 0, "connected": 0}
            status = await c.ok("get_system_status")
            assert status["status"] == "starting" and status["discovery_active"] is True
            await c.ok("subscribe_events", {"topics": ["camera.connected"]})
            name = "camera.connected" if dialect == "current" else "camera_status_update"
            ev = await c.event(name, device=cam(dialect, 0))
            assert time.time() - s.service.started_at >= 0.6
            assert ev["params"]["status"] == "CONNECTED"
            await c.event(name, device=cam(dialect, 1))
            await s.service.wait_ready(2)
            cams = await c.ok("get_camera_list")
            assert [x["device"] for x in cams["cameras"]] == [cam(dialect, 0), cam(dialect, 1)]
            assert cams["connected"] == 2 and all(x["status"] == "CONNECTED" for x in cams["cameras"])
            assert set(cams["cameras"][0]["streams"]) >= {"rtsp", "hls"}
            status = await c.ok("get_system_status")
            assert status["status"] == "ready" and status["available_cameras"] == [cam(dialect, 0), cam(dialect, 1)]
            detail = await c.ok("get_camera_status", {"device": cam(dialect, 1)})
            assert set(detail["metrics"]) == {"bytes_sent", "readers", "uptime"}
            caps = await c.ok("get_camera_capabilities", {"device": cam(dialect, 1)})
            assert caps["formats"] and caps["resolutions"] and caps["fps_options"]


async def test_current_delivers_only_subscribed_topics_legacy_broadcasts(sim):
    async with sim.client() as listener, sim.client() as actor:
        if sim.dialect == "current":
            await listener.ok("subscribe_events", {"topics": ["snapshot.taken"], "filters": {"device": "camera1"}})
        await actor.ok("take_snapshot", {"device": cam(sim.dialect, 0)})
        await actor.ok("take_snapshot", {"device": cam(sim.dialect, 1)})
        if sim.dialect == "current":
            ev = await listener.event("snapshot.taken")
            assert ev["params"]["device"] == "camera1"  # camera0's was filtered out
            assert actor.events == []  # not subscribed: nothing
        else:
            # The legacy service has no snapshot notification at all.
            assert await listener.ok("ping") == "pong"
            assert listener.events == [] and actor.events == []
        err = await listener.error("subscribe_events", {"topics": ["camera.exploded"]})
        assert err["code"] == -32602


# ----------------------------------------------------------------------------- snapshots


async def test_snapshot_writes_a_real_jpeg_with_exif_at_the_host_path(sim):
    async with sim.client("admin") as c:
        res = await c.ok("take_snapshot", {"device": cam(sim.dialect)})
        assert res["status"] == "SUCCESS" and res["device"] == cam(sim.dialect)
        assert res["file_path"] == f"/opt/camera-service/snapshots/{res['filename']}"
        local = sim.root / res["file_path"].lstrip("/")
        assert local.stat().st_size == res["file_size"] > 1000
        with Image.open(local) as img:
            assert img.format == "JPEG" and img.size == (640, 480)
            img.load()
            exif = img.getexif().get_ifd(TAG_EXIF_IFD)
        assert exif.get(TAG_DATETIME_ORIGINAL)
        named = await c.ok("take_snapshot", {"device": cam(sim.dialect, 1), "filename": "named_shot"})
        assert named["filename"] == "named_shot.jpg"
        listing = await c.ok("list_snapshots", {"limit": 1})
        assert listing["total"] == 2 and len(listing["files"]) == 1 and listing["limit"] == 1
        info = await c.ok("get_snapshot_info", {"filename": "named_shot.jpg"})
        assert info["file_size"] == named["file_size"]
        await c.ok("delete_snapshot", {"filename": "named_shot.jpg"})
        err = await c.error("get_snapshot_info", {"filename": "named_shot.jpg"})
        assert err["code"] == (-32010 if sim.dialect == "current" else -32602)
        err = await c.error("take_snapshot", {"device": cam(sim.dialect), "filename": "../etc/passwd"})
        assert err["code"] == -32602


# ----------------------------------------------------------------------------- recordings


async def test_recording_grows_then_stops_playable_with_state_rules(sim):
    dev = cam(sim.dialect)
    async with sim.client("operator") as c:
        res = await c.ok("start_recording", {"device": dev})
        assert res["status"] == "RECORDING" and res["file_path"].startswith("/opt/camera-service/recordings/")
        local = sim.root / res["file_path"].lstrip("/")
        first = local.stat().st_size
        await wait_until(lambda: local.stat().st_size > first, 5, "the recording to grow")
        again = await c.error("start_recording", {"device": dev})
        if sim.dialect == "current":
            assert again["code"] == -32020
            assert again["data"] == {"state": "RECORDING", "allowed_states": ["IDLE"]}
        else:
            assert again["code"] == -32005
        listing = await c.ok("list_recordings")
        assert [f["filename"] for f in listing["files"]] == [res["filename"]]
        stopped = await c.ok("stop_recording", {"device": dev})
        assert stopped["status"] == "STOPPED" and stopped["end_time"] and stopped["duration"] > 0.5
        assert stopped["file_size"] == local.stat().st_size > first
        assert decode(local) >= 5
        not_rec = await c.error("stop_recording", {"device": dev})
        assert not_rec["code"] == (-32020 if sim.dialect == "current" else -32602)
        info = await c.ok("get_recording_info", {"filename": res["filename"]})
        assert info["duration"] == stopped["duration"] and info["file_size"] == stopped["file_size"]
    log = sim.log_text()
    assert "recording started" in log and "recording stopped" in log


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_recording_duration_auto_stops_with_events(tmp_path, dialect):
    async with Sim(tmp_path, dialect) as s, s.client("operator") as c:
        await c.ok("subscribe_events", {"topics": ["recording.*"]})
        res = await c.ok("start_recording", {"device": cam(dialect), "duration": 1, "format": "mkv"})
        assert res["format"] == "mkv" and res["filename"].endswith(".mkv") and res["duration"] == 1
        if dialect == "current":
            start = await c.event("recording.start")
            stop = await c.event("recording.stop", timeout=6)
            assert start["params"]["filename"] == stop["params"]["filename"] == res["filename"]
            assert stop["params"]["reason"] == "duration reached"
        else:
            await c.event("recording_status_update", status="STARTED")
            await c.event("recording_status_update", timeout=6, status="STOPPED")
        assert decode(s.root / res["file_path"].lstrip("/")) >= 5
        # The camera is free again.
        assert (await c.ok("start_recording", {"device": cam(dialect)}))["status"] == "RECORDING"
        await c.ok("stop_recording", {"device": cam(dialect)})


async def test_two_listers_and_one_recorder_stay_responsive(sim):
    async with sim.client("viewer") as a, sim.client("viewer") as b, sim.client("operator") as r:
        await r.ok("start_recording", {"device": cam(sim.dialect)})
        for _ in range(10):
            la, lb = await asyncio.gather(a.ok("get_camera_list"), b.ok("get_camera_list"))
            assert la["total"] == lb["total"] == 2
        await r.ok("stop_recording", {"device": cam(sim.dialect)})


# ----------------------------------------------------------------------------- limits


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_rate_limit_per_connection(tmp_path, dialect):
    async with Sim(tmp_path, dialect, rate_limit=5) as s:
        async with s.client(role=None) as c:
            await c.ok("authenticate", {"auth_token": token()})
            for _ in range(4):
                await c.ok("get_camera_list")
            err = await c.error("get_camera_list")
            if dialect == "current":
                assert err["code"] == -32040 and 0 < err["data"]["retry_after_ms"] <= 60_000
            else:
                assert err["code"] == -32002
        async with s.client() as other:  # per connection: a new socket has its own budget
            assert (await other.ok("get_camera_list"))["total"] == 2
    assert s.service.rate_limited == 1


def test_default_limits_per_dialect(tmp_path):
    cur = CameraService(name="a", dialect="current", root=tmp_path, secret=SECRET)
    leg = CameraService(name="b", dialect="legacy", root=tmp_path, secret=SECRET)
    assert (cur.rate_limit, cur.max_connections) == (300, 10)
    assert (leg.rate_limit, leg.max_connections) == (120, 100)


async def test_connection_limit(sim):
    sim.service.max_connections = 2
    await sim.service.wait_ready(5)
    async with connect(sim.url), connect(sim.url):
        with pytest.raises(InvalidStatus) as e:
            async with connect(sim.url):
                pass
        assert e.value.response.status_code == 503
        assert b"too many connections" in e.value.response.body
    await wait_until(lambda: sim.service.connection_count == 0, what="connections to close")
    async with sim.client() as c:
        assert (await c.ok("get_camera_list"))["total"] == 2


async def test_wrong_path_is_404(sim):
    with pytest.raises(InvalidStatus) as e:
        async with connect(f"ws://127.0.0.1:{sim.port}/nope"):
            pass
    assert e.value.response.status_code == 404


async def test_only_loopback_binds(tmp_path):
    svc = CameraService(name="a", dialect="current", root=tmp_path, secret=SECRET)
    with pytest.raises(ValueError, match="loopback"):
        await serve_rpc(svc, host="0.0.0.0")


# ----------------------------------------------------------------------------- restart & logs


async def test_restart_drops_sockets_and_rediscovers(sim):
    sim.service.restart_gap = 0.2
    sim.service.discovery_delay = 0.3
    async with sim.client() as c:
        res = await c.ok("start_recording", {"device": cam(sim.dialect)})
        restart = asyncio.create_task(sim.service.restart())
        with pytest.raises(ConnectionClosed) as e:
            await c.recv()
        assert e.value.rcvd is not None and e.value.rcvd.code == 1012
        await restart
    local = sim.root / res["file_path"].lstrip("/")
    assert decode(local) >= 1  # the recording was finalised, not left broken
    async with sim.client(ready=False) as c:
        assert (await c.ok("get_camera_list"))["total"] == 0
        assert await sim.service.wait_ready(3)
        assert (await c.ok("get_camera_list"))["connected"] == 2
    assert "camera service restarting" in sim.log_text()


async def test_every_request_is_logged_with_method_id_duration_outcome(sim):
    async with sim.client() as c:
        await c.ok("get_camera_list")
        await c.error("no_such_method")
    lines = sim.log_text().splitlines()
    if sim.dialect == "current":
        ok = [ln for ln in lines if "rpc request" in ln and "method=get_camera_list" in ln]
        assert ok and "outcome=ok" in ok[0] and "duration_ms=" in ok[0] and "id=2" in ok[0]
        bad = [ln for ln in lines if "method=no_such_method" in ln]
        assert bad and 'outcome="error -32601"' in bad[0]
    else:
        recs = [json.loads(ln) for ln in lines]
        ok = [r for r in recs if r.get("method") == "get_camera_list"]
        assert ok and ok[0]["outcome"] == "ok" and ok[0]["id"] == 2 and ok[0]["duration_ms"] >= 0
        assert any(r.get("method") == "no_such_method" and r["outcome"] == "error -32601" for r in recs)


# ----------------------------------------------------------------------------- chaos


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_chaos_error_is_attributable_from_the_service_log(tmp_path, dialect):
    chaos = Chaos("hellfire", seed=11, faults=["error"], rate=1.0)
    async with Sim(tmp_path, dialect, chaos=chaos) as s, s.client() as c:
        assert await c.ok("ping") == "pong"  # exempt
        err = await c.error("get_camera_status", {"device": cam(dialect)})
        err2 = await c.error("get_camera_list")
        if dialect == "current":
            assert err["code"] == -32050 and err["data"]["dependency"] == "mediamtx"
            assert err2["code"] == -32603
        else:
            assert err["code"] == err2["code"] == -32603
        markers = [m for m in map(parse_marker, s.log_text().splitlines()) if m]
        assert {"fault": "error", "op": "rpc:get_camera_list", "id": str(c.n)} in markers
        assert [r["fault"] for r in chaos.injected] == ["error", "error"]


async def test_chaos_drop_closes_the_socket_mid_call(tmp_path):
    chaos = Chaos("hellfire", seed=1, faults=["drop"], rate=1.0)
    async with Sim(tmp_path, "current", chaos=chaos) as s, s.client() as c:
        await c.send({"jsonrpc": "2.0", "method": "get_camera_list", "id": 5})
        with pytest.raises(ConnectionClosed) as e:
            await c.recv()
        assert e.value.rcvd is None  # no close frame: an abrupt drop (1006)
    assert "CHAOS fault=drop op=rpc:get_camera_list id=5" in s.log_text()


async def test_chaos_delay_outlasts_a_client_timeout_and_is_cancelled_on_shutdown(tmp_path):
    chaos = Chaos("hellfire", seed=1, faults=["delay"], rate=1.0, delay=0.4)
    async with Sim(tmp_path, "current", chaos=chaos) as s, s.client() as c:
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await c.call("get_camera_list", timeout=0.2)  # the client gives up first...
        resp = await c.recv(timeout=2)  # ...and the answer still comes, late
        assert resp["result"]["total"] == 2 and time.monotonic() - t0 >= 0.4
        chaos.delay = 60.0
        await c.send({"jsonrpc": "2.0", "method": "get_camera_list", "id": 100})
        await wait_until(lambda: len(chaos.injected) == 2, what="the second delay to start")
        t1 = time.monotonic()  # leaving the block closes socket, server and service
    assert time.monotonic() - t1 < 2  # the 60 s delay was cancelled, not waited out
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in pending if "sleep" in repr(t.get_coro())], pending


@pytest.mark.parametrize("fault", ["no_exif", "zero", "truncate"])
async def test_chaos_media_faults(tmp_path, fault):
    chaos = Chaos("hellfire", seed=1, faults=[fault], rate=1.0)
    async with Sim(tmp_path, "current", chaos=chaos) as s, s.client() as c:
        if fault == "no_exif":
            res = await c.ok("take_snapshot", {"device": "camera0"})
            with Image.open(s.root / res["file_path"].lstrip("/")) as img:
                img.load()
                assert not img.getexif().get_ifd(TAG_EXIF_IFD).get(TAG_DATETIME_ORIGINAL)
        else:
            res = await c.ok("start_recording", {"device": "camera0"})
            local = s.root / res["file_path"].lstrip("/")
            size0 = local.stat().st_size
            await wait_until(lambda: local.stat().st_size > size0, what="growth")
            stopped = await c.ok("stop_recording", {"device": "camera0"})
            assert stopped["file_size"] == local.stat().st_size
            if fault == "zero":
                assert stopped["file_size"] == 0
            else:  # cut short: the tail no longer decodes
                assert 0 < stopped["file_size"]
                try:
                    frames = decode(local)
                except av.FFmpegError:
                    frames = 0
                assert frames < stopped["duration"] * 15 * 0.8
    op = "snapshot" if fault == "no_exif" else "recording"
    assert any(m == {"fault": fault, "op": op, "id": str(c.n)}
               for m in map(parse_marker, s.log_text().splitlines()) if m)


async def test_chaos_slow_discovery_multiplies_the_delay(tmp_path):
    chaos = Chaos("hellfire", seed=1, faults=["slow_discovery"], rate=1.0)
    async with Sim(tmp_path, "current", chaos=chaos, discovery_delay=0.1) as s:
        assert await s.service.wait_ready(5)
        assert time.time() - s.service.started_at >= 0.5  # 0.1 s x 5
    assert "CHAOS fault=slow_discovery op=discovery" in s.log_text()


async def test_same_seed_gives_the_same_faults_over_the_wire(tmp_path):
    async def run(seed: int, sub: str) -> tuple[list, list]:
        chaos = Chaos("hellfire", seed=seed, faults=["error"])
        async with Sim(tmp_path / sub, "current", chaos=chaos) as s, s.client() as c:
            outcomes = []
            for i in range(30):
                resp = await c.call(["get_camera_list", "get_system_status", "list_snapshots"][i % 3])
                outcomes.append(resp.get("error", {}).get("code"))
        return outcomes, chaos.sequence()

    a, b, c = await run(99, "a"), await run(99, "b"), await run(100, "c")
    assert a == b
    assert a[0] != c[0]
    assert 5 <= sum(x is not None for x in a[0]) <= 25  # ~50% at hellfire

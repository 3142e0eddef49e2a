"""RpcClient against a scripted server playing both dialects (real sockets, 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json

import pytest

from runners.errors import AuthRejected, RpcError, RpcTimeout, TransportError
from runners.rpc import RpcClient
from runners.trace import Trace
from tests.integration.wspeers import GOOD_TOKEN, ScriptedServer, err, ok

pytestmark = pytest.mark.timeout(30)


async def test_ping_and_latency_callback():
    seen: list[tuple[str, float, bool]] = []
    async with ScriptedServer() as srv:
        async with RpcClient(srv.url, on_latency=lambda m, ms, ok_: seen.append((m, ms, ok_))) as c:
            assert c.connected
            assert await c.call("ping") == "pong"
            with pytest.raises(RpcError):
                await c.call("no_such_method")
    assert [(m, ok_) for m, _, ok_ in seen] == [("ping", True), ("no_such_method", False)]
    assert all(0 < ms < 1000 for _, ms, _ in seen)


async def test_proxy_variables_are_ignored(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with ScriptedServer() as srv:
        async with RpcClient(srv.url) as c:
            assert await c.call("ping") == "pong"


async def test_a_failing_latency_callback_does_not_break_the_client():
    def broken(method, ms, ok_):
        raise RuntimeError("consumer bug")

    async with ScriptedServer() as srv:
        async with RpcClient(srv.url, on_latency=broken) as c:
            assert await c.call("ping") == "pong"
            assert await c.call("ping") == "pong"
            assert c.stats["callback_errors"] == 2
            assert any(e["kind"] == "callback_error" for e in c.trace.entries)


async def test_concurrent_calls_are_correlated_by_id_whatever_the_answer_order():
    held: list[dict] = []

    async def later(srv, ws, frame):
        held.append(frame)
        if len(held) == 5:  # answer all five, newest first
            for f in reversed(held):
                await ws.send(json.dumps(ok(f, f["params"]["n"])))
        return None

    async with ScriptedServer(handlers={"later": later}) as srv:
        async with RpcClient(srv.url) as c:
            results = await asyncio.gather(*(c.call("later", {"n": i}) for i in range(5)))
            assert results == [0, 1, 2, 3, 4]
            ids = [e["id"] for e in c.trace.entries if e["dir"] == "in"]
            assert ids == sorted(ids, reverse=True)  # really answered out of order
            assert c.pending == 0


async def test_timeout_removes_the_call_and_a_late_answer_is_only_traced():
    held: list[dict] = []
    seen: list[tuple[str, bool]] = []

    async def hold(srv, ws, frame):
        held.append(frame)
        return None

    async def release(srv, ws, frame):
        await ws.send(json.dumps(ok(held[0], "too late")))
        return ok(frame, "released")

    async with ScriptedServer(handlers={"hold": hold, "release": release}) as srv:
        async with RpcClient(srv.url, on_latency=lambda m, ms, ok_: seen.append((m, ok_))) as c:
            with pytest.raises(RpcTimeout) as info:
                await c.call("hold", timeout=0.2)
            assert info.value.method == "hold" and info.value.timeout == 0.2
            assert c.pending == 0
            assert await c.call("release") == "released"
            late = [e for e in c.trace.entries if "late response" in e.get("note", "")]
            assert late and late[0]["method"] == "hold"
            assert c.stats["timeouts"] == 1 and c.stats["late"] == 1
    assert seen == [("hold", False), ("release", True)]  # the timeout reported once, the late frame not


async def test_cancelled_call_leaves_no_pending_entry():
    async def hold(srv, ws, frame):
        return None

    async with ScriptedServer(handlers={"hold": hold}) as srv:
        async with RpcClient(srv.url) as c:
            task = asyncio.ensure_future(c.call("hold"))
            await srv.wait_for(lambda: "hold" in srv.methods())
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert c.pending == 0
            assert await c.call("ping") == "pong"


@pytest.mark.parametrize("dialect, code, meaning", [
    ("current", -32002, "permission_denied"), ("legacy", -32002, "rate_limited"),
    ("legacy", -32003, "permission_denied"), ("current", -32040, "rate_limited"),
    ("current", -32010, "not_found"), ("legacy", -32004, "camera_not_found"),
    ("current", -32099, "server_error"),
])
async def test_errors_carry_the_dialects_meaning(dialect, code, meaning):
    async def fail(srv, ws, frame):
        return err(frame, code, "nope", {"retry_after_ms": 10})

    async with ScriptedServer(dialect, handlers={"x": fail}) as srv:
        async with RpcClient(srv.url, dialect=dialect) as c:
            with pytest.raises(RpcError) as info:
                await c.call("x")
            e = info.value
            assert (e.code, e.meaning, e.dialect, e.method) == (code, meaning, dialect, "x")
            assert e.data == {"retry_after_ms": 10}
            assert f"[{meaning}, {dialect}]" in str(e)


async def test_authenticate_current_accepts_and_rejects_with_error_form():
    async with ScriptedServer("current") as srv:
        async with RpcClient(srv.url) as c:
            with pytest.raises(AuthRejected) as info:
                await c.authenticate("bad-token")
            assert info.value.form == "error -32001"
            assert "'Authentication failed'" in str(info.value)
            assert not c.authenticated
            result = await c.authenticate(GOOD_TOKEN)
            assert result["authenticated"] is True and result["role"] == "admin"
            assert c.authenticated


async def test_authenticate_legacy_rejection_is_a_result():
    async with ScriptedServer("legacy") as srv:
        async with RpcClient(srv.url, dialect="legacy") as c:
            with pytest.raises(RpcError) as info:
                await c.call("ping")  # legacy: ping needs auth
            assert info.value.meaning == "auth_required"
            with pytest.raises(AuthRejected) as info:
                await c.authenticate("expired-token")
            assert info.value.form == "result authenticated:false"
            assert "invalid token signature" in str(info.value)
            await c.authenticate(GOOD_TOKEN)
            assert await c.call("ping") == "pong"


async def test_authenticate_with_a_malformed_result_is_a_protocol_error():
    from runners.errors import ProtocolError

    async def weird(srv, ws, frame):
        return ok(frame, "yes")

    async with ScriptedServer(handlers={"authenticate": weird}) as srv:
        async with RpcClient(srv.url) as c:
            with pytest.raises(ProtocolError, match="expected a result with authenticated true or false"):
                await c.authenticate(GOOD_TOKEN)
            with pytest.raises(ValueError):
                await c.authenticate("")


async def test_drop_fails_in_flight_calls_then_reconnects_reauthenticates_and_resubscribes():
    async def hold(srv, ws, frame):
        return None

    async with ScriptedServer("legacy", handlers={"hold": hold}) as srv:
        async with RpcClient(srv.url, dialect="legacy") as c:
            await c.authenticate(GOOD_TOKEN)
            await c.subscribe(["camera.connected"])
            task = asyncio.ensure_future(c.call("hold"))
            await srv.wait_for(lambda: "hold" in srv.methods())
            await srv.drop_all(1012, "service restart")
            with pytest.raises(TransportError) as info:
                await task
            assert str(info.value).startswith("connection closed during hold (1012, 'service restart')")
            # legacy ping needs auth: it only succeeds because the client re-authenticated first
            assert await c.call("ping") == "pong"
            assert srv.methods(conn=2) == ["authenticate", "subscribe_events", "ping"]
            assert srv.received[-3][1]["params"] == {"auth_token": GOOD_TOKEN}
            assert srv.topics[2] == ["camera.connected"]
            assert c.stats["reconnects"] == 1
            kinds = [e["kind"] for e in c.trace.entries if e["dir"] == "meta"]
            assert kinds.count("connected") == 2 and "reauthenticated" in kinds and "resubscribed" in kinds


async def test_a_reauthentication_that_times_out_is_retried_on_the_next_reconnect():
    async def flaky_auth(srv, ws, frame):
        if srv.conn_no(ws) == 2:
            return None  # the first re-authentication is never answered
        return await srv._authenticate(srv, ws, frame)

    async with ScriptedServer("legacy", handlers={"authenticate": flaky_auth}) as srv:
        async with RpcClient(srv.url, dialect="legacy", call_timeout=0.3) as c:
            await c.authenticate(GOOD_TOKEN)
            await srv.drop_all()
            with pytest.raises(RpcTimeout, match="authenticate"):
                await c.call("ping")
            assert not c.connected  # not left open and unauthenticated
            assert await c.call("ping") == "pong"  # legacy: needs the re-authentication on conn 3
            assert srv.methods(conn=3) == ["authenticate", "ping"]


async def test_reauthentication_rejected_after_reconnect():
    async with ScriptedServer("current") as srv:
        async with RpcClient(srv.url) as c:
            await c.authenticate(GOOD_TOKEN)
            srv.valid_tokens.clear()  # e.g. the service came back with a new secret
            await srv.drop_all()
            with pytest.raises(AuthRejected) as info:
                await c.call("ping")
            assert "re-authentication after reconnect rejected" in str(info.value)
            assert info.value.form == "error -32001"
            assert not c.authenticated  # not retried on every call
            assert await c.call("ping") == "pong"  # current: ping needs no auth


async def test_no_reconnect_when_disabled():
    async with ScriptedServer() as srv:
        async with RpcClient(srv.url, reconnect=False) as c:
            await srv.drop_all(1001, "going away")
            with pytest.raises(TransportError, match=r"\(1001, 'going away'\) and reconnect is off"):
                await c.call("ping")


async def test_close_fails_waiting_calls_and_refuses_new_ones():
    async def hold(srv, ws, frame):
        return None

    async with ScriptedServer(handlers={"hold": hold}) as srv:
        c = RpcClient(srv.url)
        await c.connect()
        task = asyncio.ensure_future(c.call("hold"))
        await srv.wait_for(lambda: "hold" in srv.methods())
        await c.close()
        with pytest.raises(TransportError, match="client closed while waiting for hold"):
            await task
        with pytest.raises(TransportError, match="the client is closed"):
            await c.call("ping")
        await c.close()  # idempotent
        await c.connect()  # explicit reopen
        assert await c.call("ping") == "pong"
        await c.close()


async def test_lazy_connect_on_first_call_and_notify():
    async with ScriptedServer() as srv:
        c = RpcClient(srv.url)
        assert not c.connected
        await c.notify("hello", {"a": 1})
        assert await c.call("ping") == "pong"
        await srv.wait_for(lambda: "hello" in srv.methods())
        hello = [f for _, f in srv.received if f["method"] == "hello"][0]
        assert "id" not in hello and hello["params"] == {"a": 1}
        await c.close()


# ----------------------------------------------------------------------------- events

async def test_events_from_both_families_get_one_canonical_name():
    async def burst(srv, ws, frame):
        for method, params in [
            ("camera.connected", {"device": "camera0"}),
            ("camera_status_update", {"device": "/dev/video0", "status": "CONNECTED"}),
            ("recording_status_update", {"device": "/dev/video0", "status": "STOPPED"}),
            ("recording.stop", {"device": "camera0"}),
            ("snapshot_taken", {"filename": "a.jpg"}),
        ]:
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}))
        return ok(frame, "sent")

    async with ScriptedServer(handlers={"burst": burst}) as srv:
        async with RpcClient(srv.url) as c:
            assert await c.subscribe(["camera.connected", "recording.stop"]) == {
                "subscribed": True, "topics": ["camera.connected", "recording.stop"]}
            await c.call("burst")
            got = [await c.next_event(timeout=1) for _ in range(5)]
            assert [n.canonical for n in got] == ["camera.connected", "camera.connected", "recording.stop",
                                                  "recording.stop", "snapshot.taken"]
            assert [n.family for n in got] == ["topic", "legacy", "legacy", "topic", "legacy"]
            assert got[1].params["device"] == "/dev/video0"
            assert got[0].ts <= got[4].ts
            with pytest.raises(RpcTimeout) as info:
                await c.next_event(timeout=0.1)
            assert "subscribed topics: camera.connected, recording.stop" in str(info.value)


async def test_wait_event_picks_a_match_and_keeps_the_others_queued():
    async def burst(srv, ws, frame):
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "system_event", "params": {}}))
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "recording_update", "params": {"status": "RECORDING"}}))
        return ok(frame, "sent")

    async with ScriptedServer(handlers={"burst": burst}) as srv:
        async with RpcClient(srv.url) as c:
            waiter = asyncio.ensure_future(c.wait_event(timeout=2, match="recording.start"))
            await c.call("burst")
            assert (await waiter).method == "recording_update"
            assert (await c.next_event(timeout=1)).canonical == "system.health"
            with pytest.raises(RpcTimeout):
                await c.wait_event(timeout=0.05, match=lambda n: n.method == "nothing")


async def test_event_waiter_learns_about_a_drop():
    async with ScriptedServer() as srv:
        async with RpcClient(srv.url) as c:
            waiter = asyncio.ensure_future(c.next_event(timeout=5))
            await srv.wait_for(lambda: len(srv.conns) == 1)
            await srv.drop_all(1011, "crash")
            with pytest.raises(TransportError, match=r"while waiting for an event \(1011, 'crash'\)"):
                await waiter


async def test_a_drop_nobody_waited_for_is_reported_once_then_next_event_reconnects():
    async def emit(srv, ws, frame):
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "snapshot.taken", "params": {}}))
        return ok(frame, "sent")

    async with ScriptedServer(handlers={"emit": emit}) as srv:
        async with RpcClient(srv.url) as c:
            await c.subscribe(["snapshot.taken"])
            await srv.drop_all(1012, "service restart")
            with pytest.raises(TransportError, match=r"\(1012, 'service restart'\)"):
                await c.next_event(timeout=5)
            waiter = asyncio.ensure_future(c.next_event(timeout=5))  # reconnects, re-subscribes
            await srv.wait_for(lambda: 2 in srv.topics)
            await srv.send_all(json.dumps({"jsonrpc": "2.0", "method": "snapshot.taken", "params": {"n": 2}}))
            assert (await waiter).params == {"n": 2}


# ----------------------------------------------------------------------------- trace

async def test_trace_records_every_frame_and_saves_redacted(tmp_path):
    trace = Trace(host="cam-01")
    async with ScriptedServer() as srv:
        async with RpcClient(srv.url, host="cam-01", trace=trace) as c:
            await c.authenticate(GOOD_TOKEN)
            jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiYSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
            assert await c.call("echo", {"note": f"Bearer {jwt_like}"}) == {"note": f"Bearer {jwt_like}"}
    assert c.trace is trace
    frames = [e for e in trace.entries if e["dir"] in ("in", "out")]
    assert [(e["dir"], e["method"]) for e in frames] == [
        ("out", "authenticate"), ("in", "authenticate"), ("out", "echo"), ("in", "echo")]
    assert all(e["latency_ms"] > 0 for e in frames if e["dir"] == "in")
    ts = [e["t"] for e in trace.entries]
    assert ts == sorted(ts)
    path = tmp_path / "artifacts" / "rpc_trace.json"
    trace.save(path)
    text = path.read_text()
    assert GOOD_TOKEN not in text and jwt_like not in text
    doc = json.loads(text)
    assert doc["host"] == "cam-01" and len(doc["entries"]) == len(trace.entries)
    assert doc["entries"][0]["kind"] == "connected"
    auth_out = next(e for e in doc["entries"] if e["dir"] == "out")
    assert auth_out["frame"]["params"]["auth_token"] == "<redacted>"
    assert [p.name for p in path.parent.iterdir()] == ["rpc_trace.json"]  # no temp file left
    excerpt = trace.excerpt(2)
    assert len(excerpt) == 2 and "Bearer <redacted>" in json.dumps(excerpt)

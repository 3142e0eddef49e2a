"""Hostile and broken peers: every one becomes a specific error, never a hang or a crash.

Real sockets on 127.0.0.1: a scripted websockets server for JSON-level abuse, a raw
RFC 6455 peer (tests/integration/wspeers.py) for byte-level abuse.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time

import pytest

from runners.errors import ProtocolError, RpcError, RpcTimeout, TransportError
from runners.rpc import RpcClient
from tests.integration.wspeers import RawPeer, ScriptedServer, err, frame_bytes, ok

pytestmark = pytest.mark.timeout(30)


def raw_reply(text: str):
    """A handler that answers with this exact text (``{id}`` is replaced by the request id)."""

    async def handler(srv, ws, frame):
        return text.replace("{id}", json.dumps(frame["id"]))

    return handler


async def call_fails(client: RpcClient, exc_type, method: str = "x", **kw):
    t0 = time.monotonic()
    with pytest.raises(exc_type) as info:
        await client.call(method, **kw)
    return info.value, time.monotonic() - t0


# ----------------------------------------------------------------------------- JSON level

async def test_malformed_json_fails_the_single_waiting_call_at_once():
    async with ScriptedServer(handlers={"x": raw_reply('{"jsonrpc": "2.0", "result": ')}) as srv:
        async with RpcClient(srv.url, call_timeout=5) as c:
            e, took = await call_fails(c, ProtocolError)
            assert "malformed JSON" in str(e) and "while waiting for its response" in str(e)
            assert took < 2  # attributed at once, not after the 5 s timeout
            bad = [x for x in c.trace.entries if x.get("note", "").startswith("malformed JSON")]
            assert bad and bad[0]["raw"].startswith('{"jsonrpc"')
            assert await c.call("ping") == "pong"  # the connection is still usable


async def test_malformed_json_among_several_calls_does_not_break_them():
    held: list[dict] = []

    async def first(srv, ws, frame):
        held.append(frame)  # answered later, so both calls are in flight
        return None

    async def second(srv, ws, frame):
        await ws.send("{not json")  # garbage while two calls wait: nobody can be blamed
        await ws.send(json.dumps(ok(held[0], "first-done")))
        return ok(frame, "second-done")

    async with ScriptedServer(handlers={"first": first, "second": second}) as srv:
        async with RpcClient(srv.url) as c:
            t1 = asyncio.ensure_future(c.call("first", timeout=2))
            await srv.wait_for(lambda: "first" in srv.methods())
            assert await c.call("second", timeout=2) == "second-done"
            assert await t1 == "first-done"
            assert c.stats["strays"] == 1


async def test_strays_are_named_in_the_timeout_hint_when_several_calls_wait():
    async def garbage_no_answer(srv, ws, frame):
        if frame["method"] == "b":
            await ws.send("\x00\x01 garbage")
        return None

    async with ScriptedServer(handlers={"a": garbage_no_answer, "b": garbage_no_answer}) as srv:
        async with RpcClient(srv.url) as c:
            results = await asyncio.gather(c.call("a", timeout=0.5), c.call("b", timeout=0.5),
                                           return_exceptions=True)
            assert all(isinstance(r, RpcTimeout) for r in results), results
            assert "malformed JSON" in str(results[0]) and "matched no call" in str(results[0])
            assert c.pending == 0


@pytest.mark.parametrize("version, seen", [('"1.0"', "jsonrpc '1.0'"), (None, "no jsonrpc member")])
async def test_wrong_or_missing_jsonrpc_version(version, seen):
    member = f'"jsonrpc": {version}, ' if version else ""
    async with ScriptedServer(handlers={"x": raw_reply('{' + member + '"result": 1, "id": {id}}')}) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, ProtocolError)
            assert 'expected "jsonrpc": "2.0"' in str(e) and seen in str(e)


async def test_both_result_and_error_and_neither():
    async with ScriptedServer(handlers={
        "both": raw_reply('{"jsonrpc": "2.0", "result": 1, "error": {"code": 1, "message": "m"}, "id": {id}}'),
        "neither": raw_reply('{"jsonrpc": "2.0", "id": {id}}'),
        "badcode": raw_reply('{"jsonrpc": "2.0", "error": {"code": "E1", "message": "m"}, "id": {id}}'),
    }) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, ProtocolError, "both")
            assert "both result and error" in str(e)
            e, _ = await call_fails(c, ProtocolError, "neither")
            assert "neither result nor error" in str(e)
            e, _ = await call_fails(c, ProtocolError, "badcode")
            assert "expected an integer error code, got 'E1'" in str(e)
            assert c.stats["protocol_errors"] == 3


async def test_unknown_id_with_one_waiting_call_is_a_protocol_error():
    async with ScriptedServer(handlers={"x": raw_reply('{"jsonrpc": "2.0", "result": 1, "id": 999}')}) as srv:
        async with RpcClient(srv.url) as c:
            e, took = await call_fails(c, ProtocolError)
            assert "id 999, which matches no request sent" in str(e)
            assert took < 2


async def test_unknown_id_with_several_waiting_calls_is_traced_and_ignored():
    held: list[dict] = []

    async def first(srv, ws, frame):
        held.append(frame)
        return None

    async def second(srv, ws, frame):
        await ws.send(json.dumps({"jsonrpc": "2.0", "result": "?", "id": "abc"}))
        await ws.send(json.dumps(ok(held[0], "first")))
        return ok(frame, "second")

    async with ScriptedServer(handlers={"first": first, "second": second}) as srv:
        async with RpcClient(srv.url) as c:
            t1 = asyncio.ensure_future(c.call("first"))
            await srv.wait_for(lambda: "first" in srv.methods())
            assert await c.call("second") == "second"
            assert await t1 == "first"
            notes = [x["note"] for x in c.trace.entries if "note" in x]
            assert any("id 'abc', which matches no request sent" in n for n in notes)
            assert c.stats["unmatched"] == 1


async def test_error_with_null_id_is_named():
    async with ScriptedServer(handlers={
            "x": raw_reply('{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}')
    }) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, ProtocolError)
            assert "id null" in str(e) and "-32700" in str(e)


async def test_duplicate_response_is_traced_and_ignored():
    async def twice(srv, ws, frame):
        await ws.send(json.dumps(ok(frame, "first")))
        return ok(frame, "second")

    async with ScriptedServer(handlers={"x": twice}) as srv:
        async with RpcClient(srv.url) as c:
            assert await c.call("x") == "first"
            assert await c.call("ping") == "pong"  # the duplicate arrived before this answer
            assert c.stats["duplicates"] == 1
            dup = [x for x in c.trace.entries if "duplicate response" in x.get("note", "")]
            assert dup and dup[0]["method"] == "x"


async def test_non_object_json_and_batches():
    async with ScriptedServer(handlers={"num": raw_reply("42"), "batch": raw_reply('[{"jsonrpc": "2.0"}]')}) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, ProtocolError, "num")
            assert "JSON 42 instead of a JSON-RPC object" in str(e)
            e, _ = await call_fails(c, ProtocolError, "batch")
            assert "batch" in str(e)


async def test_binary_frame():
    async def binary(srv, ws, frame):
        await ws.send(b"\x89PNG\r\n")
        return None

    async with ScriptedServer(handlers={"x": binary}) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, ProtocolError)
            assert "binary frame (6 bytes" in str(e)
            assert any(x["kind"] == "binary" and x["raw"].endswith("PNG\r\n") for x in c.trace.entries)


async def test_server_request_is_ignored_and_notification_without_version_delivered():
    async def pushy(srv, ws, frame):
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "please_answer", "id": 77}))
        await ws.send(json.dumps({"method": "camera_status_update", "params": {"status": "CONNECTED"}}))
        return ok(frame, "done")

    async with ScriptedServer(handlers={"x": pushy}) as srv:
        async with RpcClient(srv.url) as c:
            assert await c.call("x") == "done"
            ev = await c.next_event(timeout=1)
            assert ev.canonical == "camera.connected"
            notes = " | ".join(x.get("note", "") for x in c.trace.entries)
            assert "server-to-client request" in notes and 'without "jsonrpc": "2.0"' in notes


async def test_frame_over_max_message_names_the_limit_then_reconnects():
    async def big(srv, ws, frame):
        return ok(frame, "x" * 5000)

    async with ScriptedServer(handlers={"big": big}) as srv:
        async with RpcClient(srv.url, max_message=1024) as c:
            e, _ = await call_fails(c, ProtocolError, "big")
            assert "connection closed during big (1009" in str(e)
            assert "max_message = 1024 bytes (1 KiB)" in str(e)
            assert await c.call("ping") == "pong"
            assert c.stats["reconnects"] == 1


# ----------------------------------------------------------------------------- silence, slowness

async def test_server_that_accepts_and_never_answers_times_out():
    async def silent(srv, ws, frame):
        return None

    async with ScriptedServer(handlers={"x": silent}) as srv:
        async with RpcClient(srv.url) as c:
            e, took = await call_fails(c, RpcTimeout, timeout=0.3)
            assert str(e).startswith("x: no response within 0.3 s")
            assert "sent no response" in str(e)
            assert 0.25 < took < 1.5
            assert c.pending == 0 and c.connected


async def test_tcp_accept_without_websocket_handshake_is_a_connect_timeout():
    hold = asyncio.Event()

    async def mute(conn):
        await hold.wait()

    async with RawPeer(mute, handshake=False) as peer:
        c = RpcClient(peer.url, connect_timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(TransportError) as info:
            await c.connect()
        assert f"no WebSocket handshake from 127.0.0.1:{peer.port} within 0.3 s" in str(info.value)
        assert time.monotonic() - t0 < 2
        hold.set()


@pytest.mark.parametrize("reply, expect", [
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "rejected with HTTP 404"),
    (b"SSH-2.0-OpenSSH_9.6\r\n", "handshake with"),
])
async def test_peer_that_is_not_a_websocket_server(reply, expect):
    async def answer(conn):
        await conn.reader.readuntil(b"\r\n\r\n")
        conn.writer.write(reply)
        await conn.writer.drain()

    async with RawPeer(answer, handshake=False) as peer:
        with pytest.raises(TransportError) as info:
            await RpcClient(peer.url, connect_timeout=2).connect()
        assert expect in str(info.value)


async def test_slow_drip_within_the_timeout_succeeds():
    async def drip(conn):
        req = await conn.read_request()
        data = frame_bytes(0x1, json.dumps({"jsonrpc": "2.0", "result": "pong", "id": req["id"]}).encode())
        await conn.drip(data, 0.005)
        await conn.read_request()

    async with RawPeer(drip) as peer:
        async with RpcClient(peer.url, call_timeout=5) as c:
            assert await c.call("ping") == "pong"


async def test_slow_drip_past_the_timeout_times_out_and_the_late_answer_is_ignored():
    finished = asyncio.Event()

    async def drip(conn):
        req = await conn.read_request()
        data = frame_bytes(0x1, json.dumps({"jsonrpc": "2.0", "result": "late", "id": req["id"]}).encode())
        await conn.drip(data, 0.02)  # ~50 bytes -> ~1 s
        req2 = await conn.read_request()
        conn.send_json({"jsonrpc": "2.0", "result": "pong", "id": req2["id"]})
        finished.set()
        await conn.read_request()

    async with RawPeer(drip) as peer:
        async with RpcClient(peer.url, call_timeout=0.3) as c:
            await call_fails(c, RpcTimeout, "ping")
            # the next call is answered after the late frame completes
            assert await c.call("ping", timeout=5) == "pong"
            late = [x for x in c.trace.entries if x.get("note", "").startswith("late response to ping")]
            assert late and "0.3 s timeout" in late[0]["note"]
            assert c.stats["late"] == 1


async def test_peer_that_stops_reading_cannot_block_a_call_past_its_timeout():
    hold = asyncio.Event()

    async def deaf(conn):
        await hold.wait()  # never reads: the client's send buffer fills

    async with RawPeer(deaf) as peer:
        async with RpcClient(peer.url) as c:
            blob = "a" * (48 * 2**20)
            e, took = await call_fails(c, RpcTimeout, "upload", params={"blob": blob}, timeout=0.5)
            assert took < 3
            assert "stopped reading" in str(e)
            hold.set()


# ----------------------------------------------------------------------------- disconnects

async def test_mid_call_close_fails_every_waiting_call_then_reconnects():
    async def closer(srv, ws, frame):
        if frame["method"] == "b":
            await ws.close(1011, "boom")
        return None

    async with ScriptedServer(handlers={"a": closer, "b": closer}) as srv:
        async with RpcClient(srv.url) as c:
            results = await asyncio.gather(c.call("a"), c.call("b"), return_exceptions=True)
            assert [type(r) for r in results] == [TransportError, TransportError]
            assert "connection closed during a (1011, 'boom') by the peer" in str(results[0])
            assert "connection closed during b (1011, 'boom')" in str(results[1])
            assert not c.connected
            assert await c.call("ping") == "pong"
            assert len(srv.conns) == 2


async def test_abrupt_disconnect_is_1006():
    async def abort(srv, ws, frame):
        ws.transport.abort()
        return None

    async with ScriptedServer(handlers={"x": abort}) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, TransportError)
            assert "connection closed during x (1006," in str(e)


async def test_half_closed_socket():
    async def half_close(conn):
        await conn.read_request()
        conn.writer.write_eof()  # FIN: we will send nothing more, but keep reading
        while True:
            await conn.read_frame()

    async with RawPeer(half_close) as peer:
        async with RpcClient(peer.url, reconnect=False) as c:
            e, took = await call_fails(c, TransportError, "ping")
            assert "connection closed during ping (1006" in str(e)
            assert took < 3
            e, _ = await call_fails(c, TransportError, "ping")
            assert "reconnect is off" in str(e)


async def test_reconnect_gives_up_with_attempts_and_address():
    async with ScriptedServer() as srv:
        c = RpcClient(srv.url, connect_timeout=0.8)
        await c.connect()
        url_port = srv.port
    # the server is gone (it closed with 1001): the next call notices and retries
    e, took = await call_fails(c, TransportError, "ping")
    assert f"reconnect to 127.0.0.1:{url_port} failed after" in str(e)
    assert "connection refused" in str(e)
    assert took < 3
    await c.close()


# ----------------------------------------------------------------------------- cannot connect

def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_connection_refused_names_host_and_port():
    port = free_port()
    with pytest.raises(TransportError) as info:
        await RpcClient(f"ws://127.0.0.1:{port}/ws").connect()
    assert f"connection refused by 127.0.0.1:{port}" in str(info.value)
    assert "is the camera service running" in str(info.value)


async def test_unknown_host_names_host_and_port(monkeypatch):
    # Resolution is stubbed so the test never asks a real DNS server.
    loop = asyncio.get_running_loop()

    async def no_such_host(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(loop, "getaddrinfo", no_such_host)
    with pytest.raises(TransportError) as info:
        await RpcClient("ws://camera-07.lab.invalid:8002/ws").connect()
    assert "cannot resolve host 'camera-07.lab.invalid' (camera-07.lab.invalid:8002)" in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8002/ws", "ws://", "not a url"])
async def test_invalid_url(url):
    with pytest.raises(TransportError) as info:
        await RpcClient(url).connect()
    assert "invalid RPC url" in str(info.value)


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError, match="unknown dialect 'modern'"):
        RpcClient("ws://127.0.0.1:1/ws", dialect="modern")


# ----------------------------------------------------------------------------- TLS

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


async def test_wss_with_a_trusted_certificate(tls_files):
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with ScriptedServer(ssl=server_ctx) as srv:
        url = f"wss://127.0.0.1:{srv.port}/ws"
        async with RpcClient(url, ssl=client_ctx) as c:
            assert await c.call("ping") == "pong"
        with pytest.raises(TransportError) as info:
            await RpcClient(url).connect()  # system trust store: self-signed is refused
        assert "certificate verify failed" in str(info.value)


async def test_wss_to_a_plain_server_says_tls_failed():
    async with ScriptedServer() as srv:
        with pytest.raises(TransportError) as info:
            await RpcClient(f"wss://127.0.0.1:{srv.port}/ws", connect_timeout=2).connect()
        assert "TLS handshake" in str(info.value) and "really serve wss://" in str(info.value)


async def test_rpc_error_is_not_confused_with_protocol_errors():
    async def fail(srv, ws, frame):
        return err(frame, -32602, "Invalid params", {"param": "device", "rule": "required"})

    async with ScriptedServer(handlers={"x": fail}) as srv:
        async with RpcClient(srv.url) as c:
            e, _ = await call_fails(c, RpcError)
            assert e.meaning == "invalid_params" and e.data["param"] == "device"

"""Hostile peers, the gaps left by tests/integration/test_rpc_hostile.py (which covers
malformed JSON, wrong versions, unknown/duplicate ids, binary frames, slow drip,
half-closed sockets, frames over a small ``max_message``):

- 10 MiB frames at the default ``max_message`` (4 MiB): text, binary, a header that only
  *announces* 10 MiB (the client must not wait for the body), and a message fragmented
  into 1 MiB continuation frames;
- JSON nested too deeply to decode (small on the wire, a RecursionError in ``json``), from
  the RPC service and from the health endpoint.

Each must end the call with a specific error at once (never the full call timeout, never
a "console bug" traceback), and the client must stay usable.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time

import pytest

from runners.errors import ProtocolError
from runners.health import HealthProbe
from runners.rpc import RpcClient
from tests.integration.wspeers import RawPeer, ScriptedServer, frame_bytes, ok

pytestmark = pytest.mark.timeout(60)

MIB = 1 << 20
CALL_TIMEOUT = 5.0
# s: "at once" for a loopback peer: the client's own close_timeout (2 s, for a peer that
# never completes the closing handshake) plus margin; well under CALL_TIMEOUT.
FAST = 3.0
BOMB = "[" * 100_000 + "]" * 100_000  # 200 KB, far inside every size limit


async def fails_fast(c: RpcClient, method: str, exc=ProtocolError) -> BaseException:
    t0 = time.monotonic()
    with pytest.raises(exc) as info:
        await c.call(method)
    took = time.monotonic() - t0
    assert took < FAST, f"{method}: {type(info.value).__name__} only after {took:.1f} s: {info.value}"
    return info.value


@pytest.mark.parametrize("kind", ["text", "binary"])
async def test_10_mib_frame_is_refused_at_the_default_limit_and_the_client_recovers(kind):
    async def big(srv, ws, frame):
        if kind == "binary":
            await ws.send(b"\0" * (10 * MIB))
            return None
        return ok(frame, "x" * (10 * MIB))

    async with ScriptedServer(handlers={"big": big}, max_size=None) as srv:
        async with RpcClient(srv.url, call_timeout=CALL_TIMEOUT) as c:
            assert c.max_message == 4 * MIB  # the default
            e = await fails_fast(c, "big")
            assert "1009" in str(e) and "4 MiB" in str(e), str(e)
            assert await c.call("ping") == "pong"


async def test_a_header_announcing_10_mib_fails_without_waiting_for_the_body():
    async def liar(conn):
        await conn.read_request()
        conn.writer.write(bytes([0x81, 127]) + struct.pack("!Q", 10 * MIB) + b'{"jsonrpc"')  # and nothing more
        await conn.writer.drain()
        await asyncio.sleep(30)

    async with RawPeer(liar) as peer:
        async with RpcClient(peer.url, call_timeout=CALL_TIMEOUT, reconnect=False) as c:
            e = await fails_fast(c, "x")
            assert "1009" in str(e), str(e)


async def test_fragments_adding_up_past_the_limit_are_refused():
    async def fragments(conn):
        await conn.read_request()
        chunk = b"x" * MIB
        conn.writer.write(frame_bytes(0x1, b'{"jsonrpc": "2.0", "id": 1, "result": "' + chunk, fin=False))
        for _ in range(10):
            conn.writer.write(frame_bytes(0x0, chunk, fin=False))
            await conn.writer.drain()
        await asyncio.sleep(30)

    async with RawPeer(fragments) as peer:
        async with RpcClient(peer.url, call_timeout=CALL_TIMEOUT, reconnect=False) as c:
            e = await fails_fast(c, "x")
            assert "1009" in str(e), str(e)


async def test_json_nested_too_deeply_is_a_protocol_error_at_once(caplog):
    async def bomb(srv, ws, frame):
        return '{"jsonrpc": "2.0", "id": %s, "result": %s}' % (json.dumps(frame["id"]), BOMB)

    async with ScriptedServer(handlers={"bomb": bomb}) as srv:
        async with RpcClient(srv.url, call_timeout=CALL_TIMEOUT) as c:
            e = await fails_fast(c, "bomb")
            assert "JSON" in str(e), str(e)
            assert await c.call("ping") == "pong"
    # A hostile frame is the service's fault, not "a bug in the reader" with a traceback.
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


async def test_health_body_nested_too_deeply_is_a_report_not_an_exception():
    body = BOMB.encode()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % len(body) + body)
        await w.drain()
        w.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    p = HealthProbe(f"http://127.0.0.1:{port}", timeout=3)
    try:
        rep = await p.check()  # must not raise: a broken body is an unhealthy report
    finally:
        await p.aclose()
        srv.close()
        await srv.wait_closed()
    assert rep.status in ("unhealthy", "degraded"), rep
    assert "JSON" in rep.detail, rep.detail

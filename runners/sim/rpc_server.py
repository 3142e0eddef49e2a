"""JSON-RPC 2.0 over WebSocket for the simulated camera service (``ws://127.0.0.1:PORT/ws``).

The transport only moves frames: every decision is :class:`CameraService`'s. Per connection:
frames are checked in arrival order (``service.begin``), checked calls run concurrently
(a delayed call does not hold up the next one, at most ``MAX_IN_FLIGHT`` at once), and one
writer task sends responses and notifications from a bounded outbox (a client that stops
reading is disconnected instead of growing our memory). Frames over 4 MiB close the
connection with 1009 (websockets' own limit); binary frames get an invalid-request error.
"""

from __future__ import annotations

import asyncio
import json
import logging

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from runners.sim.service import MAX_FRAME, CameraService, ConnectionRefused, PendingCall

RPC_PATH = "/ws"
OUTBOX_LIMIT = 1000
MAX_IN_FLIGHT = 64
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_log = logging.getLogger("runners.sim.rpc_server")


async def serve_rpc(service: CameraService, host: str = "127.0.0.1", port: int = 0, *,
                    path: str = RPC_PATH, max_size: int = MAX_FRAME) -> tuple[Server, int]:
    """Start the service (if it is not running yet) and serve it; returns (server, port).
    Stop with ``server.close(); await server.wait_closed()`` (open connections get 1001)."""
    if host not in LOOPBACK:
        raise ValueError(f"the simulator binds loopback only (127.0.0.1), got host {host!r}")
    await service.start()

    def process_request(conn: ServerConnection, request):
        target = request.path.split("?", 1)[0]
        if target != path:
            return conn.respond(404, f"no WebSocket endpoint at {target}: the camera service listens on {path}\n")
        if not service.accepting:
            return conn.respond(503, f"camera service is {service.state}; retry shortly\n")
        if service.connection_count >= service.max_connections:
            service.log.write("WARNING", "connection refused: limit reached", limit=service.max_connections)
            return conn.respond(503, f"too many connections (limit {service.max_connections})\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        await _serve_connection(service, ws)

    server = await serve(handler, host, port, process_request=process_request, max_size=max_size,
                         logger=_log)
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return server, bound


async def _serve_connection(service: CameraService, ws: ServerConnection) -> None:
    loop = asyncio.get_running_loop()
    outbox: asyncio.Queue = asyncio.Queue(maxsize=OUTBOX_LIMIT)
    calls: set[asyncio.Task] = set()
    closers: set[asyncio.Task] = set()

    def close(code: int, reason: str, abrupt: bool) -> None:
        if abrupt:
            # A real crash or dropped link: no close frame, the client sees 1006.
            if ws.transport is not None:
                ws.transport.abort()
            return
        t = loop.create_task(ws.close(code, reason[:120]))
        closers.add(t)
        t.add_done_callback(closers.discard)

    def send(msg: dict) -> None:
        try:
            outbox.put_nowait(msg)
        except asyncio.QueueFull:
            service.log.write("WARNING", "client not reading: outbox full, disconnecting", limit=OUTBOX_LIMIT)
            close(1008, "client too slow: outbox full", False)

    peer = ws.remote_address
    peer_text = f"{peer[0]}:{peer[1]}" if peer else ""
    try:
        session = service.open_session(send, close, peer=peer_text)
    except ConnectionRefused as e:  # raced past process_request's check
        await ws.close(e.close_code, e.reason[:120])
        return
    writer = loop.create_task(_write(ws, outbox))
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def run(call: PendingCall) -> None:
        try:
            resp = await call.run()
            if resp is not None:
                send(resp)
        finally:
            slots.release()

    try:
        async for frame in ws:
            if session.closed:
                break
            got = service.begin(session, frame)
            if isinstance(got, PendingCall):
                await slots.acquire()
                t = loop.create_task(run(got))
                calls.add(t)
                t.add_done_callback(calls.discard)
            elif got is not None:
                send(got)
    except ConnectionClosed:
        pass
    finally:
        service.close_session(session)
        pending = [t for t in calls if not t.done()]
        for t in pending:
            t.cancel()  # chaos delays and the like end with the connection
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        writer.cancel()
        await asyncio.gather(writer, *closers, return_exceptions=True)


async def _write(ws: ServerConnection, outbox: asyncio.Queue) -> None:
    while True:
        msg = await outbox.get()
        try:
            text = json.dumps(msg, default=str, allow_nan=False)
        except (TypeError, ValueError) as e:
            _log.error("unserialisable message dropped: %r", e)
            text = json.dumps({"jsonrpc": "2.0", "id": msg.get("id"),
                               "error": {"code": -32603, "message": "Internal error"}})
        try:
            await ws.send(text)
        except ConnectionClosed:
            return

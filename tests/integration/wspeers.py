"""WebSocket peers for the RPC client tests, all on 127.0.0.1 port 0, all real sockets.

- ``ScriptedServer``: a websockets JSON-RPC server playing either dialect's behaviour
  (auth rules, error codes, event families); tests override methods with handlers.
- ``RawPeer``: a bare TCP server that speaks just enough WebSocket (RFC 6455 handshake and
  framing) to misbehave on purpose: drip bytes, half-close, send what no library would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

GOOD_TOKEN = "good-token"


def ok(frame: dict, result: Any) -> dict:
    return {"jsonrpc": "2.0", "result": result, "id": frame.get("id")}


def err(frame: dict, code: int, message: str, data: Any = None) -> dict:
    e: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        e["data"] = data
    return {"jsonrpc": "2.0", "error": e, "id": frame.get("id")}


Handler = Callable[["ScriptedServer", ServerConnection, dict], Awaitable[Any]]


class ScriptedServer:
    """``handlers[method](server, ws, frame)`` returns a frame (dict or str) to send, or None
    for no response. Built-ins: ping, authenticate, subscribe_events, echo; anything else
    is -32601. ``valid_tokens`` decides authentication."""

    def __init__(self, dialect: str = "current", handlers: dict[str, Handler] | None = None, **serve_kwargs: Any):
        self.dialect = dialect
        self.handlers: dict[str, Handler] = {
            "ping": self._ping, "authenticate": self._authenticate, "subscribe_events": self._subscribe,
            "echo": self._echo,
        }
        self.handlers.update(handlers or {})
        self.valid_tokens = {GOOD_TOKEN}
        self.received: list[tuple[int, dict]] = []  # (connection number, frame)
        self.conns: list[ServerConnection] = []
        self.authed: set[int] = set()  # connection numbers that authenticated
        self.topics: dict[int, list[str]] = {}
        self._changed = asyncio.Condition()
        self._serve_kwargs = serve_kwargs
        self._server: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None, **self._serve_kwargs)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        await self._server.wait_closed()

    def conn_no(self, ws: ServerConnection) -> int:
        return self.conns.index(ws) + 1

    async def _handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        n = len(self.conns)
        await self._notify()
        try:
            async for msg in ws:
                frame = json.loads(msg)
                self.received.append((n, frame))
                await self._notify()
                handler = self.handlers.get(frame.get("method"), self._unknown)
                reply = await handler(self, ws, frame)
                if reply is not None and frame.get("id") is not None:
                    await ws.send(reply if isinstance(reply, str) else json.dumps(reply))
        except ConnectionClosed:
            pass

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on every connection and frame)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(predicate)

    def methods(self, conn: int | None = None) -> list[str]:
        return [f.get("method") for n, f in self.received if conn is None or n == conn]

    async def send_all(self, frame: dict | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        for ws in self.conns:
            try:
                await ws.send(text)
            except ConnectionClosed:
                pass

    async def drop_all(self, code: int = 1012, reason: str = "service restart") -> None:
        for ws in list(self.conns):
            await ws.close(code, reason)

    # built-in behaviour of the two dialects

    async def _ping(self, srv, ws, frame):
        if self.dialect == "legacy" and self.conn_no(ws) not in self.authed:
            return err(frame, -32001, "Authentication required")
        return ok(frame, "pong")

    async def _authenticate(self, srv, ws, frame):
        token = (frame.get("params") or {}).get("auth_token")
        if token in self.valid_tokens:
            self.authed.add(self.conn_no(ws))
            return ok(frame, {"authenticated": True, "role": "admin", "permissions": ["view", "control", "admin"],
                              "expires_at": "2030-01-01T00:00:00Z", "session_id": "s-1"})
        if self.dialect == "legacy":
            return ok(frame, {"authenticated": False, "error": "invalid token signature"})
        return err(frame, -32001, "Authentication failed", {"reason": "invalid token signature"})

    async def _subscribe(self, srv, ws, frame):
        topics = (frame.get("params") or {}).get("topics", [])
        self.topics.setdefault(self.conn_no(ws), []).extend(topics)
        return ok(frame, {"subscribed": True, "topics": topics})

    async def _echo(self, srv, ws, frame):
        return ok(frame, frame.get("params"))

    async def _unknown(self, srv, ws, frame):
        return err(frame, -32601, "Method not found")


# ----------------------------------------------------------------------------- raw peer

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame_bytes(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A server-to-client frame (unmasked)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 2**16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class RawConn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    async def handshake(self) -> None:
        head = await self.reader.readuntil(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        await self.writer.drain()

    async def read_frame(self) -> tuple[int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        mask = await self.reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
        data = await self.reader.readexactly(n)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return b0 & 0x0F, payload

    async def read_request(self) -> dict:
        """The next text frame from the client, parsed (pings answered on the way)."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 0x1:
                return json.loads(payload)
            if opcode == 0x9:
                self.send_frame(0xA, payload)
            elif opcode == 0x8:
                raise ConnectionError("client sent a close frame")

    def send_frame(self, opcode: int, payload: bytes) -> None:
        self.writer.write(frame_bytes(opcode, payload))

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode())

    def send_json(self, obj: Any) -> None:
        self.send_text(json.dumps(obj))

    async def drip(self, data: bytes, delay: float) -> None:
        """Write ``data`` one byte at a time, ``delay`` seconds apart (a slow link)."""
        for i in range(len(data)):
            self.writer.write(data[i:i + 1])
            await self.writer.drain()
            await asyncio.sleep(delay)


class RawPeer:
    """``script(conn)`` runs per accepted connection after the WebSocket handshake
    (``handshake=False``: right after accept, for peers that never speak WebSocket)."""

    def __init__(self, script: Callable[[RawConn], Awaitable[None]], *, handshake: bool = True):
        self.script = script
        self.handshake = handshake
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.errors: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def __aenter__(self) -> RawPeer:
        self._server = await asyncio.start_server(self._on_conn, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._tasks.add(asyncio.current_task())
        conn = RawConn(reader, writer)
        try:
            if self.handshake:
                await conn.handshake()
            await self.script(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # surfaced by tests that check peer.errors
            self.errors.append(exc)
        finally:
            self._tasks.discard(asyncio.current_task())
            writer.close()

"""JSON-RPC 2.0 client for the camera service over one WebSocket (``websockets`` asyncio API).

Shape: one reader task per connection parses every frame and resolves the waiting call's
future by id, so calls run concurrently on one socket and a call costs a future and a timer
handle, never a task. Notifications go to an event queue (``next_event``/``wait_event``).

Hostile or broken peers become specific errors, never a hang or a crash:

* a response is matched by integer id. A frame that cannot be matched to a call (malformed
  JSON, binary frame, non-object JSON, a response whose id we never sent, an error with id
  null) is recorded in the trace and then *attributed only when unambiguous*: if exactly one
  call is waiting it fails with ``ProtocolError`` naming what was seen; otherwise the frame
  is kept as a "stray" and any call that then times out says so in its ``RpcTimeout`` hint.
* a response that matches a call but breaks JSON-RPC (wrong/missing ``jsonrpc``, both or
  neither of result/error, malformed error object) fails that call with ``ProtocolError``.
* a late response (its call timed out or was cancelled) and a duplicate response (its call
  was already answered) are recorded in the trace with a note and ignored: not errors.
* a dropped socket fails every waiting call with ``TransportError("connection closed during
  <method> (code, reason)")``; an oversize frame (websockets closes with 1009) or a WebSocket
  protocol violation (1002/1007) becomes ``ProtocolError`` naming ``max_message``.
* the next call after a drop reconnects with backoff (bounded by ``connect_timeout``) and
  re-authenticates with the last accepted token, then re-subscribes, before sending. An
  event consumer hears of a drop once (``next_event`` raises TransportError), then
  ``next_event`` reconnects the same way.

``websockets`` is imported on first connect: importing it costs ~0.1 s that a front-end
should not pay before its first frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl as ssl_module
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runners.errors import AuthRejected, DryRunError, ProtocolError, RpcError, RpcTimeout, TransportError
from runners.protocol import DIALECTS, FrameError, Notification, check_response, describe, error_meaning
from runners.rpc_failures import close_info, closed_error, connect_error
from runners.trace import Trace

log = logging.getLogger(__name__)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads
_monotonic = time.monotonic
_current_task = asyncio.current_task

_ANSWERED_LIMIT = 1024  # recent answered ids kept to recognise duplicate responses
_ABANDONED_LIMIT = 1024  # timed-out/cancelled ids kept to recognise late responses
DEFAULT_RECONNECT_DELAYS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)

_ws_connect: Any = None
_ConnectionClosed: type[BaseException] = ConnectionError  # replaced on first import of websockets
_OPEN: Any = None


def _connect_with_abort(connect):
    """websockets' connect with a connection class that drops the TCP connection when a peer
    that broke the protocol (a frame over max_size...) never completes the closing handshake:
    websockets 17 only enforces close_timeout inside close(), so recv() would wait forever."""
    import functools

    from websockets.asyncio.client import ClientConnection

    class _Conn(ClientConnection):
        _abort_handle = None

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.close_deadline is not None and self._abort_handle is None:
                self._abort_handle = self.loop.call_at(self.close_deadline, self.transport.abort)

    return functools.partial(connect, create_connection=_Conn)


def _import_websockets() -> None:
    global _ws_connect, _ConnectionClosed, _OPEN
    if _ws_connect is None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed
        from websockets.protocol import State

        _ws_connect = _connect_with_abort(connect)
        _ConnectionClosed = ConnectionClosed
        _OPEN = State.OPEN


def _remember(d: dict, key: Any, value: Any, limit: int) -> None:
    d[key] = value
    if len(d) > limit:
        del d[next(iter(d))]


class _Pending:
    """A call waiting for its response. ``task``/``sending`` let the timeout interrupt a send
    blocked on a peer that stopped reading."""

    __slots__ = ("method", "fut", "t0", "timer", "timeout", "task", "sending", "interrupted")

    def __init__(self, method: str, fut: asyncio.Future, t0: float, timeout: float):
        self.method = method
        self.fut = fut
        self.t0 = t0
        self.timeout = timeout
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task | None = None
        self.sending = False
        self.interrupted = False


class RpcClient:
    """One JSON-RPC connection to one camera service. See the module doc for the error rules.

    Extensions beyond the contract: ``ssl`` (an SSLContext for ``wss://``), ``compression``
    (None by default: frames are small and deflate costs latency), ``ping_interval``
    (websockets keepalive), ``reconnect_delays``, ``max_events``, ``proxy`` (None by default: a
    lab host is reached directly even when the shell exports HTTP(S)_PROXY)."""

    def __init__(self, url: str, *, dialect: str = "current", host: str = "", call_timeout: float = 5.0,
                 connect_timeout: float = 5.0, max_message: int = 4 * 2**20, trace: Trace | None = None,
                 reconnect: bool = True, on_latency: Callable[[str, float, bool], None] | None = None,
                 ssl: ssl_module.SSLContext | None = None, compression: str | None = None,
                 ping_interval: float | None = 20.0, reconnect_delays: Sequence[float] = DEFAULT_RECONNECT_DELAYS,
                 max_events: int = 10_000, proxy: str | None = None):
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}: expected one of {', '.join(DIALECTS)}")
        self.url = url
        self.dialect = dialect
        self.host = host
        self.call_timeout = call_timeout
        self.connect_timeout = connect_timeout
        self.max_message = max_message
        self.trace = trace if trace is not None else Trace(host=host)
        self.reconnect = reconnect
        self.on_latency = on_latency
        self.ssl = ssl
        self.compression = compression
        self.ping_interval = ping_interval
        self.reconnect_delays = tuple(reconnect_delays) or (0.0,)
        self.proxy = proxy
        self.stats: dict[str, int] = dict.fromkeys(
            ("calls", "timeouts", "late", "duplicates", "unmatched", "strays", "protocol_errors",
             "events", "events_dropped", "reconnects", "callback_errors"), 0)

        self._url_error = ""
        self.hostport = self._parse_url(url)
        self._ws: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: asyncio.Task | None = None
        self._conn = 0  # connection number, +1 per (re)connect
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._answered: dict[int, str] = {}
        self._abandoned: dict[int, tuple[str, str]] = {}
        self._strays: deque[tuple[float, str]] = deque(maxlen=20)
        self._events: deque[Notification] = deque()
        self._max_events = max_events
        self._event_signal: asyncio.Future | None = None
        self._token: str | None = None
        self._topics: list[str] = []
        self._subscribed_conn = 0
        self._last_close: tuple[int, str, str] | None = None  # code, reason, closed by
        self._user_closed = False
        self._drop_news: str | None = None  # a drop no event consumer has heard about yet
        self._lock = asyncio.Lock()
        self._callback_warned = False

    # ------------------------------------------------------------------ properties

    @property
    def connected(self) -> bool:
        ws = self._ws
        return ws is not None and ws.state is _OPEN

    @property
    def authenticated(self) -> bool:
        """A token was accepted on this client (re-sent after every reconnect)."""
        return self._token is not None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _parse_url(self, url: str) -> str:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as exc:
            self._url_error = f"invalid RPC url {url!r}: {exc}"
            return url
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            self._url_error = (f"invalid RPC url {url!r}: expected ws://HOST:PORT/PATH or wss://..., "
                               f"got scheme {parts.scheme!r}" + ("" if parts.hostname else " and no host"))
            return url
        port = port or (443 if parts.scheme == "wss" else 80)
        host = parts.hostname
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> RpcClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the socket (TransportError on refuse/timeout/TLS/handshake failure). After a
        drop, an explicit connect also re-authenticates and re-subscribes."""
        async with self._lock:
            self._user_closed = False
            await self._settle()
            if self._ws is not None:
                return
            await self._open(self.connect_timeout)
            await self._restore_or_abandon()

    async def close(self) -> None:
        """Close the socket; waiting calls fail with TransportError. Idempotent."""
        self._user_closed = True
        ws, self._ws = self._ws, None
        reader, self._reader = self._reader, None
        self._fail_pending(lambda method: TransportError(f"client closed while waiting for {method}"))
        self._wake_event_waiters(TransportError("client closed while waiting for an event"))
        if reader is not None:
            reader.cancel()
        if ws is not None:
            self.trace.record_meta("closed", conn=self._conn, code=1000, reason="closed by the client",
                                   by="client")
            try:
                await ws.close()
            except Exception as exc:  # closing a broken socket: nothing left to save
                log.debug("close of %s failed: %r", self.url, exc)
        if reader is not None:
            try:
                await reader
            except BaseException:  # the cancelled reader; its outcome no longer matters
                pass

    async def _open(self, timeout: float) -> None:
        if self._url_error:
            raise TransportError(self._url_error, hint="rpc_url looks like ws://HOST:8002/ws")
        _import_websockets()
        self._loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = dict(
            open_timeout=timeout, max_size=self.max_message, compression=self.compression,
            proxy=self.proxy, ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
            close_timeout=2.0, user_agent_header="dryrun-console",
        )
        if self.ssl is not None and self.url.startswith("wss:"):
            kwargs["ssl"] = self.ssl
        t0 = _monotonic()
        try:
            ws = await _ws_connect(self.url, **kwargs)
        except Exception as exc:
            err = connect_error(exc, self.url, self.hostport, timeout)
            self.trace.record_meta("connect_failed", url=self.url, error=str(err))
            raise err from exc
        if self._user_closed and self._conn > 0:  # close() ran while we were reconnecting
            ws.transport.abort()
            raise TransportError(f"cannot connect to {self.url}: the client was closed meanwhile")
        self._conn += 1
        self._ws = ws
        self._last_close = None
        self.trace.record_meta("connected", conn=self._conn, url=self.url,
                               ms=round((_monotonic() - t0) * 1000, 3))
        self._reader = asyncio.create_task(self._read(ws, self._conn), name=f"rpc-reader {self.hostport}")

    # ------------------------------------------------------------------ (re)connection

    async def _ensure_connected(self, method: str, *, restore: bool = True) -> Any:
        async with self._lock:
            # A closing socket: let the reader finish first so waiting calls fail with the
            # close details, then reconnect.
            await self._settle()
            if self._ws is not None:
                return self._ws
            if self._user_closed:
                raise TransportError(f"{method}: the client is closed", hint="call connect() to reopen it")
            if self._conn == 0:
                await self._open(self.connect_timeout)  # first connection: fail fast, no retries
            elif not self.reconnect:
                code, reason, by = self._last_close or (1006, "unknown", "network")
                raise TransportError(f"{method}: not connected: the connection closed earlier "
                                     f"({code}, {reason!r}) and reconnect is off")
            else:
                await self._reconnect(method)
            if restore:
                await self._restore_or_abandon()
            return self._ws

    async def _reconnect(self, method: str) -> None:
        start = _monotonic()
        deadline = start + self.connect_timeout
        last: TransportError | None = None
        attempts = 0
        for delay in self.reconnect_delays:
            if attempts and _monotonic() + delay >= deadline:
                break
            if delay:
                await asyncio.sleep(delay)
            attempts += 1
            try:
                await self._open(max(0.05, deadline - _monotonic()))
            except TransportError as exc:
                last = exc
                if _monotonic() >= deadline:
                    break
                continue
            self.stats["reconnects"] += 1
            self.trace.record_meta("reconnected", conn=self._conn, attempts=attempts,
                                   ms=round((_monotonic() - start) * 1000, 3))
            return
        raise TransportError(f"{method}: reconnect to {self.hostport} failed after {attempts} attempt(s) "
                             f"in {_monotonic() - start:.1f} s: {last}",
                             hint="the service went away; is it restarting or down?")

    async def _restore_or_abandon(self) -> None:
        """Restore the session; if that fails for any reason but a rejected token, drop the
        fresh socket so the next call reconnects and tries again, instead of carrying on
        unauthenticated."""
        try:
            await self._restore()
        except AuthRejected:
            raise
        except BaseException:
            ws, reader = self._ws, self._reader
            self._ws = self._reader = None
            self._last_close = (1006, "session restore failed", "client")
            self.trace.record_meta("abandoned", conn=self._conn, reason="session restore failed")
            if reader is not None:
                reader.cancel()
            if ws is not None:
                ws.transport.abort()
            raise

    async def _restore(self) -> None:
        """After a reconnect: authenticate with the remembered token, then re-subscribe."""
        ws = self._ws
        if self._token is not None:
            try:
                await self._authenticate_on(ws, self._token)
            except AuthRejected as exc:
                self._token = None  # expired or revoked: retrying it on every reconnect is pointless
                self.trace.record_meta("reauth_rejected", conn=self._conn, form=exc.form)
                raise AuthRejected(f"re-authentication after reconnect rejected: {exc}", form=exc.form,
                                   hint="the remembered token was refused; authenticate again") from exc
            self.trace.record_meta("reauthenticated", conn=self._conn)
        await self._resubscribe(ws)

    async def _resubscribe(self, ws: Any) -> None:
        if self._topics and self._subscribed_conn != self._conn:
            await self._call_on(ws, "subscribe_events", {"topics": list(self._topics)}, self.call_timeout)
            self._subscribed_conn = self._conn
            self.trace.record_meta("resubscribed", conn=self._conn, topics=list(self._topics))

    # ------------------------------------------------------------------ calls

    async def call(self, method: str, params: dict | list | None = None, *, timeout: float | None = None) -> Any:
        """Send a request and return its ``result``. Raises RpcError (with the dialect's
        meaning), RpcTimeout, TransportError or ProtocolError."""
        ws = self._ws
        if ws is None or ws.state is not _OPEN:  # closing but not yet seen by the reader: reconnect
            ws = await self._ensure_connected(method)
        return await self._call_on(ws, method, params, self.call_timeout if timeout is None else timeout)

    async def _call_on(self, ws: Any, method: str, params: Any, timeout: float) -> Any:
        self._next_id += 1
        id_ = self._next_id
        frame: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
        if params is not None:
            frame["params"] = params
        raw = _dumps(frame)
        loop = self._loop
        fut = loop.create_future()
        t0 = _monotonic()
        p = _Pending(method, fut, t0, timeout)
        p.timer = loop.call_at(loop.time() + timeout, self._expire, id_)
        self._pending[id_] = p
        self.stats["calls"] += 1
        self.trace.record_out(frame, raw, t=t0, conn=self._conn)
        try:
            p.task = _current_task()
            p.sending = True
            try:
                await ws.send(raw)
            finally:
                p.sending = False
            return await fut
        except _ConnectionClosed as exc:  # send on a socket that is closing or gone
            if fut.done():  # the reader already failed this call with the close details
                return fut.result()
            raise closed_error(method, *close_info(exc), hostport=self.hostport, max_message=self.max_message) from exc
        except asyncio.CancelledError:
            if p.interrupted and p.task.uncancel() == 0:
                # our own timeout interrupted a send blocked on a peer that stopped reading
                raise fut.exception() from None
            if fut.done() and not fut.cancelled():
                fut.exception()  # mark retrieved: the caller went away
            if self._pending.get(id_) is p:
                _remember(self._abandoned, id_, (method, "its call was cancelled"), _ABANDONED_LIMIT)
            raise
        finally:
            if self._pending.pop(id_, None) is not None:
                p.timer.cancel()

    def _expire(self, id_: int) -> None:
        p = self._pending.pop(id_, None)
        if p is None or p.fut.done():
            return
        self.stats["timeouts"] += 1
        _remember(self._abandoned, id_, (p.method, f"after its {p.timeout:g} s timeout"), _ABANDONED_LIMIT)
        strays = [d for t, d in self._strays if t >= p.t0]
        if p.sending:
            hint = "the peer stopped reading: the request could not even be sent"
        elif strays:
            hint = (f"meanwhile the peer sent {len(strays)} frame(s) that matched no call: "
                    + "; ".join(strays[:3]))
        else:
            hint = "the connection stayed open but the service sent no response; check the service log"
        self.trace.record_meta("timeout", conn=self._conn, method=p.method, id=id_, timeout=p.timeout)
        p.fut.set_exception(RpcTimeout(p.method, p.timeout, hint=hint))
        if p.sending and p.task is not None:  # blocked in ws.send(): interrupt it (-> RpcTimeout)
            p.interrupted = True
            p.task.cancel()
        self._report_latency(p.method, (_monotonic() - p.t0) * 1000.0, False)

    async def notify(self, method: str, params: Any = None) -> None:
        """Send a notification (no id, no response)."""
        ws = self._ws
        if ws is None or ws.state is not _OPEN:
            ws = await self._ensure_connected(method)
        frame: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            frame["params"] = params
        raw = _dumps(frame)
        self.trace.record_out(frame, raw, conn=self._conn)
        try:
            await ws.send(raw)
        except _ConnectionClosed as exc:
            raise closed_error(method, *close_info(exc), hostport=self.hostport, max_message=self.max_message) from exc

    async def authenticate(self, token: str) -> dict:
        """Authenticate this socket. Returns the result dict; raises AuthRejected with ``form``
        "error -32001" (current) or "result authenticated:false" (legacy). The accepted token
        is remembered and re-sent after every reconnect."""
        if not isinstance(token, str) or not token:
            raise ValueError(f"authenticate: expected a non-empty token string, got {describe(token)}")
        ws = self._ws
        if ws is None or ws.state is not _OPEN:
            ws = await self._ensure_connected("authenticate", restore=False)
        result = await self._authenticate_on(ws, token)
        self._token = token
        await self._resubscribe(ws)
        return result

    async def _authenticate_on(self, ws: Any, token: str) -> dict:
        try:
            result = await self._call_on(ws, "authenticate", {"auth_token": token}, self.call_timeout)
        except RpcError as exc:
            if exc.code == -32001:
                err = AuthRejected(f"authenticate: token rejected with error -32001 {exc.message!r}",
                                   form="error -32001")
                err.server_message = exc.message
                err.code = exc.code
                raise err from exc
            raise
        if isinstance(result, dict):
            ok = result.get("authenticated")
            if ok is True:
                return result
            if ok is False:
                why = result.get("error") or result.get("message") or "no reason given"
                err = AuthRejected(f"authenticate: token rejected with result authenticated:false ({why!r})",
                                   form="result authenticated:false")
                err.server_message = str(why)
                err.code = None
                raise err
        raise ProtocolError(f"authenticate: expected a result with authenticated true or false, "
                            f"got {describe(result, 120)}")

    async def subscribe(self, topics: Iterable[str]) -> Any:
        """``subscribe_events`` with dotted topics; remembered and re-sent after a reconnect.
        Both event families are accepted whatever the subscription says."""
        topics = list(topics)
        result = await self.call("subscribe_events", {"topics": topics})
        for t in topics:
            if t not in self._topics:
                self._topics.append(t)
        self._subscribed_conn = self._conn
        return result

    async def unsubscribe(self, topics: Iterable[str]) -> Any:
        topics = list(topics)
        result = await self.call("unsubscribe_events", {"topics": topics})
        self._topics = [t for t in self._topics if t not in topics]
        return result

    # ------------------------------------------------------------------ events

    def _take_event(self, match: str | Callable[[Notification], bool] | None) -> Notification | None:
        q = self._events
        if not q:
            return None
        if match is None:
            return q.popleft()
        for i, n in enumerate(q):
            if (match(n) if callable(match) else match in (n.canonical, n.method)):
                del q[i]
                return n
        return None

    async def next_event(self, timeout: float | None = None, *,
                         match: str | Callable[[Notification], bool] | None = None) -> Notification:
        """The next notification (oldest first), or the oldest one whose canonical name or
        method equals ``match`` (or for which ``match(n)`` is true; others stay queued).
        RpcTimeout if none within ``timeout`` (default: call_timeout; never forever).

        It never waits on a dead socket: a drop (during the wait, or since the last call)
        raises TransportError naming the close once, so the consumer knows events may have
        been lost; the next call or next_event reconnects (re-authenticates, re-subscribes)."""
        limit = self.call_timeout if timeout is None else timeout
        deadline = _monotonic() + limit
        while True:
            n = self._take_event(match)
            if n is not None:
                return n
            ws = self._ws
            if ws is None or ws.state is not _OPEN:
                await self._settle()
                if self._drop_news is not None:
                    news, self._drop_news = self._drop_news, None
                    raise TransportError(news)
                await self._ensure_connected("next_event")
                continue
            remaining = deadline - _monotonic()
            what = "next_event" if match is None else f"event {match if isinstance(match, str) else 'match'}"
            if remaining <= 0:
                raise RpcTimeout(what, limit, hint=self._event_hint())
            sig = self._event_signal
            if sig is None or sig.done():
                sig = self._event_signal = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(remaining):
                    await asyncio.shield(sig)  # shared by all waiters: never cancel it
            except TimeoutError:
                raise RpcTimeout(what, limit, hint=self._event_hint()) from None

    wait_event = next_event  # reads better with match=...

    def _event_hint(self) -> str:
        topics = ", ".join(self._topics) if self._topics else "none"
        return f"no notification arrived (subscribed topics: {topics}; {len(self._events)} other event(s) queued)"

    def _wake_event_waiters(self, exc: BaseException | None = None) -> bool:
        """Wake every next_event waiter (with ``exc`` if given); True if anyone was waiting."""
        sig = self._event_signal
        if sig is not None and not sig.done():
            if exc is None:
                sig.set_result(None)
            else:
                sig.set_exception(exc)
                sig.exception()  # mark retrieved: the waiters may all have timed out meanwhile
            return True
        return False

    async def _settle(self) -> None:
        """If the socket is closing, wait (bounded) for the reader to record the close."""
        ws, reader = self._ws, self._reader
        if ws is not None and ws.state is not _OPEN and reader is not None:
            await asyncio.wait({reader}, timeout=5.0)

    def drain_events(self) -> list[Notification]:
        """All queued notifications, oldest first; empties the queue."""
        out = list(self._events)
        self._events.clear()
        return out

    # ------------------------------------------------------------------ reader

    async def _read(self, ws: Any, conn: int) -> None:
        closed: BaseException | None = None
        try:
            while True:
                msg = await ws.recv()
                try:
                    self._on_message(msg, conn)
                except Exception as exc:  # a bug here must not stop the reader and hang every call
                    log.exception("rpc reader: failed to handle a frame from %s", self.hostport)
                    self.trace.record_meta("client_error", conn=conn, error=repr(exc))
        except _ConnectionClosed as exc:
            closed = exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # unexpected transport failure: still fail the calls clearly
            log.exception("rpc reader: unexpected error on %s", self.hostport)
            closed = exc
        finally:
            if self._ws is ws:  # not a close() we started
                self._dropped(closed, conn)

    def _dropped(self, exc: BaseException | None, conn: int) -> None:
        code, reason, by = close_info(exc)
        self._ws = None
        self._reader = None
        self._last_close = (code, reason, by)
        self.trace.record_meta("closed", conn=conn, code=code, reason=reason, by=by)
        self._fail_pending(lambda method: closed_error(method, code, reason, by, hostport=self.hostport,
                                                           max_message=self.max_message))
        news = f"connection closed while waiting for an event ({code}, {reason!r}) [{self.hostport}]"
        # Delivered to the waiters now, or to the next next_event() if nobody is waiting.
        self._drop_news = None if self._wake_event_waiters(TransportError(news)) else news

    def _fail_pending(self, make: Callable[[str], BaseException]) -> None:
        pending, self._pending = self._pending, {}
        for id_, p in pending.items():
            p.timer.cancel()
            if not p.fut.done():
                p.fut.set_exception(make(p.method))
            _remember(self._abandoned, id_, (p.method, "its connection closed first"), _ABANDONED_LIMIT)

    def _on_message(self, msg: str | bytes, conn: int) -> None:
        t = _monotonic()
        if type(msg) is not str:
            self.trace.record_in(None, msg, t=t, kind="binary", note="binary frame", conn=conn)
            self._stray(f"a binary frame ({len(msg)} bytes; the service speaks JSON text frames)", t)
            return
        try:
            obj = _loads(msg)
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deeply
            self.trace.record_in(None, msg, t=t, note=f"malformed JSON: {exc}", conn=conn)
            self._stray(f"malformed JSON ({exc}): {msg[:80]!r}", t)
            return
        if type(obj) is not dict:
            what = "a batch (JSON array); batches are never sent by this client" if type(obj) is list \
                else f"JSON {describe(obj)}"
            self.trace.record_in(obj, msg, t=t, kind="invalid", note=f"expected a JSON object, got {what}",
                                 conn=conn)
            self._stray(f"{what} instead of a JSON-RPC object", t)
            return
        if "method" in obj:
            self._on_notification(obj, msg, t, conn)
            return
        id_ = obj.get("id")
        p = self._pending.pop(id_, None) if type(id_) is int else None
        if p is None:
            self._unmatched(obj, msg, t, conn, id_)
            return
        p.timer.cancel()
        ms = (t - p.t0) * 1000.0
        fut = p.fut
        if "result" in obj and "error" not in obj and obj.get("jsonrpc") == "2.0":
            # fast path: a well-formed result
            self.trace.record_in(obj, msg, t=t, kind="response", method=p.method, latency_ms=ms, conn=conn)
            _remember(self._answered, id_, p.method, _ANSWERED_LIMIT)
            if not fut.done():
                fut.set_result(obj["result"])
            self._report_latency(p.method, ms, True)
            return
        try:
            check_response(obj)
        except FrameError as exc:
            self.stats["protocol_errors"] += 1
            note = str(exc)
            err: DryRunError = ProtocolError(f"{p.method}: {exc} (response id {id_})")
        else:
            e = obj["error"]
            note = None
            err = RpcError(p.method, e["code"], e["message"], e.get("data"),
                           meaning=error_meaning(self.dialect, e["code"]), dialect=self.dialect)
        self.trace.record_in(obj, msg, t=t, method=p.method, latency_ms=ms, note=note, conn=conn)
        _remember(self._answered, id_, p.method, _ANSWERED_LIMIT)
        if not fut.done():
            fut.set_exception(err)
        self._report_latency(p.method, ms, False)

    def _unmatched(self, obj: dict, msg: str, t: float, conn: int, id_: Any) -> None:
        if type(id_) is int:
            if id_ in self._abandoned:
                method, why = self._abandoned[id_]
                self.stats["late"] += 1
                self.trace.record_in(obj, msg, t=t, method=method, conn=conn,
                                     note=f"late response to {method} (id {id_}), {why}; ignored")
                return
            if id_ in self._answered:
                method = self._answered[id_]
                self.stats["duplicates"] += 1
                self.trace.record_in(obj, msg, t=t, method=method, conn=conn,
                                     note=f"duplicate response to {method} (id {id_}), already answered; ignored")
                return
            if 0 < id_ <= self._next_id:  # answered or abandoned long ago (beyond the memory above)
                self.stats["late"] += 1
                self.trace.record_in(obj, msg, t=t, conn=conn,
                                     note=f"response to id {id_}, no longer awaited; ignored")
                return
        self.stats["unmatched"] += 1
        if id_ is None and isinstance(obj.get("error"), dict):
            e = obj["error"]
            desc = (f"an error response with id null (code {describe(e.get('code'))}, "
                    f"message {describe(e.get('message'))}): the service could not read a request")
        elif "id" not in obj:
            desc = f"a frame with neither method nor id (keys: {', '.join(sorted(obj))[:80]})"
        else:
            desc = f"a response with id {describe(id_)}, which matches no request sent"
        self.trace.record_in(obj, msg, t=t, conn=conn, note=desc)
        self._stray(desc, t)

    def _stray(self, desc: str, t: float) -> None:
        """A frame no call can claim by id: blame the one waiting call if there is exactly
        one, else keep it for the hint of whichever call times out."""
        self.stats["strays"] += 1
        if len(self._pending) == 1:
            id_, p = self._pending.popitem()
            p.timer.cancel()
            _remember(self._abandoned, id_, (p.method, "failed on an unmatched frame"), _ABANDONED_LIMIT)
            if not p.fut.done():
                p.fut.set_exception(ProtocolError(
                    f"{p.method}: while waiting for its response (id {id_}) the peer sent {desc}",
                    hint="the service broke JSON-RPC 2.0; see rpc_trace.json"))
            self._report_latency(p.method, (t - p.t0) * 1000.0, False)
        else:
            self._strays.append((t, desc))

    def _on_notification(self, obj: dict, msg: str, t: float, conn: int) -> None:
        method = obj["method"]
        if type(method) is not str:
            desc = f"a frame whose method is {describe(method)}, not a string"
            self.trace.record_in(obj, msg, t=t, kind="invalid", note=desc, conn=conn)
            self._stray(desc, t)
            return
        if obj.get("id") is not None:
            self.trace.record_in(obj, msg, t=t, kind="request", conn=conn,
                                 note="server-to-client request: not supported by this client; ignored")
            return
        note = None
        if obj.get("jsonrpc") != "2.0":
            # A notification cannot fail a call; deliver it, but leave the violation on record.
            self.stats["protocol_errors"] += 1
            note = f'notification without "jsonrpc": "2.0" (got {describe(obj.get("jsonrpc"))}); delivered'
        self.trace.record_in(obj, msg, t=t, kind="notification", note=note, conn=conn)
        self.stats["events"] += 1
        q = self._events
        if len(q) >= self._max_events:
            q.popleft()
            self.stats["events_dropped"] += 1
        q.append(Notification.from_frame(method, obj.get("params"), t))
        self._wake_event_waiters()

    def _report_latency(self, method: str, ms: float, ok: bool) -> None:
        cb = self.on_latency
        if cb is None:
            return
        try:
            cb(method, ms, ok)
        except Exception as exc:  # a consumer's bug must not break the reader
            self.stats["callback_errors"] += 1
            if not self._callback_warned:
                self._callback_warned = True
                log.exception("on_latency callback failed")
            self.trace.record_meta("callback_error", error=repr(exc))

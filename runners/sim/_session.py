"""Per-connection state and the checked-request object of the simulated camera service."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from runners.sim import _errors as E
from runners.sim._errors import RpcFault
from runners.sim._params import Params

if TYPE_CHECKING:
    from runners.sim.service import CameraService


class ConnectionRefused(Exception):
    """A new connection the service will not take (limit reached, restarting, closed)."""

    def __init__(self, reason: str, *, http_status: int = 503, close_code: int = 1013):
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.close_code = close_code


class Session:
    """One client connection's state. ``send`` queues a message for the client;
    ``close(code, reason, abrupt)`` asks the transport to end the connection."""

    def __init__(self, sid: int, *, peer: str, send: Callable[[dict], None],
                 close: Callable[[int, str, bool], None]):
        self.id = sid
        self.peer = peer
        self._send = send
        self._close = close
        self.opened = time.time()
        self.closed = False
        self.authenticated = False
        self.role: str | None = None
        self.user_id: str | None = None
        self.session_id: str | None = None
        self.topics: set[str] = set()
        self.filters: dict[str, Any] = {}
        self.stamps: deque[float] = deque()  # monotonic times of accepted requests (rate limit)

    def send(self, msg: dict) -> None:
        if not self.closed:
            self._send(msg)

    def close(self, code: int = 1000, reason: str = "", abrupt: bool = False) -> None:
        if not self.closed:
            self.closed = True
            self._close(code, reason, abrupt)

    def wants(self, topic: str, params: dict) -> bool:
        if not any(t == topic or t == "*" or (t.endswith(".*") and topic.startswith(t[:-1])) for t in self.topics):
            return False
        want = self.filters.get("device", self.filters.get("devices"))
        if want is None:
            return True
        wanted = [want] if isinstance(want, str) else list(want) if isinstance(want, list) else []
        return params.get("device") in wanted


@dataclass(frozen=True)
class MethodSpec:
    handler: Callable[[Session, Params, PendingCall], Awaitable[Any]]
    role: str | None  # None: no authentication needed


class PendingCall:
    """A checked request waiting to run. ``fault`` is the chaos decision taken at arrival."""

    def __init__(self, svc: CameraService, session: Session, method: str, rid: Any, notification: bool,
                 params: dict, spec: MethodSpec, fault: str | None, t0: float):
        self.svc = svc
        self.session = session
        self.method = method
        self.rid = rid
        self.notification = notification
        self.params = params
        self.spec = spec
        self.fault = fault
        self.t0 = t0

    async def run(self) -> dict | None:
        svc, d = self.svc, self.svc.dialect
        outcome, resp = "ok", None
        try:
            try:
                if self.fault == "delay":
                    # The client gives up first; cancelled with the connection or the service.
                    await asyncio.sleep(svc.chaos.delay if svc.chaos else 0)
                elif self.fault == "drop":
                    outcome = "dropped (chaos)"
                    self.session.close(1006, "connection dropped", abrupt=True)
                    return None
                elif self.fault == "error":
                    raise svc._chaos_error(self.method)
                result = await self.spec.handler(self.session, Params(d, self.params), self)
                resp = {"jsonrpc": "2.0", "result": result, "id": self.rid}
            except RpcFault as f:
                outcome = f"error {f.code}"
                resp = {"jsonrpc": "2.0", "error": f.to_error(), "id": self.rid}
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except Exception as e:  # a simulator bug must not take the connection down
                outcome = f"error {E.INTERNAL_ERROR}"
                svc.log.write("ERROR", f"internal error in {self.method}: {e!r}", method=self.method)
                resp = {"jsonrpc": "2.0", "error": E.internal_error(d, type(e).__name__).to_error(), "id": self.rid}
        finally:
            svc._log_request(self.session, self.method, self.rid, outcome, self.t0, fault=self.fault)
        return None if self.notification else resp

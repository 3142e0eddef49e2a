"""HTTP health of a camera service, normalised across the two layouts.

current (Go): ``/health`` ({status, version, uptime}) + ``/health/ready`` (200/503, {ready});
``/health/detailed`` and ``/health/live`` on request. legacy (Python): ``/health/system``,
``/health/cameras``, ``/health/mediamtx``, ``/health/ready``. Every endpoint becomes
healthy / degraded / unhealthy / unreachable with a reason; the report's status is the worst
of them (``unreachable`` only when no endpoint answered at all).

``httpx`` is imported when a probe is created (it costs ~0.1 s to import).

TLS: httpx loads the CA bundle into a new ``SSLContext`` for every client it builds (~25 ms of
event-loop time; 20 hosts = a half-second stall). Every probe of the process shares one context
instead, built once — in a worker thread when first needed from async code. A plain ``http://``
probe never loads the bundle: httpx insists on some context, so it gets a bare one (no CAs, so
it could verify nothing if ever used for TLS), built once and cheap.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from runners.errors import HealthError

STATUSES = ("healthy", "degraded", "unhealthy", "unreachable")
_RANK = {s: i for i, s in enumerate(STATUSES)}

_WORDS: dict[str, str] = {}
for _status, _words in {
    "healthy": ("healthy", "ok", "up", "pass", "passing", "ready", "alive", "running", "green"),
    "degraded": ("degraded", "partial", "warn", "warning", "starting", "initializing", "yellow"),
    "unhealthy": ("unhealthy", "down", "fail", "failed", "failing", "error", "critical", "unavailable",
                  "stopped", "not_ready", "not ready", "dead", "red"),
}.items():
    for _w in _words:
        _WORDS[_w] = _status

PATHS = {
    "current": ("/health", "/health/ready"),
    "legacy": ("/health/system", "/health/cameras", "/health/mediamtx", "/health/ready"),
}


_SSL_CONTEXT: ssl.SSLContext | None = None
_PLAIN_CONTEXT: ssl.SSLContext | None = None
_SSL_LOCK = threading.Lock()  # a context is built once even when two threads race for it


def shared_ssl_context() -> ssl.SSLContext:
    """The process's one verifying TLS context for health probes (what httpx would build: the
    certifi bundle, as ``trust_env=False`` ignores SSL_CERT_FILE). The first call loads the
    bundle (~25 ms): from async code use ``shared_ssl_context_async``."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        with _SSL_LOCK:
            if _SSL_CONTEXT is None:
                import certifi  # an httpx dependency

                _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
    return _SSL_CONTEXT


async def shared_ssl_context_async() -> ssl.SSLContext:
    """``shared_ssl_context`` without blocking the event loop the first time."""
    if _SSL_CONTEXT is not None:
        return _SSL_CONTEXT
    return await asyncio.to_thread(shared_ssl_context)


def _plain_context() -> ssl.SSLContext:
    """For ``http://`` clients, which never handshake: httpx builds a context for every client
    unless given one. Verification stays on and no CA is loaded, so misuse fails closed."""
    global _PLAIN_CONTEXT
    if _PLAIN_CONTEXT is None:
        with _SSL_LOCK:
            if _PLAIN_CONTEXT is None:
                _PLAIN_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _PLAIN_CONTEXT


def normalise_status(value: Any) -> tuple[str, str]:
    """A service's status word -> (one of healthy/degraded/unhealthy, detail). Case-insensitive;
    an unknown word is unhealthy and says what was expected."""
    if isinstance(value, str):
        s = _WORDS.get(value.strip().lower())
        if s is not None:
            return s, "" if s == "healthy" else f"status {value!r}"
    return "unhealthy", f"unknown status {value!r} (expected healthy, degraded or unhealthy)"


@dataclass
class HealthReport:
    status: str  # "healthy" | "degraded" | "unhealthy" | "unreachable"
    http_status: int | None  # of the main endpoint (/health, legacy /health/system)
    version: str = ""
    detail: str = ""
    endpoints: dict[str, Any] = field(default_factory=dict)  # path -> {status, http_status, detail, ms, body}
    elapsed_ms: float = 0.0

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"

    def summary(self) -> str:
        text = self.status + (f" (HTTP {self.http_status})" if self.http_status is not None else "")
        return f"{text}: {self.detail}" if self.detail else text


class HealthProbe:
    """Extensions beyond the contract: ``detailed``/``live`` add those current endpoints;
    ``transport`` (an httpx transport) is for tests where a real endpoint is not the point."""

    def __init__(self, base_url: str, *, dialect: str = "current", timeout: float = 5.0,
                 detailed: bool = False, live: bool = False, transport: Any = None):
        import httpx

        if dialect not in PATHS:
            raise ValueError(f"unknown dialect {dialect!r}: expected one of {', '.join(PATHS)}")
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.dialect = dialect
        self.timeout = timeout
        paths = list(PATHS[dialect])
        if dialect == "current":
            if detailed:
                paths.append("/health/detailed")
            if live:
                paths.append("/health/live")
        self.paths = tuple(paths)
        self._url = httpx.URL(self.base_url)
        self._transport = transport
        self._closed = False
        self._client: Any = None
        if transport is not None or self._url.scheme != "https":
            self._client = self._new_client(None)  # no CA bundle needed: build it now, cheaply
        # https: built on first use, once the shared context is ready (see _ensure_client)

    def _new_client(self, verify: ssl.SSLContext | None) -> Any:
        # trust_env=False: a lab host is reached directly even when the shell exports a proxy.
        # With a transport httpx ignores verify; otherwise always hand it a ready context.
        return self._httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, trust_env=False,
                                       follow_redirects=False, transport=self._transport,
                                       verify=verify if verify is not None else _plain_context())

    async def _ensure_client(self) -> Any:
        if self._closed:
            raise RuntimeError(f"HealthProbe for {self.base_url} is closed")
        if self._client is None:
            ctx = await shared_ssl_context_async()
            if self._closed:  # closed while the context loaded: build nothing that would leak
                raise RuntimeError(f"HealthProbe for {self.base_url} is closed")
            if self._client is None:  # another check() of this probe may have built it meanwhile
                self._client = self._new_client(ctx)
        return self._client

    async def __aenter__(self) -> HealthProbe:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()

    async def check(self, *, timeout: float | None = None) -> HealthReport:
        """Probe every endpoint of the layout at once; never raises for a sick or absent peer."""
        t0 = time.monotonic()
        limit = self.timeout if timeout is None else timeout
        await self._ensure_client()
        results = await asyncio.gather(*(self._probe(p, limit) for p in self.paths))
        endpoints = dict(zip(self.paths, results))
        main = results[0]
        reachable = [r for r in results if r["status"] != "unreachable"]
        if not reachable:
            status = "unreachable"
        else:
            # an endpoint that did not answer while others did counts as unhealthy, not unreachable
            status = max((r["status"] if r["status"] != "unreachable" else "unhealthy" for r in results),
                         key=_RANK.__getitem__)
        if status == "unreachable":
            detail = main["detail"]
        else:
            detail = "; ".join(f"{p}: {r['detail']}" for p, r in endpoints.items() if r["status"] != "healthy")
        version = ""
        for r in results:
            body = r.get("body")
            if isinstance(body, dict) and isinstance(body.get("version"), str):
                version = body["version"]
                break
        return HealthReport(status=status, http_status=main["http_status"], version=version, detail=detail,
                            endpoints=endpoints, elapsed_ms=round((time.monotonic() - t0) * 1000, 3))

    async def _probe(self, path: str, timeout: float) -> dict[str, Any]:
        httpx = self._httpx
        t0 = time.monotonic()
        out: dict[str, Any] = {"status": "unreachable", "http_status": None, "detail": "", "ms": 0.0}
        hostport = self._hostport()
        try:
            resp = await self._client.get(path, timeout=timeout)
        except httpx.TimeoutException:
            out["detail"] = f"no response from {hostport} within {timeout:g} s (GET {path})"
        except httpx.ConnectError as exc:
            out["detail"] = f"{_connect_reason(exc, hostport)} (GET {path})"
        except httpx.HTTPError as exc:  # the peer answered but broke HTTP (closed early, garbage...)
            out["status"] = "unhealthy"
            out["detail"] = f"GET {path}: the server at {hostport} broke HTTP: {type(exc).__name__}: {exc}"
        else:
            out["http_status"] = resp.status_code
            out["status"], out["detail"], out["body"] = self._judge(path, resp)
        out["ms"] = round((time.monotonic() - t0) * 1000, 3)
        return out

    def _judge(self, path: str, resp: Any) -> tuple[str, str, Any]:
        code = resp.status_code
        ctype = resp.headers.get("content-type", "")
        try:
            body = resp.json()
        except (ValueError, RecursionError):
            body = None
            text = resp.text[:60]
            not_json = f"expected JSON, got {ctype or 'no content type'}: {text!r}"
        else:
            not_json = ""
        if code == 404:
            other = "legacy" if self.dialect == "current" else "current"
            return "unhealthy", f"HTTP 404: no such endpoint (is this a {other}-dialect host?)", body
        if code == 503:
            why = _body_reason(body)
            return "unhealthy", "HTTP 503 service unavailable" + (f": {why}" if why else ""), body
        if code >= 400 or code < 200:
            why = _body_reason(body)
            return "unhealthy", f"HTTP {code}" + (f": {why}" if why else ""), body
        if not_json:
            return "unhealthy", not_json, None
        if not isinstance(body, dict):
            return "unhealthy", f"expected a JSON object, got {type(body).__name__}", body
        if "status" in body:
            status, detail = normalise_status(body["status"])
            why = next((body[k] for k in ("message", "error", "detail", "details")
                        if isinstance(body.get(k), str) and body[k]), "")
            if status != "healthy" and why:
                detail = f"{detail}: {why}"
            return status, detail, body
        for key in ("ready", "alive", "healthy"):
            if isinstance(body.get(key), bool):
                return ("healthy", "", body) if body[key] else ("unhealthy", f"{key}: false", body)
        keys = ", ".join(sorted(map(str, body))[:8]) or "none"
        return "unhealthy", f"expected a 'status' field, got keys: {keys}", body

    def _hostport(self) -> str:
        url = self._url
        port = url.port or (443 if url.scheme == "https" else 80)
        return f"{url.host}:{port}"

    async def wait_healthy(self, within: float, interval: float = 0.2) -> tuple[HealthReport, float]:
        """Poll until healthy. Returns (the healthy report, seconds it took); raises HealthError
        saying the last status seen and the time spent. The last poll never runs past ``within``."""
        start = time.monotonic()
        polls = 0
        while True:
            remaining = within - (time.monotonic() - start)
            report = await self.check(timeout=max(0.05, min(self.timeout, remaining)))
            polls += 1
            elapsed = time.monotonic() - start
            if report.status == "healthy":
                return report, elapsed
            if elapsed >= within:
                err = HealthError(f"{self.base_url} not healthy within {within:g} s: last status "
                                  f"{report.status!r} after {elapsed:.1f} s ({polls} polls): {report.detail}",
                                  hint="see the service log; is it still starting?")
                err.last = report
                err.elapsed = elapsed
                raise err
            await asyncio.sleep(min(interval, max(0.0, within - elapsed)))


def _body_reason(body: Any) -> str:
    """What an error body says: its status word and its message, when it has them."""
    if not isinstance(body, dict):
        return ""
    parts = []
    if isinstance(body.get("status"), str) and body["status"]:
        parts.append(f"status {body['status']!r}")
    for key in ("message", "error", "detail", "details"):
        v = body.get(key)
        if isinstance(v, str) and v:
            parts.append(f"{key} {v!r}")
            break
    if not parts:
        for key in ("ready", "alive"):
            if isinstance(body.get(key), bool):
                parts.append(f"{key}: {str(body[key]).lower()}")
                break
    return ", ".join(parts)


def _connect_reason(exc: BaseException, hostport: str) -> str:
    """Name the cause: refused, DNS, unreachable network..."""
    import socket

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return f"connection refused by {hostport}"
        if isinstance(e, socket.gaierror):
            return f"cannot resolve host {hostport.rsplit(':', 1)[0]!r} ({hostport})"
        e = e.__cause__ or e.__context__
    text = str(exc)
    if "refused" in text.lower():
        return f"connection refused by {hostport}"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return f"cannot resolve host {hostport.rsplit(':', 1)[0]!r} ({hostport})"
    return f"cannot connect to {hostport}: {text or type(exc).__name__}"

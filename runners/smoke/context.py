"""What a check gets to work with: the host, credentials, clients, SSH, steps, artifacts.

``HostRun`` is shared by the checks of one host in one run (SSH connection, camera pool,
discovered cameras, restart time); ``CheckContext`` is one check attempt's view of it and
owns the clients it opens (closed when the check ends, whatever happened).

Nothing here connects anywhere until a check asks: a check that needs no SSH never opens
SSH, and a host with no ``ssh.host`` simply has none (``require_ssh`` says so as a failure).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runners.config import Checks, Config, Host
from runners.events import CheckStep, Event, HostState, RpcLatency
from runners.smoke.cameras import CameraPool, wait_connected
from runners.smoke.outcome import CheckError, CheckFailed

if TYPE_CHECKING:
    from runners.health import HealthProbe
    from runners.rpc import RpcClient
    from runners.ssh import SshHost, SshPool
    from runners.tokens import Credentials
    from runners.trace import Trace

Emit = Callable[[Event], None]


def default_health_url(rpc_url: str) -> str:
    """The documented default: health on port 8003 of the RPC host."""
    from urllib.parse import urlsplit

    u = urlsplit(rpc_url)
    scheme = "https" if u.scheme == "wss" else "http"
    return f"{scheme}://{u.hostname}:8003"


@dataclass
class HostRun:
    """State shared by the checks of one host during one run."""

    cfg: Config
    host: Host
    run_id: str
    emit: Emit
    artifacts_dir: Path
    ssh_pool: SshPool | None = None
    cameras: CameraPool = field(default_factory=CameraPool)
    connected: list[str] = field(default_factory=list)  # cameras seen CONNECTED since the last restart
    restarted_at: float | None = None  # monotonic time of SMK-1's restart, if it restarted
    restarted_wall: float | None = None  # the same, wall clock (service-log windows)
    traces: list[tuple[str, int, int, Any]] = field(default_factory=list)  # (check, attempt, client n, Trace)
    _ssh: Any = None
    _ssh_error: BaseException | None = None
    _ssh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _discover_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _creds: Any = None

    @property
    def name(self) -> str:
        return self.host.name

    def state(self, component: str, status: str, detail: str = "") -> None:
        self.emit(HostState(host=self.name, component=component, status=status, detail=detail,  # type: ignore[arg-type]
                            run_id=self.run_id))

    def secret_values(self) -> list[str]:
        """The host's token and secret values, for redaction (none if they cannot be read)."""
        try:
            return self.credentials().values()
        except Exception:  # an unreadable secret is reported by the checks, not here
            return []

    def credentials(self) -> Credentials:
        if self._creds is None:
            from runners.tokens import load_credentials

            self._creds = load_credentials(self.host.auth, self.cfg.resolve)  # SecretError names the source
        return self._creds

    async def ssh(self) -> SshHost | None:
        """The host's SSH connection (opened once, reused); None if the host has no SSH.
        A failed connect is remembered so later checks fail fast with the same reason."""
        if not self.host.ssh.host:
            return None
        async with self._ssh_lock:
            if self._ssh is not None:
                return self._ssh
            if self._ssh_error is not None:
                raise self._ssh_error
            from runners.errors import SshError

            if self.ssh_pool is None:
                raise SshError("no SSH pool in this run (engine bug)")
            try:
                self._ssh = await self.ssh_pool.host(self.host, self.cfg.resolve)
            except (SshError, OSError, asyncio.TimeoutError) as e:
                err = e if isinstance(e, SshError) else SshError(f"ssh {self.host.ssh.host}:{self.host.ssh.port}: {e}")
                self._ssh_error = err
                self.state("ssh", "down", str(err))
                raise err from None
            self.state("ssh", "ok", f"{self.host.ssh.user}@{self.host.ssh.host}:{self.host.ssh.port}")
            insecure = getattr(self._ssh, "insecure_reason", "")
            if insecure:  # strict_host_keys = false: say so on the record, every run
                from runners.events import Notice

                self.emit(Notice(level="warning", code="SSH_HOST_KEY_UNCHECKED", host=self.name, message=insecure,
                                 run_id=self.run_id))
            return self._ssh


class CheckContext:
    """One attempt of one check on one host."""

    def __init__(self, run: HostRun, check: str, attempt: int):
        self.run = run
        self.check = check
        self.attempt = attempt
        self.traces: list[Trace] = []  # one per client: request ids are per connection
        self.started_wall = time.time()
        self.window_start = self.started_wall  # service-log window for attribution (SMK-3 widens it)
        self.started = time.monotonic()
        self.expecting = ""  # what the current step expects (used when an error escapes)
        self.last_step = ""
        self.methods: set[str] = set()  # RPC methods this attempt called (for attribution)
        self.ops: set[str] = set()  # non-RPC operations it exercised: snapshot, recording, discovery
        self._clients: list[Any] = []
        self._probes: list[Any] = []

    # -- plain facts ------------------------------------------------------------------

    @property
    def host(self) -> Host:
        return self.run.host

    @property
    def cfg(self) -> Config:
        return self.run.cfg

    @property
    def checks(self) -> Checks:
        return self.run.cfg.checks

    @property
    def dialect(self) -> str:
        return self.run.host.dialect

    @property
    def artifacts_dir(self) -> Path:
        d = self.run.artifacts_dir
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- steps --------------------------------------------------------------------------

    def emit_step(self, message: str, **data: Any) -> None:
        from runners.smoke.text import safe

        message = safe(message, 500, self.run.secret_values())  # steps may quote the service
        self.last_step = message
        self.run.emit(CheckStep(host=self.run.name, check=self.check, message=message, attempt=self.attempt,
                                data=data, run_id=self.run.run_id))

    def expect(self, expecting: str) -> None:
        """Say what the next actions expect: an error escaping them reports it as 'expected'."""
        self.expecting = expecting

    def fail(self, expected: str, seen: str, *, fault: str = "assertion") -> CheckFailed:
        return CheckFailed(expected, seen, fault=fault)

    # -- credentials --------------------------------------------------------------------

    def credentials(self) -> Credentials:
        return self.run.credentials()

    def valid_token(self) -> str:
        """A token the service should accept: minted with the secret, else the configured one."""
        creds = self.credentials()
        a = self.host.auth
        if creds.secret:
            from runners.tokens import mint_token

            return mint_token(creds.secret, role=a.role, user_id=a.user_id)
        if creds.token:
            return creds.token
        raise CheckError("credentials for the host (auth.token_env / token_file, or secret_env / secret_file)",
                         "none configured in [hosts.auth]", fault="config")

    # -- clients ----------------------------------------------------------------------

    def _on_latency(self, method: str, ms: float, ok: bool) -> None:
        self.run.emit(RpcLatency(host=self.run.name, method=method, ms=float(ms), ok=bool(ok), run_id=self.run.run_id))

    def new_client(self, *, close_with_check: bool = True, **overrides: Any) -> RpcClient:
        """A client (not connected). ``close_with_check=False``: the caller closes it, as a
        client living on another loop (``probe_loop``) must be closed there."""
        from runners.rpc import RpcClient
        from runners.trace import Trace

        trace = Trace(host=self.run.name)
        self.traces.append(trace)
        self.run.traces.append((self.check, self.attempt, len(self.traces), trace))
        kw: dict[str, Any] = dict(dialect=self.dialect, host=self.run.name, call_timeout=self.checks.rpc_timeout,
                                  connect_timeout=self.checks.connect_timeout, trace=trace,
                                  on_latency=self._on_latency, reconnect=False)
        kw.update(overrides)
        c = RpcClient(self.host.rpc_url, **kw)
        if close_with_check:
            self._clients.append(c)
        return c

    async def client(self, *, authenticate: bool = True, token: str | None = None, **overrides: Any) -> RpcClient:
        """A connected client (authenticated with a valid token unless told otherwise).
        Closed when the check ends. Reconnects are off: a dropped socket is a finding."""
        c = self.new_client(**overrides)
        await c.connect()
        self.run.state("rpc", "ok", self.host.rpc_url)
        if authenticate:
            await c.authenticate(token or self.valid_token())
        return c

    async def call(self, client: RpcClient, method: str, params: Any = None, **kw: Any) -> Any:
        """``client.call`` that remembers the method (for chaos attribution)."""
        self.methods.add(method)
        return await client.call(method, params, **kw)

    def health_probe(self) -> HealthProbe:
        from runners.health import HealthProbe  # shares one TLS context across probes itself

        url = self.host.health_url or default_health_url(self.host.rpc_url)
        p = HealthProbe(url, dialect=self.dialect, timeout=self.checks.rpc_timeout)
        self._probes.append(p)
        return p

    # -- SSH --------------------------------------------------------------------------

    async def ssh(self) -> SshHost | None:
        return await self.run.ssh()

    async def require_ssh(self, purpose: str) -> SshHost:
        """The SSH connection, or a failure saying that ``purpose`` was not possible."""
        ssh = await self.run.ssh()
        if ssh is None:
            raise CheckFailed(f"{purpose} over SSH", "host has no SSH configured (hosts.ssh.host is empty)",
                              fault="no_ssh")
        return ssh

    # -- cameras ----------------------------------------------------------------------

    async def connected_cameras(self, client: RpcClient) -> list[str]:
        """Cameras CONNECTED on the host, waiting for discovery (``checks.discovery_timeout``)
        if none is known since the last restart. One waiter per host; others reuse its answer."""
        async with self.run._discover_lock:
            if not self.run.connected:
                self.ops.add("discovery")  # this attempt waited on discovery: its faults are ours
                self.methods.add("get_camera_list")
                self.emit_step("waiting for a CONNECTED camera")
                ids, secs, via = await wait_connected(client, self.checks.discovery_timeout, dialect=self.dialect,
                                                      use_events=False, step=self.emit_step)
                self.run.connected = ids
                self.emit_step(f"camera(s) connected: {', '.join(ids)} ({secs:.2f} s, {via})")
            return list(self.run.connected)

    @asynccontextmanager
    async def lease_camera(self, candidates: list[str], *, prefer_last: bool = False):
        """Hold one camera exclusively for a recording (SMK-5, SMK-7's recorder)."""
        order = list(reversed(candidates)) if prefer_last else list(candidates)
        if len(self.run.cameras.busy() & set(order)) == len(order):
            self.emit_step("waiting for a free camera (another check is recording)")
        async with self.run.cameras.lease(order) as cam:
            yield cam

    # -- teardown ------------------------------------------------------------------------

    def requests(self) -> set[tuple[str, str]]:
        """(method, request id) of every request this attempt sent."""
        return {(str(e.get("method")), str(e.get("id"))) for tr in self.traces for e in tr.entries
                if e.get("dir") == "out" and e.get("id") is not None}

    def failed_requests(self) -> list[tuple[str, str, str]]:
        """(method, id, how) of requests that got an error response ("error"), timed out
        ("timeout") or were never answered, e.g. the socket dropped ("no_response")."""
        out: list[tuple[str, str, str]] = []
        for tr in self.traces:
            sent: dict[Any, str] = {}
            answered: dict[Any, str] = {}
            timed_out: set[Any] = set()
            for e in tr.entries:
                d, i = e.get("dir"), e.get("id")
                if d == "out" and i is not None and e.get("kind") == "request":
                    sent[i] = str(e.get("method"))
                elif d == "in" and i is not None and e.get("kind") in ("response", "error"):
                    answered.setdefault(i, e["kind"])
                elif d == "meta" and e.get("kind") == "timeout":
                    timed_out.add(e.get("id"))
            for i, m in sent.items():
                how = "timeout" if i in timed_out else answered.get(i, "no_response")
                if how != "response":
                    out.append((m, str(i), how))
        return out

    def excerpt(self, last: int = 12) -> list[dict[str, Any]]:
        """The last frames of all this attempt's clients, oldest first (redacted)."""
        merged = [dict(e, client=n) for n, tr in enumerate(self.traces, 1) for e in tr.excerpt(last)]
        merged.sort(key=lambda e: e.get("t", 0.0))
        return merged[-last:]

    async def close(self) -> None:
        """Close every client and probe this attempt opened (bounded: never hangs a run)."""
        async def _close_all() -> None:
            for c in self._clients:
                try:
                    await c.close()
                except Exception:  # a broken socket is already reported by the check
                    pass
            for p in self._probes:
                try:
                    await p.aclose()
                except Exception:
                    pass

        try:
            await asyncio.wait_for(_close_all(), timeout=5.0)
        except (asyncio.TimeoutError, Exception):
            pass
        self._clients.clear()
        self._probes.clear()

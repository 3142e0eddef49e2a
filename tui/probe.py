"""Host health for the stand-up: SSH, RPC, the health endpoint and cameras, per host,
every ``interval`` seconds. Emits ``runners.events.HostState`` (the same events the smoke
engine emits), never raises for a host fault: a fault is a ``down`` state with a reason.

Heavy I/O libraries are imported in a thread first, so the UI loop never stalls on them."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence

from runners.config import Config, Host
from runners.events import HostState

HEAVY = ("httpx", "websockets", "asyncssh")
RETRY_INTERVAL = 3.0  # s: how soon a host with a component not ok is probed again


async def _preimport() -> None:
    def load() -> None:
        for name in HEAVY:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # the probe that needs it reports the failure itself

    await asyncio.to_thread(load)


async def probe_health(host: Host, timeout: float) -> HostState:
    if not host.health_url:
        return HostState(host=host.name, component="health", status="unknown", detail="no health_url configured")
    from runners.health import HealthProbe

    async with HealthProbe(host.health_url, dialect=host.dialect, timeout=timeout) as probe:
        rep = await probe.check()
    status = {"healthy": "ok", "degraded": "degraded"}.get(rep.status, "down")
    return HostState(host=host.name, component="health", status=status, detail=rep.summary())


async def probe_rpc(cfg: Config, host: Host, timeout: float) -> list[HostState]:
    """Connect, authenticate when credentials are configured, list cameras."""
    from runners.errors import DryRunError
    from runners.rpc import RpcClient
    from runners.tokens import load_credentials, mint_token

    name = host.name
    try:
        creds = load_credentials(host.auth, cfg.resolve)
        token = creds.token or (mint_token(creds.secret, role=host.auth.role, user_id=host.auth.user_id, ttl=300)
                                if creds.secret else None)
        async with RpcClient(host.rpc_url, dialect=host.dialect, host=name, call_timeout=timeout,
                             connect_timeout=timeout, reconnect=False) as rpc:
            if token is None:
                return [HostState(host=name, component="rpc", status="ok", detail="connected (no credentials)"),
                        HostState(host=name, component="cameras", status="unknown", detail="no credentials")]
            await rpc.authenticate(token)
            cams = await rpc.call("get_camera_list")
    except DryRunError as e:
        return [HostState(host=name, component="rpc", status="down", detail=str(e)),
                HostState(host=name, component="cameras", status="unknown", detail="RPC down")]
    total = int(cams.get("total", len(cams.get("cameras", [])))) if isinstance(cams, dict) else 0
    connected = int(cams.get("connected", total)) if isinstance(cams, dict) else 0
    cam_status = "ok" if connected > 0 else "down"
    if connected and connected < total:
        cam_status = "degraded"
    return [HostState(host=name, component="rpc", status="ok", detail="authenticated"),
            HostState(host=name, component="cameras", status=cam_status, detail=f"{connected}/{total} connected")]


async def probe_ssh(cfg: Config, host: Host, pool, timeout: float) -> HostState:
    if not host.ssh.host:
        return HostState(host=host.name, component="ssh", status="unknown", detail="no ssh.host configured")
    from runners.errors import DryRunError

    try:
        h = await pool.host(host, cfg.resolve)
        res = await h.run("true", timeout=timeout)
    except DryRunError as e:
        return HostState(host=host.name, component="ssh", status="down", detail=str(e))
    if res.exit_status != 0:
        return HostState(host=host.name, component="ssh", status="degraded",
                         detail=f"`true` exited {res.exit_status}")
    detail = "" if host.ssh.strict_host_keys else "host-key checking OFF"
    return HostState(host=host.name, component="ssh", status="ok" if host.ssh.strict_host_keys else "degraded",
                     detail=detail)


async def probe_host(cfg: Config, host: Host, pool, timeout: float) -> list[HostState]:
    results = await asyncio.gather(
        probe_ssh(cfg, host, pool, timeout), probe_health(host, timeout), probe_rpc(cfg, host, timeout),
        return_exceptions=True)
    out: list[HostState] = []
    for comp, r in zip(("ssh", "health", "rpc"), results):
        if isinstance(r, BaseException):
            if isinstance(r, asyncio.CancelledError):
                raise r
            # a probe bug or an unexpected library error is still just this host's state
            out.append(HostState(host=host.name, component=comp, status="down",
                                 detail=f"{type(r).__name__}: {r}"))
        elif isinstance(r, list):
            out.extend(r)
        else:
            out.append(r)
    return out


async def probe_once(cfg: Config, pool, emit: Callable[[list[HostState]], None], *, timeout: float = 5.0,
                     hosts: Sequence[Host] | None = None) -> set[str]:
    """Probe ``hosts`` (default: all); returns the names of those with any component not ok."""
    sem = asyncio.Semaphore(cfg.checks.max_parallel_hosts)
    not_ok: set[str] = set()

    async def one(host: Host) -> None:
        async with sem:
            states = await probe_host(cfg, host, pool, timeout)
        if any(s.status != "ok" for s in states):
            not_ok.add(host.name)
        emit(states)

    await asyncio.gather(*(one(h) for h in (cfg.hosts if hosts is None else hosts)))
    return not_ok


async def probe_forever(cfg: Config, emit: Callable[[list[HostState]], None], *, pool=None,
                        interval: float = 15.0, timeout: float = 5.0, retry: float = RETRY_INTERVAL) -> None:
    """Every host every ``interval`` s; a host with a component not ok again every ``retry``
    s in between, so a service that was still starting (degraded until its cameras are
    discovered) shows as up within seconds, not at the next full round. ``pool``: an SshPool
    to reuse (the App's, shared with the log follower); else its own."""
    await _preimport()
    own = pool is None
    if own:
        from runners.ssh import SshPool

        pool = SshPool(max_handshakes=min(10, cfg.checks.max_parallel_hosts), connect_timeout=timeout)
    loop = asyncio.get_running_loop()
    try:
        not_ok: set[str] = set()
        next_full = loop.time()
        while True:
            if loop.time() >= next_full:
                next_full = loop.time() + interval
                not_ok = await probe_once(cfg, pool, emit, timeout=timeout)
            elif not_ok:
                again = [h for h in cfg.hosts if h.name in not_ok]
                not_ok = await probe_once(cfg, pool, emit, timeout=timeout, hosts=again)
            wait = next_full - loop.time()
            await asyncio.sleep(max(0.0, min(wait, retry) if not_ok else wait))
    finally:
        if own:
            await pool.close()

"""Collect the live environment matrix: every camera host over SSH and RPC, plus the lab
machine the console runs on (seed 000 A2; compared with the freeze by ``record.envfreeze``).

Per host, over one reused SSH connection: ``uname -r`` / ``uname -m`` (kernel, arch),
``/etc/os-release`` (OS), ``python3 --version``, ``mediamtx --version``, ``ls /dev/video*``;
over RPC: ``get_server_info`` (service version) and ``get_camera_list`` (camera ids).
Hosts are probed concurrently (bounded by ``checks.max_parallel_hosts``). A part that
cannot be reached is recorded under ``errors`` (``{"ssh": "...", "rpc": "..."}``), never
raised; a host without an SSH target has its SSH facts left empty with a note.

RPC calls are retried (up to 3 attempts) because a transient fault (a dropped socket, an
injected delay) must not read as environment drift; camera ids are read once discovery has
settled (``get_system_status``, at most ``checks.discovery_timeout``), so a probe right
after a service restart does not report cameras as gone.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import platform
import re
from typing import Any

from runners.config import Config, Host

RPC_ATTEMPTS = 3
SSH_TIMEOUT = 15.0


def parse_os_release(text: str) -> str:
    """PRETTY_NAME (else NAME VERSION) of an /etc/os-release."""
    vals: dict[str, str] = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            vals[k.strip()] = v.strip().strip('"').strip("'")
    return vals.get("PRETTY_NAME") or " ".join(x for x in (vals.get("NAME"), vals.get("VERSION")) if x)


def parse_python_version(text: str) -> str:
    m = re.search(r"Python\s+(\d+\.\d+(?:\.\d+)?\S*)", text)
    return m.group(1) if m else ""


def parse_mediamtx_version(text: str) -> str:
    m = re.search(r"v?\d+\.\d+(?:\.\d+)?\S*", text)
    return m.group(0) if m else text.strip().splitlines()[0] if text.strip() else ""


def parse_video_devices(text: str) -> list[str]:
    return sorted({tok for tok in text.split() if re.fullmatch(r"/dev/video\d+", tok)})


def lab_facts() -> dict[str, Any]:
    """The lab machine: where the console runs."""
    from importlib.metadata import PackageNotFoundError, version

    os_name = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            os_name = parse_os_release(f.read())
    except OSError:
        pass
    try:
        console = version("dryrun-console")
    except PackageNotFoundError:
        console = "0+unknown"
    return {"os": os_name or f"{platform.system()} {platform.release()}", "kernel": platform.release(),
            "arch": platform.machine(), "python": platform.python_version(), "console": console,
            "hostname": platform.node()}


async def _ssh_facts(cfg: Config, host: Host, pool: Any, out: dict[str, Any]) -> None:
    from runners.errors import DryRunError

    if not host.ssh.host:
        out.setdefault("notes", {})["ssh"] = "no SSH target configured: OS, kernel, Python, MediaMTX not collected"
        return
    try:
        sh = await pool.host(host, cfg.resolve)

        async def run(cmd: str) -> str:
            r = await sh.run(cmd, timeout=SSH_TIMEOUT)
            # python3 < 3.4 prints its version on stderr
            return (r.stdout or "") + ("\n" + r.stderr if r.exit_status == 0 and not r.stdout.strip() else "")

        out["kernel"] = (await run("uname -r")).strip()
        out["arch"] = (await run("uname -m")).strip()
        out["os"] = parse_os_release(await run("cat /etc/os-release"))
        out["python"] = parse_python_version(await run("python3 --version"))
        out["mediamtx"] = parse_mediamtx_version(await run("mediamtx --version"))
        out["video_devices"] = parse_video_devices(await run("ls -1 /dev/video* 2>/dev/null"))
    except DryRunError as e:
        out.setdefault("errors", {})["ssh"] = str(e)
    except (OSError, asyncio.TimeoutError) as e:
        out.setdefault("errors", {})["ssh"] = f"{type(e).__name__}: {e}"


async def _discovery_settled(c: Any, timeout: float) -> None:
    """Just after a (re)start the service is still discovering cameras: a short list then is
    not drift. Wait until ``get_system_status`` says discovery is over (or, on a service
    without that method, until the camera list is non-empty), at most ``timeout`` seconds."""
    from runners.errors import RpcError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    use_status = True
    while loop.time() < deadline:
        if use_status:
            try:
                st = await c.call("get_system_status")
            except RpcError:
                use_status = False
                continue
            if not isinstance(st, dict) or (st.get("status") == "ready" and not st.get("discovery_active")):
                return
        else:
            cams = await c.call("get_camera_list")
            if not isinstance(cams, dict) or cams.get("cameras"):
                return
        await asyncio.sleep(0.2)


async def _rpc_facts(cfg: Config, host: Host, out: dict[str, Any]) -> None:
    from runners.errors import DryRunError, RpcError
    from runners.rpc import RpcClient
    from runners.tokens import load_credentials, mint_token

    last = ""
    for attempt in range(RPC_ATTEMPTS):
        try:
            creds = load_credentials(host.auth, cfg.resolve)
            token = creds.token or (mint_token(creds.secret, role="admin", user_id=host.auth.user_id)
                                    if creds.secret else None)
            async with RpcClient(host.rpc_url, dialect=host.dialect, host=host.name,
                                 call_timeout=cfg.checks.rpc_timeout, connect_timeout=cfg.checks.connect_timeout,
                                 reconnect=False) as c:
                if token:
                    await c.authenticate(token)
                info = await c.call("get_server_info")
                await _discovery_settled(c, cfg.checks.discovery_timeout)
                cams = await c.call("get_camera_list")
            version = ""
            if isinstance(info, dict):
                version = str(info.get("version") or info.get("server_version") or "")
                name = str(info.get("name") or "")
                if name and version and name not in version:
                    version = f"{name} {version}"
            ids = []
            for cam in (cams or {}).get("cameras", []) if isinstance(cams, dict) else []:
                if isinstance(cam, dict) and cam.get("device") is not None:
                    ids.append(str(cam["device"]))
            out["service_version"] = version
            out["cameras"] = sorted(ids)
            out.get("errors", {}).pop("rpc", None)
            return
        except RpcError as e:
            last = str(e)
            if e.meaning in ("auth_required", "auth_failed", "permission_denied", "insufficient_permissions"):
                break  # retrying will not help
        except DryRunError as e:
            last = str(e)
        except (OSError, asyncio.TimeoutError) as e:
            last = f"{type(e).__name__}: {e}"
        await asyncio.sleep(0.2 * (attempt + 1))
    out.setdefault("errors", {})["rpc"] = last


async def collect_env(cfg: Config) -> dict:
    """The live environment matrix (see the module docstring)."""
    from runners.ssh import SshPool

    sem = asyncio.Semaphore(max(1, cfg.checks.max_parallel_hosts))
    hosts: dict[str, dict[str, Any]] = {}

    async with SshPool(max_handshakes=10, connect_timeout=cfg.checks.connect_timeout) as pool:
        async def one(h: Host) -> None:
            out: dict[str, Any] = {"dialect": h.dialect}
            async with sem:
                await asyncio.gather(_ssh_facts(cfg, h, pool, out), _rpc_facts(cfg, h, out))
            if not out.get("errors"):
                out.pop("errors", None)
            hosts[h.name] = out

        await asyncio.gather(*(one(h) for h in cfg.hosts))
    return {
        "collected_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "baseline": cfg.sprint.baseline,
        "lab": lab_facts(),
        "hosts": {k: hosts[k] for k in sorted(hosts)},
    }

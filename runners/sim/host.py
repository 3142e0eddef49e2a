"""One simulated camera host: the camera service (RPC + health), its logs, and an SSH server.

Everything listens on 127.0.0.1, ephemeral ports. The host's filesystem is a folder
``root`` standing for ``/``::

    root/etc/os-release, etc/hostname, proc/version
    root/opt/camera-service/{recordings,snapshots,logs}
    root/var/log/camera-service.log        (current; legacy: opt/camera-service/logs/camera-service.log)
    root/var/log/mediamtx.log
    root/home/<user>, root/tmp

The JWT secret is random per start, written 0600 to ``state_dir/jwt_secret`` and never
printed; the console's config names that file (``auth.secret_file``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runners.config import Auth, Host, LogSource, SshTarget
from runners.sim.journal import Journal
from runners.sim.servicelog import ServiceLog
from runners.sim.shell import HostInfo, ShellContext
from runners.sim.sshd import SimSshd

DIALECTS = ("current", "legacy")
SERVICE_LOG = {"current": "/var/log/camera-service.log", "legacy": "/opt/camera-service/logs/camera-service.log"}
MEDIAMTX_LOG = "/var/log/mediamtx.log"
RECORDINGS_DIR = "/opt/camera-service/recordings"
SNAPSHOTS_DIR = "/opt/camera-service/snapshots"
RESTART_COMMAND = "sudo systemctl restart camera-service"
STATE_MARKER = ".dryrun-sim-host"  # a folder holding this is ours to wipe and re-create

OS_RELEASE = {
    "current": (
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
        'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n'
        'HOME_URL="https://www.ubuntu.com/"\nSUPPORT_URL="https://help.ubuntu.com/"\n'
        'BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"\nUBUNTU_CODENAME=jammy\n'
    ),
    "legacy": (
        'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\n'
        'VERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\nID=debian\n'
        'HOME_URL="https://www.debian.org/"\nSUPPORT_URL="https://www.debian.org/support"\n'
        'BUG_REPORT_URL="https://bugs.debian.org/"\n'
    ),
}


def host_info(dialect: str, service_version: str) -> HostInfo:
    if dialect == "legacy":
        return HostInfo(kernel="5.10.0-28-amd64", kernel_build="#1 SMP Debian 5.10.209-2 (2024-01-31)",
                        python="3.9.2", mediamtx="v1.5.1",
                        service_version=f"mediamtx-camera-service {service_version}",
                        lsb_id="Debian", lsb_description="Debian GNU/Linux 11 (bullseye)", lsb_release="11",
                        lsb_codename="bullseye")
    return HostInfo(service_version=f"camera-service version {service_version} (go1.22.5 linux/amd64)")


@dataclass(frozen=True)
class SimHostSpec:
    name: str
    dialect: str = "current"
    cameras: int = 2
    discovery_delay: float = 1.0
    chaos: str = "none"
    seed: int = 0
    user: str = "operator"  # the SSH login the simulator accepts
    # Recordings: real fragmented MP4 at this rate and size (see MEDIA_PROFILES).
    recording_fps: int = 15
    recording_size: tuple[int, int] = (320, 240)

    def check(self) -> None:
        import re

        from runners.sim.chaos import PROFILES

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", self.name):
            raise ValueError(f"host name must be 1-63 letters, digits, '.', '_' or '-', got {self.name!r}")
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect must be 'current' or 'legacy', got {self.dialect!r}")
        if not isinstance(self.cameras, int) or not 0 <= self.cameras <= 64:
            raise ValueError(f"cameras must be 0..64, got {self.cameras!r}")
        if not isinstance(self.discovery_delay, (int, float)) or not 0 <= self.discovery_delay <= 3600:
            raise ValueError(f"discovery_delay must be 0..3600 seconds, got {self.discovery_delay!r}")
        if self.chaos not in PROFILES:
            raise ValueError(f"chaos must be one of {', '.join(PROFILES)}, got {self.chaos!r}")
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", self.user):
            raise ValueError(f"user must be a POSIX login name, got {self.user!r}")


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # 0600 from birth
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, path)


async def _close_server(server) -> None:
    if server is None:
        return
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), 5)
    except asyncio.TimeoutError:
        pass


class SimHost:
    """CameraService + RPC + health + SSH for one host, all on 127.0.0.1."""

    def __init__(self, spec: SimHostSpec, state_dir: Path, *, client_key: Path | None = None):
        spec.check()
        self.spec = spec
        self.name = spec.name
        self.state_dir = Path(state_dir).absolute()
        self.root = self.state_dir / "root"
        self.secret_file = self.state_dir / "jwt_secret"
        self.client_key = Path(client_key).absolute() if client_key else self.state_dir / "id_ed25519"
        self.known_hosts = self.state_dir / "known_hosts"
        self.service_log_path = SERVICE_LOG[spec.dialect]
        self.rpc_port = self.health_port = self.ssh_port = 0
        self.service = None
        self.journal = Journal(hostname=spec.name)
        self.log: ServiceLog | None = None
        self.mediamtx_log: ServiceLog | None = None
        self.sshd: SimSshd | None = None
        self._rpc_server = None
        self._health_server = None
        self._started = False

    # ------------------------------------------------------------------ layout

    def local(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def _layout(self) -> None:
        marker = self.state_dir / STATE_MARKER
        if self.root.exists() and marker.exists():
            # "Service starts from clean config": no recordings or logs left from the last run.
            shutil.rmtree(self.root)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text("state of a `dryrun sim` host; safe to delete when the simulator is stopped\n")
        for d in ("opt/camera-service/recordings", "opt/camera-service/snapshots", "opt/camera-service/logs",
                  "var/log", "etc", "proc", "tmp", f"home/{self.spec.user}"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "etc/os-release").write_text(OS_RELEASE[self.spec.dialect])
        (self.root / "etc/hostname").write_text(self.spec.name + "\n")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            return
        from runners.sim.chaos import Chaos
        from runners.sim.health_server import serve_health
        from runners.sim.rpc_server import serve_rpc
        from runners.sim.service import CameraService

        spec = self.spec
        self._layout()
        secret = secrets.token_urlsafe(32)
        _write_secret(self.secret_file, secret)
        self.log = ServiceLog(self.local(self.service_log_path), fmt="plain" if spec.dialect == "current" else "json",
                              journal=self.journal, unit="camera-service")
        self.mediamtx_log = _MediaMtxLog(self.local(MEDIAMTX_LOG), self.journal)
        chaos = Chaos(spec.chaos, spec.seed)
        self.service = CameraService(name=spec.name, dialect=spec.dialect, root=self.root, secret=secret,
                                     cameras=spec.cameras, discovery_delay=spec.discovery_delay, chaos=chaos,
                                     log=self.log, recording_fps=spec.recording_fps,
                                     recording_size=spec.recording_size)
        info = host_info(spec.dialect, self.service.version)
        (self.root / "proc/version").write_text(
            f"Linux version {info.kernel} (buildd@lab) (gcc (GCC) 12.2.0) {info.kernel_build}\n")
        try:
            self._rpc_server, self.rpc_port = await serve_rpc(self.service)
            self._health_server, self.health_port = await serve_health(self.service)
            self.mediamtx_log.startup()
            ctx = ShellContext(root=self.root, hostname=spec.name, user=spec.user, journal=self.journal, info=info,
                               restart=self._restart_service, service_state=self._service_state,
                               camera_devices=self._camera_devices)
            self.sshd = SimSshd(ctx, key_dir=self.state_dir, client_key_path=self.client_key,
                                known_hosts_path=self.known_hosts)
            await self.sshd.start()
            self.ssh_port = self.sshd.port
        except BaseException:
            await self.stop()
            raise
        self._started = True

    async def stop(self) -> None:
        """Stop everything (idempotent): SSH first (ends log follows), then the service, then its servers."""
        if self.sshd is not None:
            await self.sshd.stop()
        if self.service is not None:
            await self.service.close()
        await _close_server(self._rpc_server)
        await _close_server(self._health_server)
        self._rpc_server = self._health_server = None
        for log in (self.log, self.mediamtx_log):
            if log is not None:
                log.close()
        self._started = False

    async def restart_service(self) -> None:
        await self._restart_service()

    async def _restart_service(self) -> None:
        assert self.service is not None
        if self.mediamtx_log is not None:
            self.mediamtx_log.client_gone()
        await self.service.restart()

    def _service_state(self) -> str:
        state = getattr(self.service, "state", "stopped")
        # systemd calls a Type=simple unit "active" once its process runs, even while it discovers.
        return {"running": "active", "starting": "active", "restarting": "activating"}.get(state, "inactive")

    def _camera_devices(self) -> list[str]:
        """Device nodes present: every camera except one unplugged (discovered, then disconnected)."""
        if self.service is None:
            return [f"/dev/video{i}" for i in range(self.spec.cameras)]
        devs = []
        for i, cam in enumerate(self.service.cameras()):
            if cam.get("status") == "CONNECTED" or not cam.get("discovered"):
                devs.append(f"/dev/video{i}")
        return devs

    # ------------------------------------------------------------------ config

    @property
    def rpc_url(self) -> str:
        return f"ws://127.0.0.1:{self.rpc_port}/ws"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    def host_config(self, *, relative_to: Path | None = None) -> Host:
        """The console's ``[[hosts]]`` entry for this sim. File paths are absolute, or relative
        to ``relative_to`` (the config file's folder) when given."""
        if not self._started:
            raise RuntimeError(f"sim host {self.name} is not started (ports are not known yet)")

        def p(path: Path) -> str:
            if relative_to is None:
                return str(path)
            return os.path.relpath(path, Path(relative_to).absolute())

        fmt = "plain" if self.spec.dialect == "current" else "json"
        return Host(
            name=self.name,
            rpc_url=self.rpc_url,
            health_url=self.health_url,
            dialect=self.spec.dialect,  # type: ignore[arg-type]
            restart_command=RESTART_COMMAND,
            recordings_dir=RECORDINGS_DIR,
            snapshots_dir=SNAPSHOTS_DIR,
            ssh=SshTarget(host="127.0.0.1", port=self.ssh_port, user=self.spec.user, key=p(self.client_key),
                          known_hosts=p(self.known_hosts), strict_host_keys=True),
            auth=Auth(secret_file=p(self.secret_file), role="admin"),
            logs=(
                LogSource(name="camera-service", kind="file", path=self.service_log_path, format=fmt),
                LogSource(name="mediamtx", kind="journal", unit="mediamtx", format="plain"),
            ),
        )

    def ssh_command(self, command: str = "uname -a", *, relative_to: Path | None = None) -> str:
        h = self.host_config(relative_to=relative_to)
        return (f"ssh -i {h.ssh.key} -p {h.ssh.port} -o UserKnownHostsFile={h.ssh.known_hosts} "
                f"-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes {h.ssh.user}@127.0.0.1 {shlex.quote(command)}")

    async def __aenter__(self) -> SimHost:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()


class _MediaMtxLog:
    """MediaMTX's own log lines (its format: ``2026/11/21 10:00:00 INF [RTSP] …``) to a file and the journal."""

    LEVELS = {"INF": "INFO", "WAR": "WARNING", "ERR": "ERROR", "DEB": "DEBUG"}

    def __init__(self, path: Path, journal: Journal):
        self._log = ServiceLog(path, journal=journal, unit="mediamtx")

    def line(self, level: str, text: str) -> None:
        stamp = datetime.now().strftime("%Y/%m/%d %H:%M:%S")
        self._log.write_raw(f"{stamp} {level} {text}", level=self.LEVELS.get(level, "INFO"))

    def startup(self) -> None:
        self.line("INF", "MediaMTX v1.9.3")
        self.line("INF", "configuration loaded from /etc/mediamtx/mediamtx.yml")
        self.line("INF", "[RTSP] listener opened on :8554 (TCP), :8000 (UDP/RTP), :8001 (UDP/RTCP)")
        self.line("INF", "[HLS] listener opened on :8888")
        self.line("INF", "[WebRTC] listener opened on :8889 (HTTP), :8189 (ICE/UDP)")
        self.line("INF", "[API] listener opened on 127.0.0.1:9997")

    def client_gone(self) -> None:
        self.line("INF", "[API] [conn 127.0.0.1:41822] closed: camera-service restarting")

    def close(self) -> None:
        self._log.close()

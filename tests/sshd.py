"""SSH servers for tests and benchmarks: a REAL OpenSSH ``sshd`` and a small asyncssh server.

``OpenSshServer`` runs ``/usr/sbin/sshd -D -e -f CONFIG -p PORT`` on 127.0.0.1 as the current
user, with a generated host key, an authorised client key and a known_hosts file, the way
asyncssh's own test-suite does it. The benchmark uses it without pytest.

``AsyncSshServer`` is an in-process asyncssh server with hooks a real sshd cannot offer:
it counts handshakes in flight (and can hold them), drops connections on demand and
reports when a channel is closed by the client.

Fixtures (registered in ``tests/conftest.py``):
    ssh_keys       session: client key + helpers shared by every server
    sshd           session: a real sshd (internal-sftp, no TCP forwarding)
    sshd_bastion   session: a second real sshd with ``AllowTcpForwarding yes`` (a ProxyJump host)
    asyncssh_server  function: an ``AsyncSshServer``

If ``/usr/sbin/sshd`` is missing the real-sshd tests are skipped, unless
``DRYRUN_REQUIRE_SSHD=1`` (set by ``.ci/run`` once it installed openssh-server): then they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import os
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from runners.config import Host, SshTarget

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # OpenSSH's privilege-separation chroot; sshd refuses to start without it
DUMMY_RPC = "ws://127.0.0.1:9/ws"  # host_config() needs an rpc_url; nothing listens there


class SshdUnavailable(RuntimeError):
    """No usable OpenSSH server on this machine (the reason says why)."""


def sshd_missing_reason() -> str:
    """Why a real sshd cannot be used here, or "" if it can."""
    if not (SSHD.is_file() and os.access(SSHD, os.X_OK)):
        return f"{SSHD} not found (install openssh-server; .ci/run does)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found (install openssh-client)"
    return ""


def require_sshd() -> None:
    """Skip (or, with DRYRUN_REQUIRE_SSHD=1, fail) the calling test/fixture if sshd is unusable."""
    reason = sshd_missing_reason()
    if not reason:
        return
    if os.environ.get("DRYRUN_REQUIRE_SSHD") == "1":
        pytest.fail(f"real-sshd tests required (DRYRUN_REQUIRE_SSHD=1) but {reason}", pytrace=False)
    pytest.skip(f"real-sshd tests skipped: {reason}")


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago (callers retry on a bind race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "dryrun-test") -> Path:
    """A fresh unencrypted ed25519 key pair at ``path`` / ``path.pub``."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )
    return path


def known_hosts_line(host: str, port: int, pub_path: Path) -> str:
    """The known_hosts line OpenSSH writes for ``host:port`` and this public key."""
    algo, blob = pub_path.read_text().split()[:2]
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {algo} {blob}\n"


@dataclasses.dataclass
class ClientKeys:
    """The client side shared by all test servers: one key, authorised everywhere."""

    dir: Path
    key_path: Path
    user: str

    @classmethod
    def create(cls, folder: Path) -> ClientKeys:
        folder.mkdir(parents=True, exist_ok=True)
        key = keygen(folder / "id_ed25519", "dryrun-client")
        return cls(dir=folder, key_path=key, user=getpass.getuser())

    @property
    def pub_path(self) -> Path:
        return self.key_path.with_name(self.key_path.name + ".pub")


class OpenSshServer:
    """A real OpenSSH server on 127.0.0.1 (``start()`` / ``stop()``, or a context manager).

    ``root`` is a scratch folder for test files (sshd serves the whole filesystem, as a real
    host does; tests put their files under ``root``). ``known_hosts`` trusts exactly this
    server; ``key_path`` is the authorised client key."""

    def __init__(self, folder: Path, keys: ClientKeys, *, name: str = "sshd",
                 allow_tcp_forwarding: bool = False, log_level: str = "VERBOSE",
                 extra_config: str = ""):
        self.name = name
        self.dir = folder
        self.keys = keys
        self.allow_tcp_forwarding = allow_tcp_forwarding
        self.log_level = log_level
        self.extra_config = extra_config
        self.root = folder / "root"
        self.host_key = folder / "ssh_host_ed25519_key"
        self.config_path = folder / "sshd_config"
        self.log_path = folder / "sshd.log"
        self.known_hosts = folder / "known_hosts"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    # -- the small API tests use ---------------------------------------------------------
    @property
    def key_path(self) -> Path:
        return self.keys.key_path

    @property
    def user(self) -> str:
        return self.keys.user

    @property
    def known_hosts_entry(self) -> str:
        return known_hosts_line("127.0.0.1", self.port, self.host_key.with_suffix(".pub"))

    @property
    def jump_spec(self) -> str:
        """This server as a ``proxy_jump`` value (``user@127.0.0.1:port``)."""
        return f"{self.user}@127.0.0.1:{self.port}"

    def host_config(self, name: str = "sshd-host", **ssh: Any) -> Host:
        """A ``runners.config.Host`` whose ``[ssh]`` points here; ``ssh`` overrides SshTarget fields."""
        target = dict(host="127.0.0.1", port=self.port, user=self.user, key=str(self.key_path),
                      known_hosts=str(self.known_hosts), strict_host_keys=True)
        target.update(ssh)
        return Host(name=name, rpc_url=DUMMY_RPC, ssh=SshTarget(**target))

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle ---------------------------------------------------------------------
    def _write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(exist_ok=True)
        if not self.host_key.exists():
            keygen(self.host_key, f"{self.name}-host")
        authorized = self.dir / "authorized_keys"
        authorized.write_text(self.keys.pub_path.read_text())
        forwarding = "yes" if self.allow_tcp_forwarding else "no"
        # Absolute paths everywhere: sshd re-execs itself and chdirs to /.
        self.config_path.write_text(
            f"""\
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding {forwarding}
PermitTTY yes
MaxStartups 64:30:128
LogLevel {self.log_level}
Subsystem sftp internal-sftp
{self.extra_config}
"""
        )

    def start(self, timeout: float = 10.0) -> OpenSshServer:
        reason = sshd_missing_reason()
        if reason:
            raise SshdUnavailable(reason)
        if not PRIVSEP_DIR.is_dir():
            # Not root: it may not be needed (and `sshd -t` below says so if it is).
            with contextlib.suppress(OSError):
                PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._write_files()
        # Check the config first: a typo shows up as sshd's own message, not as a timeout.
        test = subprocess.run([str(SSHD), "-t", "-f", str(self.config_path)], capture_output=True, text=True)
        if test.returncode != 0:
            raise SshdUnavailable(f"sshd -t rejected {self.config_path}: {test.stderr.strip()}")
        last = ""
        for _attempt in range(5):  # free_port() can race with another process: retry on bind failure
            self.port = free_port()
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
            try:
                self.proc = subprocess.Popen(
                    [str(SSHD), "-D", "-e", "-f", str(self.config_path), "-p", str(self.port)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                )
            finally:
                log.close()
            if self._wait_ready(timeout):
                return self
            last = self.log_text()[-2000:]
            self.stop()
            if "Bind to port" not in last and "Address already in use" not in last:
                break
        raise SshdUnavailable(f"sshd on 127.0.0.1:{self.port} did not start; its log:\n{last}")

    def _wait_ready(self, timeout: float) -> bool:
        """True once the server answers with an SSH banner; False if it died or timed out."""
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return True
            except OSError:
                time.sleep(0.02)  # sshd gives no readiness signal; poll its port briefly
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        # sshd was started in its own session: end the listener and any session children
        # it forked (only processes of that group, all started by this fixture).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(5)

    def __enter__(self) -> OpenSshServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_lab(folder: Path) -> tuple[ClientKeys, OpenSshServer]:
    """A client key plus a started sshd whose known_hosts trusts it (used by the benchmark)."""
    keys = ClientKeys.create(folder / "client")
    server = OpenSshServer(folder / "sshd", keys).start()
    server.known_hosts.write_text(server.known_hosts_entry)
    return keys, server


# ------------------------------------------------------------------------ pytest fixtures

@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory) -> ClientKeys:
    require_sshd()
    return ClientKeys.create(tmp_path_factory.mktemp("ssh-client"))


@pytest.fixture(scope="session")
def sshd(ssh_keys, tmp_path_factory):
    """A real OpenSSH sshd on 127.0.0.1 (session-wide: tests must not change its files)."""
    server = OpenSshServer(tmp_path_factory.mktemp("sshd"), ssh_keys, name="target")
    try:
        server.start()
    except SshdUnavailable as e:
        if os.environ.get("DRYRUN_REQUIRE_SSHD") == "1":
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))
    server.known_hosts.write_text(server.known_hosts_entry)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_bastion(sshd, ssh_keys, tmp_path_factory):
    """A second real sshd that allows TCP forwarding: a ProxyJump bastion in front of ``sshd``.

    Its ``known_hosts`` trusts both servers; ``log_text()`` records the forwarded channels
    (LogLevel DEBUG1 logs ``server_request_direct_tcpip ... target HOST port N``)."""
    server = OpenSshServer(tmp_path_factory.mktemp("bastion"), ssh_keys, name="bastion",
                           allow_tcp_forwarding=True, log_level="DEBUG1")
    try:
        server.start()
    except SshdUnavailable as e:
        if os.environ.get("DRYRUN_REQUIRE_SSHD") == "1":
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))
    server.known_hosts.write_text(server.known_hosts_entry + sshd.known_hosts_entry)
    yield server
    server.stop()


# ------------------------------------------------------------------- asyncssh test server

class AsyncSshServer:
    """An in-process asyncssh server on 127.0.0.1:0 with test hooks.

    Commands (the whole command line, split with shlex):
        echo WORDS...      print WORDS, exit 0
        err WORDS...       print WORDS on stderr, exit 3
        exit N             exit with status N
        lines N            print N numbered lines, exit 0
        forever            print a line, then wait until the client closes the channel
    Anything else: ``unknown command`` on stderr, exit 127.

    ``hold_auth(n)`` makes every authentication wait until ``n`` handshakes are in flight
    (or no more are coming), so a test sees the client's real handshake concurrency;
    ``max_in_flight`` is the most handshakes seen in flight at once."""

    def __init__(self, folder: Path):
        import asyncssh

        self.dir = folder
        self.root = folder / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.key_path = folder / "id_ed25519"
        self.client_key.write_private_key(str(self.key_path))
        self.known_hosts = folder / "known_hosts"
        self.port = 0
        self.user = getpass.getuser()
        self.server: Any = None
        self.connections: list[Any] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.handshakes = 0
        self.expected_handshakes = 0
        self.hold_until = 0
        self.closed_channels = 0
        self.channel_closed = asyncio.Event()
        self.started = asyncio.Event()  # a "forever" command is running
        self._event = asyncio.Event()

    @property
    def known_hosts_entry(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.export_public_key().decode().strip()}\n"

    def host_config(self, name: str = "asyncssh-host", **ssh: Any) -> Host:
        target = dict(host="127.0.0.1", port=self.port, user=self.user, key=str(self.key_path),
                      known_hosts=str(self.known_hosts), strict_host_keys=True)
        target.update(ssh)
        return Host(name=name, rpc_url=DUMMY_RPC, ssh=SshTarget(**target))

    def hold_auth(self, until_in_flight: int, expected_total: int) -> None:
        self.hold_until = until_in_flight
        self.expected_handshakes = expected_total

    def _changed(self) -> None:
        # Wake every waiter; they re-check their condition (counters change synchronously).
        self._event.set()
        self._event = asyncio.Event()

    def _handshake_started(self) -> None:
        self.in_flight += 1
        self.handshakes += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._changed()

    def _handshake_done(self) -> None:
        self.in_flight -= 1
        self._changed()

    async def _wait_for_peers(self) -> None:
        # Hold this handshake until `hold_until` are in flight at once, or until every
        # expected handshake has started (the tail end of the batch).
        while self.hold_until and not (
            self.in_flight >= self.hold_until or self.handshakes >= self.expected_handshakes
        ):
            await self._event.wait()

    def drop_all(self) -> int:
        """Abort every client connection (as a crashed or rebooted host would)."""
        n = 0
        for conn in list(self.connections):
            conn.abort()
            n += 1
        self.connections.clear()
        return n

    async def start(self) -> AsyncSshServer:
        import asyncssh

        outer = self

        class _Server(asyncssh.SSHServer):
            def __init__(self) -> None:
                self._counted = False
                self._conn: Any = None

            def connection_made(self, conn: Any) -> None:
                self._conn = conn
                outer.connections.append(conn)
                self._counted = True
                outer._handshake_started()

            async def begin_auth(self, username: str) -> bool:
                await outer._wait_for_peers()
                return True

            def auth_completed(self) -> None:
                if self._counted:
                    self._counted = False
                    outer._handshake_done()

            def connection_lost(self, exc: Exception | None) -> None:
                if self._conn in outer.connections:
                    outer.connections.remove(self._conn)
                self.auth_completed()

        async def handle(process: Any) -> None:
            try:
                argv = shlex.split(process.command or "")
            except ValueError:
                argv = []
            try:
                if argv[:1] == ["echo"]:
                    process.stdout.write(" ".join(argv[1:]) + "\n")
                    process.exit(0)
                elif argv[:1] == ["err"]:
                    process.stderr.write(" ".join(argv[1:]) + "\n")
                    process.exit(3)
                elif argv[:1] == ["exit"] and len(argv) == 2:
                    process.exit(int(argv[1]))
                elif argv[:1] == ["lines"] and len(argv) == 2:
                    for i in range(int(argv[1])):
                        process.stdout.write(f"line {i}\n")
                    process.exit(0)
                elif argv[:1] == ["forever"]:
                    process.stdout.write("started\n")
                    outer.started.set()
                    with contextlib.suppress(Exception):
                        await process.stdin.read()  # returns when the client closes the channel
                    outer.closed_channels += 1
                    outer.channel_closed.set()
                    process.exit(0)
                else:
                    process.stderr.write(f"unknown command: {process.command!r}\n")
                    process.exit(127)
            except (BrokenPipeError, ConnectionError):
                outer.closed_channels += 1
                outer.channel_closed.set()

        self.server = await asyncssh.listen(
            "127.0.0.1", 0, server_factory=_Server, server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                self.client_key.export_public_key().decode()),
            process_factory=handle, sftp_factory=True, allow_scp=False,
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self.known_hosts.write_text(self.known_hosts_entry)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        self.drop_all()


@pytest.fixture
async def asyncssh_server(tmp_path):
    server = await AsyncSshServer(tmp_path / "asyncssh-server").start()
    yield server
    await server.stop()

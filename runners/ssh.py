"""SSH to the camera hosts: one reused asyncssh connection per host, strict host keys.

Each configured host gets ONE connection (:class:`SshHost`), reused for commands
(:meth:`SshHost.run`), live line streams (:meth:`SshHost.stream`, e.g. ``tail -F``) and
SFTP (one SFTP client per connection, opened on first use). :class:`SshPool` owns them
and starts at most ``max_handshakes`` SSH handshakes at once across all hosts: OpenSSH's
``MaxStartups`` (10 by default) drops connections beyond that.

Host keys are checked strictly by default, against ``ssh.known_hosts`` (or
``~/.ssh/known_hosts``): an unknown key is refused with its fingerprint and the command
that accepts it; a changed key is refused as a possible man-in-the-middle. ``ssh_config``'s
``UserKnownHostsFile``/``StrictHostKeyChecking`` cannot weaken that. Only
``ssh.strict_host_keys = false`` turns checking off, loudly (``SshHost.insecure``).

Other ``~/.ssh/config`` settings (HostName, User, Port, IdentityFile, ProxyJump...) are
honoured for what the console's config leaves unset; without ``ssh.key`` the ssh-agent
(``SSH_AUTH_SOCK``) and the default keys are used. ``ssh.proxy_jump`` tunnels through a
bastion (``user@host:port``), itself checked against the same known_hosts.

On OpenSSH hosts commands run under a small guard (:func:`guard_command`) so that closing
their channel (a stopped stream, a timed-out ``run``) really stops them on the host.

asyncssh is imported lazily (start-up time of the console).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import ipaddress
import logging
import os
import secrets
import shlex
import socket
import stat as stat_mod
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from runners.config import Host
from runners.errors import HostKeyError, SshError

log = logging.getLogger(__name__)

#: A line longer than this is yielded in pieces of this size instead of being buffered on.
MAX_LINE = 1 << 20
#: What :meth:`SshHost.run` keeps of each output stream (the rest is dropped, flagged ``truncated``).
MAX_OUTPUT = 16 << 20
#: How much of stderr an error message quotes (its end: that is where the reason usually is).
STDERR_TAIL = 1000

#: SFTP download tuning, measured with tests/bench/bench_sftp.py (64 MiB over loopback):
#: 255 KiB is the largest read OpenSSH's sftp-server answers (its limits@openssh.com says
#: 261120; a server that answers less gives short reads, which asyncssh re-requests).
#: 16 such requests keep ~4 MiB in flight, matching a 4 MiB channel window. 16-32 requests
#: with a 2-4 MiB window were the fastest and steadiest; 64 requests with a 16 MiB window
#: were slower and erratic (60-250 MB/s: asyncssh's buffers balloon).
SFTP_BLOCK_SIZE = 255 * 1024
SFTP_MAX_REQUESTS = 16
CHANNEL_WINDOW = 4 << 20

#: Cipher preference. AES-GCM runs on the CPU's AES instructions through OpenSSL and was
#: 1.5-2.5x faster than ChaCha20-Poly1305 in asyncssh here (asyncssh puts ChaCha first).
ENCRYPTION_ALGS = (
    "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
    "aes128-ctr", "aes192-ctr", "aes256-ctr",
)

_DEFAULT = object()  # "use ~/.ssh/config if it exists"


@dataclass
class ExecResult:
    """A finished remote command. ``exit_status`` is negative (-SIGNUM) when a signal killed it."""

    exit_status: int
    stdout: str
    stderr: str
    truncated: bool = False  # output beyond MAX_OUTPUT was dropped

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass
class RemoteStat:
    size: int
    mtime: float
    is_dir: bool = False


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect (one hop). Paths already resolved."""

    host: str
    port: int = 22
    user: str = ""
    key: Path | None = None
    known_hosts: Path | None = None  # None = host-key checking OFF (strict_host_keys = false)
    label: str = ""  # e.g. "bastion for cam-01", for messages

    @property
    def hostport(self) -> str:
        """The name OpenSSH uses in known_hosts: ``host`` on port 22, else ``[host]:port``."""
        return _hostport(self.host, self.port)

    @property
    def who(self) -> str:
        return f"{self.user or _local_user()}@{self.host}:{self.port}"


def _hostport(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no $USER: asyncssh will fail the same way  # noqa: BLE001
        return "?"


def parse_jump(spec: str) -> tuple[str, str, int]:
    """``user@host:port`` (user and port optional; IPv6 as ``[::1]:port``) -> (user, host, port)."""
    s = spec.strip()
    if not s or any(c.isspace() for c in s) or "," in s:
        raise SshError(f"ssh.proxy_jump: expected one bastion as user@host:port, got {spec!r}")
    user, _, hostport = s.rpartition("@")
    port = 22
    if hostport.startswith("["):
        host, sep, rest = hostport[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise SshError(f"ssh.proxy_jump: bad bracketed address in {spec!r} (expected [addr]:port)")
        port_s = rest[1:]
    elif hostport.count(":") == 1:
        host, _, port_s = hostport.partition(":")
    else:
        host, port_s = hostport, ""
    if port_s:
        if not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise SshError(f"ssh.proxy_jump: port must be 1-65535, got {port_s!r} in {spec!r}")
        port = int(port_s)
    if not host:
        raise SshError(f"ssh.proxy_jump: no host in {spec!r} (expected user@host:port)")
    return user, host, port


# ----------------------------------------------------------------------------- errors

def _host_key_error(message: str, *, kind: str, hint: str = "", fingerprint: str = "",
                    accept_command: str = "") -> HostKeyError:
    """A HostKeyError plus what a UI needs: ``kind`` (unknown / changed / refused), the
    offered key's SHA256 ``fingerprint`` and, for an unknown key, the ``accept_command``."""
    err = HostKeyError(message, hint=hint)
    err.kind, err.fingerprint, err.accept_command = kind, fingerprint, accept_command  # type: ignore[attr-defined]
    return err


def _fingerprint(key: Any) -> str:
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


def _unknown_key_error(ep: Endpoint, host: str, port: int, key: Any) -> HostKeyError:
    kh = ep.known_hosts
    where = _hostport(host, port)
    scan = f"ssh-keyscan -p {port} {host}" if port != 22 else f"ssh-keyscan {host}"
    label = f" ({ep.label})" if ep.label else ""
    return _host_key_error(
        f"host key for {where}{label} is not in {kh} ({_fingerprint(key)}). "
        f"If this is the right host, add it: {scan} >> {kh}",
        hint=f"first compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_{_key_file_kind(key)}_key.pub` "
             f"on the host",
        kind="unknown", fingerprint=key.get_fingerprint("sha256"), accept_command=f"{scan} >> {kh}",
    )


def _changed_key_error(ep: Endpoint, host: str, port: int, key: Any, known: list[Any]) -> HostKeyError:
    kh = ep.known_hosts
    where = _hostport(host, port)
    label = f" ({ep.label})" if ep.label else ""
    had = ", ".join(_fingerprint(k) for k in known)
    return _host_key_error(
        f"host key for {where}{label} has CHANGED: the server offers {_fingerprint(key)}, but {kh} "
        f"holds {had}. This may be a man-in-the-middle attack (or the host was reinstalled); "
        f"the connection was refused",
        hint=f"check the new fingerprint on the host itself; only if it is right, remove the old entry "
             f"(ssh-keygen -R '{where}' -f {kh}) and add the new one",
        kind="changed", fingerprint=key.get_fingerprint("sha256"),
    )


def _key_file_kind(key: Any) -> str:
    alg = key.get_algorithm()
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}.get(alg, "ecdsa" if alg.startswith("ecdsa") else "*")


def _auth_tried(ep: Endpoint) -> str:
    if ep.key is not None:
        return f"tried key {ep.key}"
    sock = os.environ.get("SSH_AUTH_SOCK")
    agent = f"ssh-agent at {sock}" if sock else "no ssh-agent (SSH_AUTH_SOCK unset)"
    return f"no ssh.key set; tried {agent}, ~/.ssh/config IdentityFile and default keys in ~/.ssh"


def _unreachable(ep: Endpoint, exc: BaseException, timeout: float) -> SshError:
    where = f"{ep.host}:{ep.port}" + (f" ({ep.label})" if ep.label else "")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        reason = f"no SSH handshake within {timeout:g} s"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused (is sshd running and listening on that port?)"
    elif isinstance(exc, socket.gaierror):
        reason = f"cannot resolve host name: {exc.strerror or exc}"
    elif isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
    else:
        reason = str(exc) or type(exc).__name__
    return SshError(f"cannot reach {where}: {reason}")


def _is_link_failure(exc: BaseException, conn: Any = None) -> bool:
    """Did this fail because the connection is gone (as opposed to the command or file)?

    A refused channel on a live connection is NOT a link failure: OpenSSH refuses a new
    session beyond ``MaxSessions`` (10) per connection, and dropping the connection for
    that would kill every other stream on it."""
    import asyncssh

    if conn is not None and conn.is_closed():
        return True
    if isinstance(exc, asyncssh.SFTPError):
        return isinstance(exc, (asyncssh.SFTPNoConnection, asyncssh.SFTPConnectionLost))
    if isinstance(exc, asyncssh.ChannelOpenError):
        return False  # the connection is alive (checked above): the server said no to this channel
    return isinstance(exc, (asyncssh.DisconnectError, ConnectionError, BrokenPipeError, EOFError))


def _tail(data: bytes | str, n: int = STDERR_TAIL) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


# ------------------------------------------------------------------------- connecting

def _client_class() -> type:
    """The asyncssh client that records the host key it was offered and reports loss."""
    import asyncssh

    class _Client(asyncssh.SSHClient):
        def __init__(self, on_lost: Callable[[Exception | None], None] | None) -> None:
            self.offered: Any = None
            self.offered_at: tuple[str, str, int] | None = None
            self._on_lost = on_lost

        def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
            # Called only for a key that is NOT trusted: remember it for the error message
            # (its fingerprint), then refuse. No second connection is needed to learn it.
            self.offered, self.offered_at = key, (host, addr, port)
            return False

        def connection_lost(self, exc: Exception | None) -> None:
            if self._on_lost is not None:
                self._on_lost(exc)

    return _Client


class _Connector:
    """Opens connections for a pool: options, the handshake bound, and error translation."""

    def __init__(self, *, max_handshakes: int, connect_timeout: float, ssh_config: Path | None,
                 keepalive_interval: float, window: int):
        if max_handshakes < 1:
            raise ValueError(f"max_handshakes must be >= 1, got {max_handshakes}")
        self.handshakes = asyncio.Semaphore(max_handshakes)
        self.connect_timeout = connect_timeout
        self.ssh_config = ssh_config
        self.keepalive_interval = keepalive_interval
        self.window = window
        self.in_flight = 0
        self.max_in_flight = 0
        self.count = 0

    async def connect(self, ep: Endpoint, *, tunnel: Any = None,
                      on_lost: Callable[[Exception | None], None] | None = None) -> Any:
        import asyncssh

        opts: dict[str, Any] = dict(
            connect_timeout=self.connect_timeout,
            login_timeout=self.connect_timeout,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=3,
            encryption_algs=list(ENCRYPTION_ALGS),
            window=self.window,
        )
        if self.ssh_config is not None:
            opts["config"] = [str(self.ssh_config)]
        if ep.port != 22:
            opts["port"] = ep.port  # port 22 = unset: let ~/.ssh/config's Port apply
        if ep.user:
            opts["username"] = ep.user
        if tunnel is not None:
            opts["tunnel"] = tunnel
        if ep.key is not None:
            opts["client_keys"] = self._load_key(ep)
            opts["agent_path"] = None  # an explicit key means exactly that key
        known: Any = None
        if ep.known_hosts is not None:
            known = self._load_known_hosts(ep)
            algs = self._host_key_algs(known, ep)
            if algs:
                opts["server_host_key_algs"] = algs
        opts["known_hosts"] = known  # None = no checking (strict_host_keys = false)

        client = _client_class()(on_lost)
        async with self.handshakes:
            self.in_flight += 1
            self.count += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                conn, _ = await asyncssh.create_connection(lambda: client, ep.host, **opts)
            except asyncssh.HostKeyNotVerifiable as e:
                raise self._host_key_error(ep, client, known, e) from None
            except asyncssh.KeyExchangeFailed as e:
                if known is not None and self._host_key_algs(known, ep):
                    raise _host_key_error(
                        f"host {ep.hostport}{' (' + ep.label + ')' if ep.label else ''} offers none of the key "
                        f"types {ep.known_hosts} holds for it ({e.reason}): its host key may have CHANGED "
                        f"(possible man-in-the-middle); the connection was refused", kind="changed") from None
                raise SshError(f"{ep.who}: key exchange failed: {e.reason}") from None
            except asyncssh.PermissionDenied:
                raise SshError(f"permission denied for {ep.who} ({_auth_tried(ep)})") from None
            except asyncssh.ChannelOpenError as e:  # the bastion would not forward to this host
                raise SshError(f"cannot reach {ep.host}:{ep.port} through the bastion: {e.reason}") from None
            except asyncssh.ConnectionLost:
                raise SshError(f"{ep.who}: the server closed the connection during the handshake "
                               f"(too many handshakes at once for its MaxStartups?)") from None
            except asyncssh.DisconnectError as e:
                raise SshError(f"{ep.who}: disconnected during the handshake: {e.reason}") from None
            except asyncssh.ConfigParseError as e:
                raise SshError(f"cannot use ssh config {self.ssh_config}: {e}") from None
            except (OSError, asyncio.TimeoutError) as e:
                raise _unreachable(ep, e, self.connect_timeout) from None
            except (asyncssh.Error, ValueError) as e:  # ValueError: asyncssh.KeyImportError and friends
                # Anything else asyncssh refuses (a bad ssh_config IdentityFile, odd options...).
                raise SshError(f"{ep.who}: cannot connect: {e}") from None
            finally:
                self.in_flight -= 1
        return conn

    def _load_key(self, ep: Endpoint) -> Any:
        import asyncssh

        assert ep.key is not None
        if not ep.key.is_file():
            raise SshError(f"ssh.key: key file {ep.key} does not exist (for {ep.who})")
        try:
            # load_keypairs also picks up KEY-cert.pub, as OpenSSH does.
            return asyncssh.load_keypairs([str(ep.key)])
        except asyncssh.KeyImportError as e:
            if "assphrase" in str(e):
                raise SshError(f"ssh.key: {ep.key} is protected by a passphrase",
                               hint="load it into ssh-agent (ssh-add) and leave ssh.key empty") from None
            raise SshError(f"ssh.key: {ep.key} is not a usable private key: {e}") from None
        except OSError as e:
            raise SshError(f"ssh.key: cannot read {ep.key}: {e.strerror or e}") from None

    @staticmethod
    def _load_known_hosts(ep: Endpoint) -> Any:
        import asyncssh

        assert ep.known_hosts is not None
        path = ep.known_hosts
        if not path.exists():
            return asyncssh.import_known_hosts("")  # nothing trusted: every key is unknown
        try:
            return asyncssh.read_known_hosts(str(path))
        except OSError as e:
            raise SshError(f"cannot read known_hosts file {path}: {e.strerror or e}") from None
        except (ValueError, asyncssh.KeyImportError) as e:
            raise SshError(f"known_hosts file {path} is not valid: {e}") from None

    @staticmethod
    def _host_key_algs(known: Any, ep: Endpoint) -> list[str]:
        """Known key types first, then every other type.

        asyncssh offers only the known types by default; a server that no longer has a key of
        those types then just drops the connection ("no matching host key type"), and all the
        operator sees is a reset. Offering the rest too (as OpenSSH does) makes such a server
        show its new key, so the refusal can name both fingerprints."""
        import asyncssh
        from asyncssh.public_key import get_default_public_key_algs

        try:
            addr = str(ipaddress.ip_address(ep.host))
        except ValueError:
            addr = ""  # a name (maybe an ssh_config alias): match by name only
        keys, ca_keys = asyncssh.match_known_hosts(known, ep.host, addr, ep.port if ep.port != 22 else None)[:2]
        if not keys or ca_keys:
            return []  # nothing known (asyncssh offers all) or host certificates (asyncssh knows best)
        algs: list[str] = []
        for key in keys:
            algs += [a.decode() for a in key.sig_algorithms if a.decode() not in algs]
        return algs + [a.decode() for a in get_default_public_key_algs() if a.decode() not in algs]

    @staticmethod
    def _known_for(known: Any, host: str, addr: str, port: int) -> list[Any]:
        import asyncssh

        keys = asyncssh.match_known_hosts(known, host, addr, port if port != 22 else None)[0]
        return list(keys)

    def _host_key_error(self, ep: Endpoint, client: Any, known: Any, exc: Exception) -> HostKeyError:
        if client.offered is None:  # revoked key, bad certificate...: asyncssh's reason is all we have
            return _host_key_error(f"host key for {ep.hostport} was refused: {getattr(exc, 'reason', exc)}",
                                   kind="refused")
        host, addr, port = client.offered_at
        had = self._known_for(known, host, addr, port)
        if had:
            return _changed_key_error(ep, host, port, client.offered, had)
        return _unknown_key_error(ep, host, port, client.offered)


# --------------------------------------------------------------------------- one host

class SshHost:
    """One configured host over one reused connection.

    A lost connection is noticed (asyncssh reports it; keepalives catch silent peers) and the
    next call reconnects, once: if that fails, the call raises :class:`SshError`. A call that
    fails because the link died before it started is retried once on the new connection."""

    def __init__(self, name: str, endpoint: Endpoint, pool: SshPool, *, jump: Endpoint | None = None):
        self.name = name
        self.endpoint = endpoint
        self.jump = jump
        self.insecure = endpoint.known_hosts is None
        self.host_key: str = ""  # "ssh-ed25519 SHA256:..." of the connected server
        self.reconnects = 0
        self._pool = pool
        self._conn: Any = None
        self._sftp: Any = None
        self._lock = asyncio.Lock()
        self._sftp_lock = asyncio.Lock()
        self._closed = False
        self._ever_connected = False

    def __repr__(self) -> str:
        return f"<SshHost {self.name} {self.endpoint.who}{' INSECURE' if self.insecure else ''}>"

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def insecure_reason(self) -> str:
        if not self.insecure:
            return ""
        return (f"host-key checking is OFF for {self.name} ({self.endpoint.who}): ssh.strict_host_keys = false; "
                f"this connection is open to man-in-the-middle attacks")

    # -- connection management -------------------------------------------------------
    async def connect(self) -> None:
        """Connect now if not connected (raises SshError / HostKeyError)."""
        await self._connection()

    async def _connection(self) -> Any:
        return (await self._connection_fresh())[0]

    async def _connection_fresh(self) -> tuple[Any, bool]:
        """The live connection, and whether this call had to (re)open it."""
        if self._closed:
            raise SshError(f"{self.name}: SSH connection was closed by the console")
        if self._conn is not None:
            return self._conn, False
        async with self._lock:
            if self._conn is None:
                await self._open()
                return self._conn, True
            return self._conn, False

    async def _open(self) -> None:
        tunnel = None
        if self.jump is not None:
            tunnel = await self._pool._jump_connection(self.jump)
        if self.insecure:
            log.warning("%s", self.insecure_reason)
        conn_box: list[Any] = []

        def on_lost(exc: Exception | None) -> None:
            if conn_box:
                self._lost(conn_box[0], exc)

        conn = await self._pool._connector.connect(self.endpoint, tunnel=tunnel, on_lost=on_lost)
        conn_box.append(conn)
        key = conn.get_server_host_key()
        self.host_key = _fingerprint(key) if key is not None else ""
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        self._conn, self._sftp = conn, None
        self._pool._report(self.name, "ok", f"connected to {self.endpoint.who}"
                           + (" (host-key checking OFF)" if self.insecure else ""))

    def _lost(self, conn: Any, exc: Exception | None) -> None:
        if conn is not self._conn:
            return  # an old connection finishing its close
        self._conn, self._sftp = None, None
        if not self._closed:
            reason = str(exc) if exc else "closed by the server"
            self._pool._report(self.name, "down", f"SSH connection lost: {reason}")

    def _mark_dead(self, conn: Any) -> None:
        """The link failed under a call before asyncssh noticed: forget it (and say so)."""
        if conn is self._conn:
            self._conn, self._sftp = None, None
            with contextlib.suppress(Exception):
                conn.abort()
            if not self._closed:
                self._pool._report(self.name, "down", "SSH connection lost (found dead by a call)")

    async def _with_retry(self, what: str, op: Callable[[Any], Any]) -> Any:
        """Run ``op(conn)``; if the link turns out to be dead, reconnect once and run it again.

        Only for steps that cannot have had an effect when they fail this way (opening a
        channel, an SFTP request on a lost connection)."""
        import asyncssh

        conn, fresh = await self._connection_fresh()
        for attempt in (1, 2):
            try:
                return await op(conn)
            except asyncssh.ChannelOpenError as e:
                if not _is_link_failure(e, conn):
                    raise SshError(f"{self.name}: {what}: the server refused a new channel ({e.reason})",
                                   hint="OpenSSH allows MaxSessions (default 10) channels per connection; "
                                        "close some log streams or raise MaxSessions on the host") from None
                err: Exception = e
            except Exception as e:
                if not _is_link_failure(e, conn):
                    raise
                err = e
            self._mark_dead(conn)
            if fresh or attempt == 2:
                raise SshError(f"{self.name}: {what}: SSH connection lost ({err or type(err).__name__})")
            conn, fresh = await self._connection_fresh()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _process(self, command: str, *, stdin_open: bool) -> Any:
        import asyncssh

        async def open_(conn: Any) -> Any:
            if self._pool.guard_commands and _is_openssh(conn):
                # The guard needs the channel's stdin open: its EOF is the "client gone" signal.
                return await conn.create_process(guard_command(command), encoding=None, stdin=asyncssh.PIPE)
            return await conn.create_process(command, encoding=None,
                                             stdin=asyncssh.PIPE if stdin_open else asyncssh.DEVNULL)

        return await self._with_retry(f"starting {command!r}", open_)

    # -- commands ----------------------------------------------------------------------
    async def run(self, command: str, *, timeout: float = 30.0, check: bool = False) -> ExecResult:
        """Run ``command`` and collect its output (decoded as UTF-8, bad bytes replaced)."""
        proc = await self._process(command, stdin_open=False)
        conn = self._connection_of(proc, command)
        truncated = False

        async def collect(reader: Any) -> bytes:
            nonlocal truncated
            buf = bytearray()
            while True:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    return bytes(buf)
                room = MAX_OUTPUT - len(buf)
                if len(chunk) > room:
                    truncated = True
                buf += chunk[:max(room, 0)]

        try:
            # return_exceptions: when the link drops both readers fail; an exception left in
            # the gather future would be reported as "never retrieved" at garbage collection.
            out, err = await asyncio.wait_for(
                asyncio.gather(collect(proc.stdout), collect(proc.stderr), return_exceptions=True), timeout)
            for got in (out, err):
                if isinstance(got, BaseException):
                    raise got
            await asyncio.wait_for(proc.wait_closed(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            self._stop_process(proc)
            raise SshError(f"{self.name}: {command!r} did not finish within {timeout:g} s") from None
        except Exception as e:
            self._stop_process(proc)
            if _is_link_failure(e, conn):
                raise SshError(f"{self.name}: SSH connection lost while running {command!r}: {e}") from None
            raise
        status = proc.returncode
        if status is None:  # channel closed without an exit status: the link dropped mid-command
            raise SshError(f"{self.name}: {command!r} ended without an exit status (connection lost?)")
        result = ExecResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), truncated)
        if check and status != 0:
            tail = _tail(err) or "(no stderr)"
            raise SshError(f"{self.name}: {command!r} exited with status {status}: {tail}")
        return result

    def _connection_of(self, proc: Any, command: str) -> Any:
        """The process's connection, taken now: asyncssh forgets it once the channel is gone
        (and asserts when asked after that), which happens when the link drops right after
        the channel opened."""
        try:
            return proc.channel.get_connection()
        except AssertionError:
            raise SshError(f"{self.name}: SSH connection lost while starting {command!r}") from None

    @staticmethod
    def _stop_process(proc: Any) -> None:
        # Ask the remote side to stop the command (servers that honour "signal" requests
        # do: asyncssh ones, sshd for privilege-separated, non-root sessions), then close the
        # channel (which the guard on OpenSSH hosts turns into a kill; see guard_command).
        with contextlib.suppress(Exception):
            proc.send_signal("TERM")
        with contextlib.suppress(Exception):
            proc.close()

    async def stream(self, command: str) -> AsyncIterator[bytes]:
        """Yield ``command``'s stdout line by line (raw bytes, ``b"\\n"`` stripped) as it arrives.

        A line longer than :data:`MAX_LINE` comes in pieces of that size. Stopping the
        iteration (``break``, ``aclose()``, cancellation) stops the command and closes the
        channel. The stream ends when the command exits 0; a non-zero exit or a lost
        connection raises :class:`SshError` (with the stderr tail)."""
        async with contextlib.aclosing(self.stream_batches(command)) as batches:
            async for batch in batches:
                for line in batch:
                    yield line

    async def stream_batches(self, command: str) -> AsyncIterator[list[bytes]]:
        """Like :meth:`stream`, but yields every complete line of each read at once (cheaper
        for a UI that batches anyway)."""
        proc = await self._process(command, stdin_open=True)
        conn = self._connection_of(proc, command)
        err_tail: deque[bytes] = deque(maxlen=64)

        async def drain_stderr() -> None:
            with contextlib.suppress(Exception):
                while chunk := await proc.stderr.read(4096):
                    err_tail.append(chunk)

        err_task = asyncio.get_running_loop().create_task(drain_stderr())
        pending = bytearray()
        done = False
        try:
            while True:
                try:
                    chunk = await proc.stdout.read(1 << 16)
                except Exception as e:
                    if _is_link_failure(e, conn):
                        raise SshError(f"{self.name}: SSH connection lost while streaming {command!r}") from None
                    raise
                if not chunk:
                    break
                pending += chunk
                batch: list[bytes] = []
                if b"\n" in chunk:
                    *lines, rest = bytes(pending).split(b"\n")
                    pending = bytearray(rest)
                    for line in lines:
                        batch.extend(_pieces(line))
                while len(pending) >= MAX_LINE:  # no newline in sight: do not buffer forever
                    batch.append(bytes(pending[:MAX_LINE]))
                    del pending[:MAX_LINE]
                if batch:
                    yield batch
            if pending:
                yield [bytes(pending)]
            await proc.wait_closed()
            done = True
            await err_task
            status = proc.returncode
            if status is None:
                raise SshError(f"{self.name}: SSH connection lost while streaming {command!r}")
            if status != 0:
                tail = _tail(b"".join(err_tail)) or "(no stderr)"
                raise SshError(f"{self.name}: {command!r} exited with status {status}: {tail}")
        finally:
            if not done:
                self._stop_process(proc)
            err_task.cancel()

    # -- files ---------------------------------------------------------------------------
    async def _sftp_client(self, conn: Any) -> Any:
        if self._sftp is not None and conn is self._conn:
            return self._sftp
        async with self._sftp_lock:
            if self._sftp is None or conn is not self._conn:
                sftp = await conn.start_sftp_client()
                if conn is self._conn:
                    self._sftp = sftp
                return sftp
            return self._sftp

    async def stat(self, path: str, *, timeout: float = 30.0) -> RemoteStat | None:
        """Size and mtime of a remote file (following symlinks); None if it does not exist."""
        import asyncssh

        async def op(conn: Any) -> Any:
            sftp = await self._sftp_client(conn)
            return await sftp.stat(path)

        try:
            attrs = await asyncio.wait_for(self._with_retry(f"stat {path}", op), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise SshError(f"{self.name}: stat {path}: no answer within {timeout:g} s") from None
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None
        except asyncssh.SFTPError as e:
            raise SshError(f"{self.name}: cannot stat {path}: {e.reason}") from None
        return RemoteStat(size=attrs.size or 0, mtime=float(attrs.mtime or 0),
                          is_dir=bool(attrs.permissions is not None and stat_mod.S_ISDIR(attrs.permissions)))

    async def get(self, remote: str, local: Path) -> int:
        """Download ``remote`` to ``local`` over SFTP; returns the bytes copied.

        Written to a temporary file beside ``local``, fsynced, then renamed: ``local`` is
        either the old file or the complete new one, never a partial download."""
        import asyncssh

        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{secrets.token_hex(4)}.part")
        pool = self._pool

        async def op(conn: Any) -> None:
            sftp = await self._sftp_client(conn)
            await sftp.get(remote, str(tmp), block_size=pool.sftp_block_size, max_requests=pool.sftp_max_requests)

        try:
            await self._with_retry(f"get {remote}", op)
            size = await asyncio.to_thread(_commit, tmp, local)
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            raise SshError(f"{self.name}: cannot download {remote}: no such file") from None
        except asyncssh.SFTPError as e:
            raise SshError(f"{self.name}: cannot download {remote}: {e.reason}") from None
        except OSError as e:
            raise SshError(f"{self.name}: cannot write {local}: {e.strerror or e}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return size

    async def close(self) -> None:
        self._closed = True
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)


def _is_openssh(conn: Any) -> bool:
    return "OpenSSH" in (conn.get_extra_info("server_version") or "")


#: Runs COMMAND ($1) with the user's login shell, as sshd would, plus a watcher on the
#: channel's stdin: when the client closes the channel (stream stopped, run timed out,
#: connection lost) sshd closes that pipe, ``cat`` sees EOF and the watcher kills the
#: command's process group (sshd starts each session in its own). Why not the SSH
#: "signal" request: sshd ignores it for root logins ("session signalling requires
#: privilege separation") and in older releases, and without a pty nothing else stops a
#: remote ``journalctl -f`` or ``sleep`` whose output nobody reads. COMMAND's own stdin is
#: /dev/null. After COMMAND ends the watcher is stopped, so what COMMAND started in the
#: background survives as it would under plain ssh. SHLVL is raised so that bash does not
#: source ~/.bashrc a second time (it does so for a shell "run by sshd" at level 1; the
#: login shell that started the guard already did, and its exports are inherited).
_GUARD = (
    'exec 3<&0 </dev/null; '
    '{ cat <&3 >/dev/null 2>&1; kill -TERM 0; } >/dev/null 2>&1 & w=$!; '
    'SHLVL=$((${SHLVL:-0} + 1)) "${SHELL:-/bin/sh}" -c "$1"; s=$?; kill $w 2>/dev/null; exit $s'
)


def guard_command(command: str) -> str:
    """``command`` wrapped so that closing its channel stops it on an OpenSSH host."""
    return f"exec /bin/sh -c {shlex.quote(_GUARD)} dryrun-guard {shlex.quote(command)}"


def _pieces(line: bytes) -> list[bytes]:
    if len(line) <= MAX_LINE:
        return [line]
    return [line[i:i + MAX_LINE] for i in range(0, len(line), MAX_LINE)]


def _commit(tmp: Path, local: Path) -> int:
    """fsync the finished download, rename it into place, fsync the folder."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
        size = os.fstat(f.fileno()).st_size
    os.replace(tmp, local)
    with contextlib.suppress(OSError):
        fd = os.open(local.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return size


# ------------------------------------------------------------------------------- pool

class SshPool:
    """One :class:`SshHost` per configured host; at most ``max_handshakes`` handshakes at once.

    ``ssh_config``: the OpenSSH client config to honour (default ``~/.ssh/config`` if it
    exists; ``None`` for none). ``guard_commands``: on OpenSSH hosts, wrap commands so that
    closing their channel stops them (see :func:`guard_command`). ``on_state(host, status, detail)`` is told when a host's
    connection comes up ("ok") or is lost ("down"); runners turn that into HostState events."""

    def __init__(self, *, max_handshakes: int = 10, connect_timeout: float = 10.0,
                 ssh_config: Any = _DEFAULT, keepalive_interval: float = 15.0,
                 sftp_block_size: int = SFTP_BLOCK_SIZE, sftp_max_requests: int = SFTP_MAX_REQUESTS,
                 window: int = CHANNEL_WINDOW, guard_commands: bool = True,
                 on_state: Callable[[str, str, str], None] | None = None):
        if ssh_config is _DEFAULT:
            default = Path("~/.ssh/config").expanduser()
            ssh_config = default if default.is_file() else None
        self._connector = _Connector(max_handshakes=max_handshakes, connect_timeout=connect_timeout,
                                     ssh_config=Path(ssh_config) if ssh_config is not None else None,
                                     keepalive_interval=keepalive_interval, window=window)
        self.max_handshakes = max_handshakes
        self.sftp_block_size = sftp_block_size
        self.sftp_max_requests = sftp_max_requests
        self.on_state = on_state
        self.guard_commands = guard_commands  # see guard_command(): stop remote commands on close
        self._hosts: dict[str, SshHost] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._jumps: dict[Endpoint, Any] = {}
        self._jump_lock = asyncio.Lock()

    async def __aenter__(self) -> SshPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def handshakes_started(self) -> int:
        return self._connector.count

    @property
    def max_handshakes_seen(self) -> int:
        """The most handshakes that were ever in flight at once (for tests and the status bar)."""
        return self._connector.max_in_flight

    @property
    def hosts(self) -> dict[str, SshHost]:
        return dict(self._hosts)

    def _report(self, host: str, status: str, detail: str) -> None:
        if self.on_state is not None:
            try:
                self.on_state(host, status, detail)
            except Exception:  # a UI callback must not break the SSH layer  # noqa: BLE001
                log.exception("on_state callback failed for %s", host)

    @staticmethod
    def endpoints(host: Host, resolve: Callable[[str], Path]) -> tuple[Endpoint, Endpoint | None]:
        """The target (and bastion) endpoints of a configured host, paths resolved."""
        t = host.ssh
        if not t.host:
            raise SshError(f"host {host.name} has no SSH target (set [hosts.ssh] host = ...)")
        key = resolve(t.key) if t.key else None
        known = (resolve(t.known_hosts) if t.known_hosts else Path("~/.ssh/known_hosts").expanduser()) \
            if t.strict_host_keys else None
        target = Endpoint(host=t.host, port=t.port, user=t.user, key=key, known_hosts=known)
        jump = None
        if t.proxy_jump:
            juser, jhost, jport = parse_jump(t.proxy_jump)
            # The bastion uses the host's key and known_hosts (and its user unless one is given).
            jump = Endpoint(host=jhost, port=jport, user=juser or t.user, key=key, known_hosts=known,
                            label=f"bastion for {host.name}")
        return target, jump

    async def host(self, host: Host, resolve: Callable[[str], Path]) -> SshHost:
        """The connected :class:`SshHost` for ``host`` (connecting on first use)."""
        target, jump = self.endpoints(host, resolve)
        lock = self._host_locks.setdefault(host.name, asyncio.Lock())
        async with lock:
            h = self._hosts.get(host.name)
            if h is not None and (h.endpoint != target or h.jump != jump or h._closed):
                await h.close()  # closed, or the config changed under us: start afresh
                h = None
            if h is None:
                h = SshHost(host.name, target, self, jump=jump)
                self._hosts[host.name] = h
        await h.connect()
        return h

    async def _jump_connection(self, ep: Endpoint) -> Any:
        """A (shared) connection to a bastion; hosts behind the same bastion share it."""
        key = Endpoint(ep.host, ep.port, ep.user, ep.key, ep.known_hosts)  # without the per-host label
        async with self._jump_lock:
            conn = self._jumps.get(key)
            if conn is not None and not conn.is_closed():
                return conn
            if ep.known_hosts is None:
                log.warning("host-key checking is OFF for bastion %s (ssh.strict_host_keys = false)", ep.who)
            conn = await self._connector.connect(ep)
            self._jumps[key] = conn
            return conn

    async def close(self) -> None:
        hosts, self._hosts = list(self._hosts.values()), {}
        await asyncio.gather(*(h.close() for h in hosts), return_exceptions=True)
        jumps, self._jumps = list(self._jumps.values()), {}
        for conn in jumps:
            conn.close()
        for conn in jumps:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

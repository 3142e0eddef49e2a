"""The simulated camera host's SSH server (asyncssh), on 127.0.0.1 only.

- Host key: ed25519, one per host; a known_hosts file names it as ``[127.0.0.1]:PORT``.
- Auth: public key only, only the operator key the simulator generated, only for the
  configured user. Passwords, keyboard-interactive and other keys are refused, so the
  console's strict host-key and key handling is exercised for real.
- Exec: :class:`runners.sim.shell.Shell` answers commands like a Debian/Ubuntu camera host.
- SFTP (and legacy scp): chrooted to the host's ``root`` folder; writes only where an
  operator could write on the real host (recordings/snapshots, /tmp, home).
- A bare ``ssh`` (no command) gets a tiny interactive prompt running the same commands.
- The version banner stays asyncssh's own: the sim does not pretend to be OpenSSH, so a
  client that wraps commands in ``/bin/sh`` tricks for OpenSSH hosts sends them plain here
  (the sim ends a command when its channel closes, which is what those tricks achieve).

The real OpenSSH client works against it (``tests/integration/test_sim_sshd.py``).
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from runners.sim.keys import fingerprint, known_hosts_line, load_or_create_key, write_known_hosts
from runners.sim.shell import Shell, ShellContext

# asyncssh logs every channel at INFO; a fleet of 20 hosts would drown the console's terminal.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC | asyncssh.FXF_APPEND


@dataclass
class ExecRecord:
    """One exec request, for tests and the sim's own log."""

    user: str
    command: str | None
    exit_status: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)  # set when the command has ended


class _ProcessIO:
    """ShellIO over an asyncssh server process (bytes carried with surrogateescape)."""

    def __init__(self, process: asyncssh.SSHServerProcess):
        self._p = process
        self._closed = False

    def _write(self, stream, data: bytes) -> None:
        if self.closed or not data:
            return
        try:
            stream.write(data.decode("utf-8", "surrogateescape"))
        except (BrokenPipeError, ConnectionError, OSError, asyncssh.Error):
            self._closed = True

    def out(self, data: bytes) -> None:
        self._write(self._p.stdout, data)

    def err(self, data: bytes) -> None:
        self._write(self._p.stderr, data)

    @property
    def closed(self) -> bool:
        return self._closed or self._p.is_closing()

    async def drain(self) -> None:
        if self.closed:
            return
        try:
            await self._p.stdout.drain()
        except (BrokenPipeError, ConnectionError, OSError, asyncssh.Error):
            self._closed = True


class _SimSFTP(asyncssh.SFTPServer):
    """SFTP chrooted to the host's root; read-only outside the operator's writable folders."""

    def __init__(self, chan: asyncssh.SSHServerChannel, *, root: Path, writable: tuple[str, ...]):
        super().__init__(chan, chroot=str(root).encode())
        self._writable = writable

    def _check(self, path: bytes) -> None:
        host = posixpath.normpath(posixpath.join("/", path.decode("utf-8", "replace")))
        if not any(host == w or host.startswith(w + "/") for w in self._writable):
            raise asyncssh.SFTPPermissionDenied(f"{host}: permission denied (read-only on this host)")

    def open(self, path, pflags, attrs):
        if pflags & _WRITE_FLAGS:
            self._check(path)
        return super().open(path, pflags, attrs)

    def remove(self, path):
        self._check(path)
        return super().remove(path)

    def mkdir(self, path, attrs):
        self._check(path)
        return super().mkdir(path, attrs)

    def rmdir(self, path):
        self._check(path)
        return super().rmdir(path)

    def setstat(self, path, attrs):
        self._check(path)
        return super().setstat(path, attrs)

    def rename(self, oldpath, newpath):
        self._check(oldpath)
        self._check(newpath)
        return super().rename(oldpath, newpath)

    def posix_rename(self, oldpath, newpath):
        self._check(oldpath)
        self._check(newpath)
        return super().posix_rename(oldpath, newpath)

    def symlink(self, oldpath, newpath):
        # A link could point out of the chroot; the real host would not let the operator do it either.
        raise asyncssh.SFTPPermissionDenied("symlinks are not allowed on this host")

    def link(self, oldpath, newpath):
        raise asyncssh.SFTPPermissionDenied("hard links are not allowed on this host")


class _Server(asyncssh.SSHServer):
    def __init__(self, sshd: SimSshd):
        self._sshd = sshd
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer = ("?", 0)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._peer = conn.get_extra_info("peername") or ("?", 0)
        self._sshd._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._sshd._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always require auth

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        ok = username == self._sshd.user and key.public_data == self._sshd.client_public.public_data
        self._sshd._auth_log(ok, username, key, self._peer)
        return ok


class SimSshd:
    """One host's SSH server. ``start()`` binds 127.0.0.1:port (0 = ephemeral)."""

    def __init__(self, ctx: ShellContext, *, key_dir: Path, client_key_path: Path, known_hosts_path: Path,
                 host: str = "127.0.0.1", port: int = 0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the simulator binds loopback only, got host {host!r}")
        self.ctx = ctx
        self.user = ctx.user
        self.host = host
        self.port = port
        self.key_dir = Path(key_dir)
        self.host_key_path = self.key_dir / "ssh_host_ed25519_key"
        self.client_key_path = Path(client_key_path)
        self.known_hosts_path = Path(known_hosts_path)
        self.shell = Shell(ctx)
        self.execs: deque[ExecRecord] = deque(maxlen=1000)  # the latest exec requests
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._tasks: set[asyncio.Task] = set()
        self.host_key: asyncssh.SSHKey | None = None
        self.client_public: asyncssh.SSHKey | None = None

    @property
    def host_key_fingerprint(self) -> str:
        assert self.host_key is not None
        return fingerprint(self.host_key)

    async def start(self) -> None:
        self.host_key = load_or_create_key(self.host_key_path, comment=f"root@{self.ctx.hostname}")
        client = load_or_create_key(self.client_key_path, comment="dryrun-console@sim")
        self.client_public = client.convert_to_public()
        self._acceptor = await asyncssh.listen(
            self.host, self.port,
            server_factory=lambda: _Server(self),
            server_host_keys=[self.host_key],
            process_factory=self._process,
            sftp_factory=lambda chan: _SimSFTP(chan, root=self.ctx.root, writable=self.ctx.writable),
            allow_scp=True,
            encoding="utf-8", errors="surrogateescape",
            login_timeout=30, keepalive_interval=0,
        )
        self.port = self._acceptor.sockets[0].getsockname()[1]
        self.write_known_hosts()

    def write_known_hosts(self) -> None:
        assert self.host_key is not None
        write_known_hosts(self.known_hosts_path, [known_hosts_line(self.host, self.port, self.host_key)])

    def known_hosts_line(self) -> str:
        assert self.host_key is not None
        return known_hosts_line(self.host, self.port, self.host_key)

    async def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            try:
                await asyncio.wait_for(conn.wait_closed(), 5)
            except (asyncio.TimeoutError, OSError):
                pass
        self._connections.clear()

    def _auth_log(self, ok: bool, user: str, key: asyncssh.SSHKey, peer) -> None:
        j = self.ctx.journal
        if j is None:
            return
        host, port = (peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else ("?", 0)
        fp = fingerprint(key)
        if ok:
            j.append("ssh", f"Accepted publickey for {user} from {host} port {port} ssh2: ED25519 {fp}",
                     identifier="sshd")
        else:
            j.append("ssh", f"Failed publickey for {user} from {host} port {port} ssh2: {key.get_algorithm()} {fp}",
                     priority="WARNING", identifier="sshd")

    # -- sessions ---------------------------------------------------------------------

    async def _process(self, process: asyncssh.SSHServerProcess) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        rec = ExecRecord(process.get_extra_info("username") or "", process.command)
        self.execs.append(rec)
        status = 1
        try:
            if process.command is None:
                status = await self._interactive(process)
            else:
                status = await self.shell.run(process.command, _ProcessIO(process))
        except asyncio.CancelledError:
            status = 255
            raise
        finally:
            rec.exit_status = status
            rec.done.set()
            if task is not None:
                self._tasks.discard(task)
            try:
                process.exit(status)
            except (OSError, asyncssh.Error):
                pass  # the client is already gone

    async def _interactive(self, process: asyncssh.SSHServerProcess) -> int:
        io = _ProcessIO(process)
        home = self.ctx.home.replace(f"/home/{self.user}", "~")
        io.out(f"Welcome to the dry-run console's simulated camera host {self.ctx.hostname}.\n"
               f"Type commands as on the real host (uname -a, systemctl status camera-service, "
               f"tail -F /var/log/camera-service.log); 'exit' to leave.\n".encode())
        status = 0
        while not io.closed:
            io.out(f"{self.user}@{self.ctx.hostname}:{home}$ ".encode())
            try:
                line = await process.stdin.readline()
            except (asyncssh.BreakReceived, asyncssh.SignalReceived, asyncssh.TerminalSizeChanged):
                io.out(b"\n")
                continue
            if not line:
                break
            line = line.strip()
            if line in ("exit", "logout"):
                break
            if not line:
                continue
            # A follow (tail -F) runs until the operator presses Ctrl-C or Enter.
            run = asyncio.ensure_future(self.shell.run(line, io))
            stop = asyncio.ensure_future(process.stdin.readline())
            done, _ = await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            if run in done:
                stop.cancel()
                status = run.result()
            else:
                run.cancel()
                status = 130
                try:
                    await run
                except asyncio.CancelledError:
                    pass
                io.out(b"^C\n")
            await asyncio.gather(stop, return_exceptions=True)
        return status


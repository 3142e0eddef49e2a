"""Shared by the log tests and benchmarks: SSH hosts whose link can be cut on demand.

- :class:`TcpProxy`  a loopback TCP relay in front of an sshd. ``drop()`` aborts every
  relayed connection (a network drop or a host restart as the client sees it);
  ``refuse`` makes new connections fail at once (the host is still down).
- :class:`SimLogHost` the simulator's asyncssh sshd (``runners.sim.sshd``) over a folder
  standing for ``/``, with a journal, behind a proxy.
- :func:`real_host_via_proxy` the real OpenSSH ``sshd`` fixture (``tests/sshd.py``) behind
  a proxy.
- :class:`SeqWriter` appends numbered lines (``seq=N``) to a file, like a service logging;
  rotate / truncate like logrotate (``create`` and ``copytruncate``).
- :class:`Collect` a source sink that records lines and gaps and lets a test await a
  condition (no sleeps as synchronisation).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runners.config import Host, LogSource, SshTarget

DUMMY_RPC = "ws://127.0.0.1:9/ws"
SEQ_RE = re.compile(r"seq=(\d+)")


# ----------------------------------------------------------------------------- proxy
class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = 0
        self.refuse = False
        self.drops = 0
        self.accepted = 0
        self._server: asyncio.AbstractServer | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.refuse:
            _abort(w)
            return
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(w)
            return
        self.accepted += 1
        pair = (w, uw)
        self._pairs.add(pair)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(1 << 16):
                    dst.write(data)
                    await dst.drain()
            _abort(dst)

        try:
            await asyncio.gather(pipe(r, uw), pipe(ur, w))
        finally:
            self._pairs.discard(pair)

    def drop(self) -> int:
        """Abort every relayed connection (both directions, RST)."""
        n = 0
        for a, b in list(self._pairs):
            _abort(a)
            _abort(b)
            n += 1
        self._pairs.clear()
        self.drops += 1
        return n

    @property
    def connections(self) -> int:
        return len(self._pairs)

    async def stop(self) -> None:
        self.refuse = True
        self.drop()
        if self._server is not None:
            self._server.close()
        # The aborted relays end on their own; cancelling them makes asyncio's stream
        # callback log a CancelledError.
        if self._tasks:
            _done, left = await asyncio.wait(list(self._tasks), timeout=2)
            for t in left:
                t.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)


def _abort(w: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        w.transport.abort()


# ----------------------------------------------------------------------------- hosts
class SimLogHost:
    """The simulator's sshd on a folder standing for ``/``, reached through a proxy."""

    def __init__(self, folder: Path, name: str = "sim-01"):
        self.folder = folder
        self.name = name
        self.root = folder / "root"
        self.sshd: Any = None
        self.proxy: TcpProxy | None = None
        self.journal: Any = None
        self.ctx: Any = None

    async def start(self) -> SimLogHost:
        from runners.sim.journal import Journal
        from runners.sim.keys import known_hosts_line
        from runners.sim.shell import ShellContext
        from runners.sim.sshd import SimSshd

        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "var/log").mkdir(parents=True, exist_ok=True)
        self.journal = Journal(hostname=self.name)
        self.ctx = ShellContext(root=self.root, hostname=self.name, user=getpass.getuser(), journal=self.journal)
        self.sshd = SimSshd(self.ctx, key_dir=self.folder / "keys", client_key_path=self.folder / "id_ed25519",
                            known_hosts_path=self.folder / "known_hosts_direct")
        await self.sshd.start()
        self.proxy = await TcpProxy(self.sshd.port).start()
        (self.folder / "known_hosts").write_text(known_hosts_line("127.0.0.1", self.proxy.port, self.sshd.host_key))
        return self

    def host_config(self, logs: tuple[LogSource, ...] = (), *, direct: bool = False) -> Host:
        port = self.sshd.port if direct else self.proxy.port
        kh = self.folder / ("known_hosts_direct" if direct else "known_hosts")
        return Host(name=self.name, rpc_url=DUMMY_RPC,
                    ssh=SshTarget(host="127.0.0.1", port=port, user=self.ctx.user,
                                  key=str(self.folder / "id_ed25519"), known_hosts=str(kh)),
                    logs=logs)

    def local(self, remote: str) -> Path:
        """The local file standing for a path on the simulated host."""
        return self.root / remote.lstrip("/")

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
        if self.sshd is not None:
            await self.sshd.stop()


@dataclass
class RealHost:
    server: Any  # tests.sshd.OpenSshServer
    proxy: TcpProxy
    known_hosts: Path
    name: str = "real-01"

    def host_config(self, logs: tuple[LogSource, ...] = ()) -> Host:
        return Host(name=self.name, rpc_url=DUMMY_RPC,
                    ssh=SshTarget(host="127.0.0.1", port=self.proxy.port, user=self.server.user,
                                  key=str(self.server.key_path), known_hosts=str(self.known_hosts)),
                    logs=logs)

    def local(self, remote: str) -> Path:
        return Path(remote)  # a real host: the path is the path


async def real_host_via_proxy(server: Any, folder: Path, name: str = "real-01") -> RealHost:
    from tests.sshd import known_hosts_line

    proxy = await TcpProxy(server.port).start()
    kh = folder / "known_hosts_proxy"
    kh.write_text(known_hosts_line("127.0.0.1", proxy.port, server.host_key.with_suffix(".pub")))
    return RealHost(server, proxy, kh, name)


# ----------------------------------------------------------------------------- writer
class SeqWriter:
    """Appends ``<time> INFO svc: seq=N <padding>`` lines, flushed one by one."""

    def __init__(self, path: Path, pad: int = 40):
        self.path = path
        self.n = 0
        self.pad = "x" * pad
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def line(self, n: int) -> str:
        t = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f",{int(t * 1000) % 1000:03d}"
        return f"{stamp} INFO svc: seq={n} {self.pad}\n"

    def write(self, count: int = 1) -> None:
        self._reopen_if_moved()
        self._fh.write("".join(self.line(self.n + i) for i in range(count)))
        self._fh.flush()
        self.n += count

    def _reopen_if_moved(self) -> None:
        try:
            same = os.stat(self.path).st_ino == os.fstat(self._fh.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            self._fh.close()
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def rotate(self, suffix: str = ".1") -> None:
        """logrotate ``create``: rename, then a new empty file."""
        os.replace(self.path, str(self.path) + suffix)
        self._fh.close()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def copytruncate(self, suffix: str = ".1") -> None:
        shutil.copyfile(self.path, str(self.path) + suffix)
        os.truncate(self.path, 0)

    def truncate(self) -> None:
        os.truncate(self.path, 0)

    async def run(self, rate: float, total: int = 1 << 62, batch: int = 1,
                  stop: asyncio.Event | None = None) -> None:
        """``total`` lines (or until ``stop`` is set) at ``rate`` lines/s in batches, paced by the clock."""
        t0 = time.perf_counter()
        start = self.n
        while self.n - start < total and not (stop is not None and stop.is_set()):
            self.write(min(batch, total - (self.n - start)))
            due = t0 + (self.n - start) / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))

    def close(self) -> None:
        self._fh.close()


# ----------------------------------------------------------------------------- sink
@dataclass
class Collect:
    """A ``runners.logs.sources.Sink`` that records everything."""

    got: list[str] = field(default_factory=list)
    gaps: list[tuple[str, int | None]] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # perf_counter per line
    history: list[str] = field(default_factory=list)  # the lines delivered as history (backlog)

    def __post_init__(self) -> None:
        self._changed = asyncio.Event()

    async def lines(self, src: Any, lines: list[str], history: bool = False) -> None:  # type: ignore[override]
        now = time.perf_counter()
        self.got.extend(lines)
        if history:
            self.history.extend(lines)
        self.arrivals.extend([now] * len(lines))
        self._poke()

    def gap(self, src: Any, reason: str, lost: int | None) -> None:
        self.gaps.append((reason, lost))
        self._poke()

    def notice(self, src: Any, level: str, message: str) -> None:
        self.notices.append((level, message))
        self._poke()

    def connected(self, src: Any) -> None:
        self._poke()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, cond: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
        """Until ``cond()`` holds: woken by every sink event, and every 50 ms for conditions
        on other objects (a source's session count, a proxy's connections)."""
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}; "
                                     f"have {len(self.got)} lines, gaps {self.gaps}, notices {self.notices[-3:]}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))

    def seqs(self) -> list[int]:
        return [int(m.group(1)) for t in self.got if (m := SEQ_RE.search(t))]


def seq_report(seqs: list[int], expected: int) -> dict[str, int]:
    """missing / duplicated / out-of-order counts against 0..expected-1."""
    seen = set(seqs)
    return {
        "received": len(seqs),
        "unique": len(seen),
        "missing": sum(1 for i in range(expected) if i not in seen),
        "duplicates": len(seqs) - len(seen),
        "out_of_order": sum(1 for a, b in zip(seqs, seqs[1:]) if b < a),
    }


# Fixtures shared by the log-source and hub tests (import them into the test module).
@pytest.fixture
async def sim(tmp_path):
    """A simulated host whose SSH serves the log files the tests write."""
    host = await SimLogHost(tmp_path / "sim").start()
    yield host
    await host.stop()


@pytest.fixture
async def pool():
    from runners.ssh import SshPool

    p = SshPool(ssh_config=None, connect_timeout=5)
    yield p
    await p.close()

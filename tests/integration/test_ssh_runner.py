"""runners.ssh against a REAL OpenSSH sshd (tests/sshd.py) and an in-process asyncssh server.

Real sshd: commands, streams, SFTP, host-key policy, auth, ProxyJump, reconnects.
asyncssh server: what needs server-side hooks (handshakes in flight, dropping connections,
seeing a channel closed)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from runners.config import Host, SshTarget
from runners.errors import HostKeyError, SshError
from runners.ssh import MAX_LINE, SshPool, parse_jump
from tests import sshd as sshd_module
from tests.sshd import DUMMY_RPC, free_port, keygen, known_hosts_line

sshd_only = pytest.mark.sshd


@pytest.fixture
async def pool():
    p = SshPool(ssh_config=None, connect_timeout=5.0)
    yield p
    await p.close()


async def eventually(predicate, timeout: float = 5.0, what: str = "condition"):
    """Await an async predicate that has no notification of its own (remote process state)."""
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.05)


async def session_pid(h) -> int:
    """The pid of the sshd process serving this connection: the parent of the command shell's
    parent (commands run under a guard shell on OpenSSH hosts). /proc, not ps: CI images may
    lack procps."""
    return int((await h.run("sed -n 's/^PPid:[[:space:]]*//p' /proc/$PPID/status")).stdout)


async def remote_process_gone(h, marker: str) -> bool:
    """No process on the host has ``marker`` in its command line. The pattern's "[x]" keeps
    grep (and the shells running it) from matching themselves."""
    pattern = f"[{marker[0]}]{marker[1:]}"
    return (await h.run(f"grep -qsa '{pattern}' /proc/[0-9]*/cmdline")).exit_status != 0


def fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    return out.split()[1]  # "256 SHA256:... comment (ED25519)"


# -------------------------------------------------------------------------- the fixture

def test_missing_sshd_skips_or_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sshd_module, "SSHD", tmp_path / "no-sshd")
    monkeypatch.delenv("DRYRUN_REQUIRE_SSHD", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"real-sshd tests skipped: {tmp_path / 'no-sshd'} not found"):
        sshd_module.require_sshd()
    monkeypatch.setenv("DRYRUN_REQUIRE_SSHD", "1")
    with pytest.raises(pytest.fail.Exception, match="DRYRUN_REQUIRE_SSHD=1"):
        sshd_module.require_sshd()


@sshd_only
def test_fixture_api(sshd):
    host = sshd.host_config("api")
    assert (host.name, host.ssh.host, host.ssh.port) == ("api", "127.0.0.1", sshd.port)
    assert Path(host.ssh.key) == sshd.key_path and Path(host.ssh.known_hosts) == sshd.known_hosts
    assert sshd.root.is_dir() and sshd.known_hosts.read_text() == sshd.known_hosts_entry


# ------------------------------------------------------------------ commands and streams

@sshd_only
async def test_run_exit_status_stdout_stderr(sshd, pool):
    h = await pool.host(sshd.host_config(), Path)
    r = await h.run("echo out; echo err >&2; exit 3")
    assert (r.exit_status, r.stdout, r.stderr, r.ok) == (3, "out\n", "err\n", False)
    with pytest.raises(SshError) as ei:
        await h.run("echo first >&2; echo 'the reason' >&2; exit 4", check=True)
    assert "exited with status 4" in str(ei.value) and "the reason" in str(ei.value)
    assert (await h.run("printf ok", check=True)).stdout == "ok"


@sshd_only
async def test_one_connection_is_reused_for_everything(sshd, pool, tmp_path):
    (sshd.root / "reuse.txt").write_text("x")
    h = await pool.host(sshd.host_config("reuse"), Path)
    assert await pool.host(sshd.host_config("reuse"), Path) is h
    peers = {(await h.run("echo $SSH_CONNECTION")).stdout for _ in range(3)}  # client addr+port of the link
    await h.stat(str(sshd.root / "reuse.txt"))
    await h.get(str(sshd.root / "reuse.txt"), tmp_path / "reuse.txt")
    async for _line in h.stream("echo a"):
        pass
    assert len(peers) == 1
    assert pool.handshakes_started == 1


@sshd_only
async def test_run_timeout_stops_the_command(sshd, pool):
    h = await pool.host(sshd.host_config(), Path)
    marker = f"dryrun-timeout-{os.getpid()}-{time.monotonic_ns()}"
    assert await remote_process_gone(h, marker)
    with pytest.raises(SshError, match=r"did not finish within 0\.5 s"):
        await h.run(f"sh -c 'sleep 30; true {marker}'", timeout=0.5)
    await eventually(lambda: remote_process_gone(h, marker), what="remote sleep killed")


@sshd_only
async def test_stream_follows_a_growing_file(sshd, pool):
    log = sshd.root / "follow.log"
    log.write_text("ready\n")
    h = await pool.host(sshd.host_config(), Path)
    lines = h.stream(f"tail -n +1 -F {log}")
    try:
        assert await asyncio.wait_for(anext(lines), 5) == b"ready"
        for i in range(5):
            with open(log, "a") as f:
                f.write(f"event {i} \xe9\n")  # non-ASCII: lines are raw bytes
            assert await asyncio.wait_for(anext(lines), 5) == f"event {i} \xe9".encode()
    finally:
        await lines.aclose()


@sshd_only
@pytest.mark.parametrize("body", [
    "tail -n +1 -F {log}",  # the real use (GNU tail also quits by itself once its pipe closes)
    "echo one; sleep 30",  # a command that never notices: only the guard stops it
])
async def test_stopping_a_stream_stops_the_remote_command(sshd, pool, body):
    h = await pool.host(sshd.host_config(), Path)
    log = sshd.root / "stop.log"
    log.write_text("one\n")
    marker = f"dryrun-stop-marker-{time.monotonic_ns()}"
    # The marker names the shell running the command, so the test can look for exactly this one.
    async for line in h.stream(f"sh -c '{body.format(log=log)}; true {marker}'"):
        assert line == b"one"
        assert not await remote_process_gone(h, marker)  # the probe does see it while it runs
        break
    await eventually(lambda: remote_process_gone(h, marker), what="remote command gone after the consumer stopped")
    assert (await h.run("echo still-usable")).stdout == "still-usable\n"


@sshd_only
async def test_stream_splits_overlong_lines(sshd, pool):
    h = await pool.host(sshd.host_config(), Path)
    n = 2 * MAX_LINE + 12345
    got = [line async for line in h.stream(f"head -c {n} /dev/zero | tr '\\0' a; echo; echo last")]
    assert [len(x) for x in got] == [MAX_LINE, MAX_LINE, 12345, 4]
    assert got[-1] == b"last" and set(got[0]) == {ord("a")}


@sshd_only
async def test_stream_reports_a_failing_command(sshd, pool):
    h = await pool.host(sshd.host_config(), Path)
    got = []
    with pytest.raises(SshError) as ei:
        async for line in h.stream("echo partial; echo 'no such unit' >&2; exit 5"):
            got.append(line)
    assert got == [b"partial"]
    assert "exited with status 5" in str(ei.value) and "no such unit" in str(ei.value)


@sshd_only
async def test_channel_limit_is_explained_and_the_connection_survives(sshd, pool):
    # OpenSSH allows MaxSessions (10) channels per connection: the 11th is refused.
    h = await pool.host(sshd.host_config(), Path)
    streams = [h.stream("echo up; exec sleep 30") for _ in range(10)]
    try:
        for s in streams:
            assert await asyncio.wait_for(anext(s), 5) == b"up"
        with pytest.raises(SshError, match="refused a new channel") as ei:
            await h.run("echo eleven")
        assert "MaxSessions" in str(ei.value)
    finally:
        for s in streams:
            await s.aclose()

    async def slot_free():  # sshd frees a session once its (guard-killed) command has exited
        with contextlib.suppress(SshError):
            return (await h.run("echo fine")).stdout == "fine\n"
        return False

    await eventually(slot_free, what="a session slot freed after closing the streams")
    assert pool.handshakes_started == 1


# ------------------------------------------------------------------------------- SFTP

@sshd_only
async def test_sftp_stat_and_get(sshd, pool, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = sshd.root / "blob.bin"
    src.write_bytes(data)
    h = await pool.host(sshd.host_config(), Path)

    st = await h.stat(str(src))
    assert st is not None and st.size == len(data) and not st.is_dir
    assert st.mtime == pytest.approx(src.stat().st_mtime, abs=1)
    assert (await h.stat(str(sshd.root))).is_dir
    assert await h.stat(str(sshd.root / "missing.bin")) is None

    dest = tmp_path / "sub" / "blob.bin"
    assert await h.get(str(src), dest) == len(data)
    assert hashlib.sha256(dest.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["blob.bin"]  # no temp file left


@sshd_only
async def test_failed_get_leaves_the_old_file_untouched(sshd, pool, tmp_path):
    h = await pool.host(sshd.host_config(), Path)
    dest = tmp_path / "keep.txt"
    dest.write_text("old content")
    with pytest.raises(SshError, match="cannot download .*missing.bin: no such file"):
        await h.get(str(sshd.root / "missing.bin"), dest)
    with pytest.raises(SshError, match=f"cannot download {sshd.root}"):
        await h.get(str(sshd.root), dest)  # a directory
    assert dest.read_text() == "old content"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


# ------------------------------------------------------------------------ host keys

@sshd_only
async def test_unknown_host_key_is_refused_with_fingerprint_and_hint(sshd, pool, tmp_path):
    kh = tmp_path / "known_hosts"  # does not exist yet: nothing is trusted
    with pytest.raises(HostKeyError) as ei:
        await pool.host(sshd.host_config(known_hosts=str(kh)), Path)
    msg = str(ei.value)
    fp = fingerprint(sshd.host_key.with_suffix(".pub"))
    assert msg.startswith(
        f"host key for [127.0.0.1]:{sshd.port} is not in {kh} (ssh-ed25519 {fp}). "
        f"If this is the right host, add it: ssh-keyscan -p {sshd.port} 127.0.0.1 >> {kh}")
    assert ei.value.fingerprint == fp
    assert pool.hosts["sshd-host"].connected is False

    # Following the hint works.
    scan = subprocess.run(["ssh-keyscan", "-p", str(sshd.port), "127.0.0.1"], capture_output=True, text=True)
    kh.write_text(scan.stdout)
    h = await pool.host(sshd.host_config(known_hosts=str(kh)), Path)
    assert h.host_key == f"ssh-ed25519 {fp}" and not h.insecure


@sshd_only
async def test_changed_host_key_is_refused_as_possible_mitm(sshd, pool, tmp_path):
    impostor = keygen(tmp_path / "old_host_key")
    kh = tmp_path / "known_hosts"
    kh.write_text(known_hosts_line("127.0.0.1", sshd.port, impostor.with_suffix(".pub")))
    with pytest.raises(HostKeyError) as ei:
        await pool.host(sshd.host_config(known_hosts=str(kh)), Path)
    msg = str(ei.value)
    assert f"host key for [127.0.0.1]:{sshd.port} has CHANGED" in msg
    assert "man-in-the-middle" in msg
    assert fingerprint(sshd.host_key.with_suffix(".pub")) in msg  # what the server offers
    assert fingerprint(impostor.with_suffix(".pub")) in msg  # what known_hosts holds
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {kh}" in msg
    assert ei.value.kind == "changed"


@sshd_only
async def test_known_key_of_another_type_only_is_refused(sshd, pool, tmp_path):
    rsa = tmp_path / "rsa_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(rsa)], check=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(known_hosts_line("127.0.0.1", sshd.port, rsa.with_suffix(".pub")))
    # The server has only an ed25519 key now: refused as a change, with both fingerprints.
    with pytest.raises(HostKeyError, match=f"host key for \\[127.0.0.1\\]:{sshd.port} has CHANGED") as ei:
        await pool.host(sshd.host_config(known_hosts=str(kh)), Path)
    assert fingerprint(rsa.with_suffix(".pub")) in str(ei.value)
    assert f"ssh-ed25519 {fingerprint(sshd.host_key.with_suffix('.pub'))}" in str(ei.value)


@sshd_only
async def test_strict_host_keys_off_connects_and_warns(sshd, pool, tmp_path, caplog):
    states = []
    pool.on_state = lambda host, status, detail: states.append((host, status, detail))
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with caplog.at_level(logging.WARNING, logger="runners.ssh"):
        h = await pool.host(sshd.host_config("lax", known_hosts=str(empty), strict_host_keys=False), Path)
    assert (await h.run("echo ok")).stdout == "ok\n"
    assert h.insecure and "host-key checking is OFF for lax" in h.insecure_reason
    assert any("host-key checking is OFF for lax" in r.getMessage() for r in caplog.records)
    assert states[-1][:2] == ("lax", "ok") and "host-key checking OFF" in states[-1][2]
    assert h.host_key.startswith("ssh-ed25519 SHA256:")


# ----------------------------------------------------------------------------- auth

@sshd_only
async def test_wrong_client_key_is_refused(sshd, pool, tmp_path):
    stranger = keygen(tmp_path / "stranger")
    with pytest.raises(SshError) as ei:
        await pool.host(sshd.host_config(key=str(stranger)), Path)
    assert str(ei.value) == f"permission denied for {sshd.user}@127.0.0.1:{sshd.port} (tried key {stranger})"
    assert not isinstance(ei.value, HostKeyError)


@sshd_only
async def test_missing_and_encrypted_keys_are_explained(sshd, pool, tmp_path):
    with pytest.raises(SshError, match=r"ssh.key: key file .*/nope does not exist"):
        await pool.host(sshd.host_config(key=str(tmp_path / "nope")), Path)
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase", "-f", str(locked)], check=True)
    with pytest.raises(SshError) as ei:
        await pool.host(sshd.host_config(key=str(locked)), Path)
    assert "protected by a passphrase" in str(ei.value) and "ssh-add" in str(ei.value)


@sshd_only
async def test_agent_is_used_when_no_key_is_set(sshd, tmp_path, monkeypatch):
    short = Path(tempfile.mkdtemp(prefix="dra-", dir="/tmp"))  # a unix socket path must be < 108 bytes
    sock = short / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists():  # ssh-agent -D gives no readiness signal but its socket
            assert agent.poll() is None and time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.02)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(sshd.key_path)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(tmp_path))  # no default ~/.ssh keys to fall back on
        async with SshPool(ssh_config=None) as p:
            h = await p.host(sshd.host_config("agent", key=""), Path)
            assert (await h.run("echo via-agent")).stdout == "via-agent\n"
        monkeypatch.delenv("SSH_AUTH_SOCK")
        async with SshPool(ssh_config=None) as p:
            with pytest.raises(SshError, match=r"permission denied .*no ssh.key set; tried no ssh-agent"):
                await p.host(sshd.host_config("agent", key=""), Path)
    finally:
        agent.terminate()
        agent.wait(5)
        shutil.rmtree(short, ignore_errors=True)


@sshd_only
async def test_ssh_config_is_honoured(sshd, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host camlab\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {sshd.user}\n"
                   f"  IdentityFile {sshd.key_path}\n  UserKnownHostsFile /dev/null\n")
    async with SshPool(ssh_config=cfg) as p:
        # Only the alias is configured here: name, port, user and key come from ssh_config.
        host = Host(name="aliased", rpc_url=DUMMY_RPC,
                    ssh=SshTarget(host="camlab", known_hosts=str(sshd.known_hosts)))
        h = await p.host(host, Path)
        assert (await h.run("echo $SSH_CONNECTION")).stdout.split()[2:] == ["127.0.0.1", str(sshd.port)]
        # ssh_config's UserKnownHostsFile cannot switch strict checking off.
        other = Host(name="aliased2", rpc_url=DUMMY_RPC,
                     ssh=SshTarget(host="camlab", known_hosts=str(tmp_path / "none")))
        with pytest.raises(HostKeyError, match="is not in"):
            await p.host(other, Path)


# ------------------------------------------------------------------- reachability

async def test_unreachable_port_is_named(pool):
    port = free_port()
    host = Host(name="gone", rpc_url=DUMMY_RPC, ssh=SshTarget(host="127.0.0.1", port=port, user="x"))
    with pytest.raises(SshError) as ei:
        await pool.host(host, Path)
    assert str(ei.value) == f"cannot reach 127.0.0.1:{port}: connection refused (is sshd running and listening on that port?)"


async def test_silent_server_times_out(tmp_path):
    async def mute(reader, writer):
        await reader.read()  # accept, never answer
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SshPool(ssh_config=None, connect_timeout=0.5) as p:
            host = Host(name="mute", rpc_url=DUMMY_RPC, ssh=SshTarget(host="127.0.0.1", port=port, user="x"))
            started = time.monotonic()
            with pytest.raises(SshError, match=rf"cannot reach 127.0.0.1:{port}: no SSH handshake within 0.5 s"):
                await p.host(host, Path)
            assert time.monotonic() - started < 3
    finally:
        server.close()
        await server.wait_closed()


async def test_host_without_ssh_target(pool):
    with pytest.raises(SshError, match=r"host plain has no SSH target"):
        await pool.host(Host(name="plain", rpc_url=DUMMY_RPC), Path)


@pytest.mark.parametrize("spec, expected", [
    ("bastion", ("", "bastion", 22)),
    ("ops@bastion", ("ops", "bastion", 22)),
    ("ops@10.0.0.1:2200", ("ops", "10.0.0.1", 2200)),
    ("[::1]:2222", ("", "::1", 2222)),
    ("me@[fe80::1]", ("me", "fe80::1", 22)),
])
def test_parse_jump(spec, expected):
    assert parse_jump(spec) == expected


@pytest.mark.parametrize("spec, msg", [
    ("", "expected one bastion"), ("a b", "expected one bastion"), ("a,b", "expected one bastion"),
    ("h:0", "port must be 1-65535"), ("h:x", "port must be 1-65535"), ("u@:22", "no host"),
    ("[::1", "bad bracketed address"),
])
def test_parse_jump_rejects(spec, msg):
    with pytest.raises(SshError, match=msg):
        parse_jump(spec)


# ------------------------------------------------------------------------ ProxyJump

@sshd_only
async def test_proxy_jump_through_the_bastion(sshd, sshd_bastion, pool):
    host = sshd.host_config("behind", proxy_jump=sshd_bastion.jump_spec, known_hosts=str(sshd_bastion.known_hosts))
    h = await pool.host(host, Path)
    assert (await h.run("echo through")).stdout == "through\n"
    # The bastion forwarded a channel to the target: the tunnel was really used.
    assert f"target 127.0.0.1 port {sshd.port}" in sshd_bastion.log_text()
    assert pool.handshakes_started == 2


@sshd_only
async def test_bastion_host_key_is_checked_too(sshd, sshd_bastion, pool):
    host = sshd.host_config("behind", proxy_jump=sshd_bastion.jump_spec, known_hosts=str(sshd.known_hosts))
    with pytest.raises(HostKeyError) as ei:
        await pool.host(host, Path)  # sshd.known_hosts trusts the target only
    assert f"host key for [127.0.0.1]:{sshd_bastion.port} (bastion for behind) is not in" in str(ei.value)


@sshd_only
async def test_bastion_that_refuses_forwarding(sshd, pool, tmp_path):
    # The target sshd itself has AllowTcpForwarding no: as a bastion it refuses the tunnel.
    host = sshd.host_config("nofwd", proxy_jump=sshd.jump_spec)
    with pytest.raises(SshError, match=f"cannot reach 127.0.0.1:{sshd.port} through the bastion"):
        await pool.host(host, Path)


# ------------------------------------------------------------------------ reconnects

@sshd_only
async def test_killed_connection_is_detected_and_reconnected(sshd, pool):
    down = asyncio.Event()
    pool.on_state = lambda host, status, detail: down.set() if status == "down" else None
    h = await pool.host(sshd.host_config(), Path)
    pid = await session_pid(h)
    assert "sshd" in Path(f"/proc/{pid}/cmdline").read_text()
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(down.wait(), 10)
    assert not h.connected
    assert (await h.run("echo back")).stdout == "back\n"
    assert h.reconnects == 1 and await session_pid(h) != pid


@sshd_only
async def test_call_right_after_a_kill_reconnects(sshd, pool, tmp_path):
    (sshd.root / "after-kill.txt").write_text("still here")
    h = await pool.host(sshd.host_config(), Path)
    os.kill(await session_pid(h), signal.SIGKILL)
    # Whether or not the loss was noticed yet, the next call works on a new connection.
    st = await h.stat(str(sshd.root / "after-kill.txt"))
    assert st is not None and st.size == len("still here")
    assert h.reconnects == 1


# ------------------------------------------------------------- asyncssh test server

async def test_asyncssh_server_exec_stream_sftp(asyncssh_server, pool, tmp_path):
    h = await pool.host(asyncssh_server.host_config(), Path)
    r = await h.run("err bad thing")
    assert (r.exit_status, r.stdout, r.stderr) == (3, "", "bad thing\n")
    assert [x async for x in h.stream("lines 3")] == [b"line 0", b"line 1", b"line 2"]
    f = asyncssh_server.root / "f.txt"
    f.write_text("hello")
    assert (await h.stat(str(f))).size == 5
    assert await h.get(str(f), tmp_path / "f.txt") == 5 and (tmp_path / "f.txt").read_text() == "hello"


async def test_stream_consumer_stop_closes_the_channel(asyncssh_server, pool):
    h = await pool.host(asyncssh_server.host_config(), Path)
    async for line in h.stream("forever"):
        assert line == b"started"
        break
    await asyncio.wait_for(asyncssh_server.channel_closed.wait(), 5)
    assert asyncssh_server.closed_channels == 1


async def test_stream_cancelled_consumer_closes_the_channel(asyncssh_server, pool):
    h = await pool.host(asyncssh_server.host_config(), Path)
    started = asyncio.Event()

    async def consume():
        async for _line in h.stream("forever"):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.wait_for(asyncssh_server.channel_closed.wait(), 5)


async def test_stream_reports_a_dropped_connection(asyncssh_server, pool):
    h = await pool.host(asyncssh_server.host_config(), Path)
    lines = h.stream("forever")
    try:
        assert await asyncio.wait_for(anext(lines), 5) == b"started"
        asyncssh_server.drop_all()
        with pytest.raises(SshError, match="SSH connection lost while streaming 'forever'"):
            await asyncio.wait_for(anext(lines), 5)
    finally:
        await lines.aclose()
    assert [x async for x in h.stream("lines 1")] == [b"line 0"]  # the next call reconnects
    assert h.reconnects == 1


async def test_run_reports_a_dropped_connection(asyncssh_server, pool):
    h = await pool.host(asyncssh_server.host_config(), Path)
    task = asyncio.create_task(h.run("forever", timeout=10))
    await asyncio.wait_for(asyncssh_server.started.wait(), 5)  # the command is running
    asyncssh_server.drop_all()
    with pytest.raises(SshError, match="SSH connection lost while running 'forever'"):
        await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("limit", [3, 15])
async def test_handshakes_are_bounded(asyncssh_server, limit):
    hosts = [asyncssh_server.host_config(f"cam-{i:02d}") for i in range(15)]
    # The server holds every handshake until `limit` are in flight at once (or all have
    # started), so the count it sees is the client's real concurrency, not luck of timing.
    asyncssh_server.hold_auth(limit, len(hosts))
    async with SshPool(ssh_config=None, max_handshakes=limit) as p:
        conns = await asyncio.wait_for(asyncio.gather(*(p.host(h, Path) for h in hosts)), 20)
        assert len({id(c) for c in conns}) == 15
        assert asyncssh_server.handshakes == 15
        assert asyncssh_server.max_in_flight == limit
        assert p.max_handshakes_seen == limit
        assert [(await c.run("echo ok")).stdout for c in conns[:3]] == ["ok\n"] * 3


async def test_dropped_connection_reconnects_once(asyncssh_server, pool):
    states = []
    down = asyncio.Event()

    def on_state(host, status, detail):
        states.append(status)
        if status == "down":
            down.set()

    pool.on_state = on_state
    h = await pool.host(asyncssh_server.host_config(), Path)
    assert asyncssh_server.drop_all() == 1
    await asyncio.wait_for(down.wait(), 5)
    assert (await h.run("echo again")).stdout == "again\n"
    assert h.reconnects == 1 and asyncssh_server.handshakes == 2
    assert states == ["ok", "down", "ok"]


async def test_reconnect_failure_is_reported(asyncssh_server, pool):
    h = await pool.host(asyncssh_server.host_config(), Path)
    await asyncssh_server.stop()  # no listener any more, and the connection is dropped
    with pytest.raises(SshError, match=f"cannot reach 127.0.0.1:{asyncssh_server.port}: connection refused"):
        await h.run("echo x")

"""The simulated host's SSH server against real clients: OpenSSH ``ssh``/``sftp`` and asyncssh.

The OpenSSH tests run with ``StrictHostKeyChecking=yes`` against the known_hosts file the
simulator wrote, with ``-F /dev/null`` so no user config helps: they prove the host key,
the ``[127.0.0.1]:PORT`` known_hosts entry, the 0600 client key and the exec/SFTP
subsystems are what a real operator's client accepts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import asyncssh
import pytest
from PIL import Image

from runners.sim.host import SimHost, SimHostSpec
from runners.sim.keys import load_or_create_key
from runners.sim.media import write_snapshot_jpeg

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None or shutil.which("sftp") is None,
                                reason="OpenSSH client not installed (apt-get install -y openssh-client)")


@pytest.fixture
async def host(tmp_path):
    h = SimHost(SimHostSpec("cam-01", discovery_delay=0.05), tmp_path / "state")
    await h.start()
    await h.service.wait_ready(5)  # discovery's log lines are written before a test starts reading
    try:
        yield h
    finally:
        await h.stop()


def ssh_opts(h: SimHost, *, known_hosts: Path | None = None, key: Path | None = None) -> list[str]:
    return ["-F", "/dev/null", "-i", str(key or h.client_key),
            "-o", f"UserKnownHostsFile={known_hosts or h.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=10"]


async def openssh(h: SimHost, command: str, *, user: str = "operator", **kw) -> tuple[int, str, str]:
    # An asyncio subprocess: the sshd runs on this very event loop and must keep serving.
    proc = await asyncio.create_subprocess_exec(
        "ssh", *ssh_opts(h, **kw), "-p", str(h.ssh_port), f"{user}@127.0.0.1", command,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, out.decode(), err.decode()


async def sftp_batch(h: SimHost, batch: str, cwd: Path) -> tuple[int, str, str]:
    bf = cwd / "batch.txt"
    bf.write_text(batch)
    proc = await asyncio.create_subprocess_exec(
        "sftp", *ssh_opts(h), "-P", str(h.ssh_port), "-b", str(bf), "operator@127.0.0.1",
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, out.decode(), err.decode()


async def line_with(stream, text: str) -> str:
    """The next line containing ``text`` (other service log lines may come first)."""
    while text not in (line := await asyncio.wait_for(stream.readline(), 10)):
        assert line, f"stream ended before a line with {text!r}"
    return line


def connect(h: SimHost, **kw):
    opts = {"username": "operator", "client_keys": [str(h.client_key)], "known_hosts": str(h.known_hosts),
            "agent_path": None, "config": None} | kw
    return asyncssh.connect("127.0.0.1", h.ssh_port, **opts)


# ----------------------------------------------------------------------------- OpenSSH client

async def test_openssh_exec_with_strict_host_keys(host):
    assert (host.client_key.stat().st_mode & 0o777) == 0o600
    assert host.known_hosts.read_text().startswith(f"[127.0.0.1]:{host.ssh_port} ssh-ed25519 ")
    code, out, err = await openssh(host, "uname -a")
    assert code == 0, err
    assert out.startswith("Linux cam-01 ") and out.rstrip().endswith("GNU/Linux")
    code, out, _ = await openssh(host, "cat /etc/os-release")
    assert code == 0 and 'VERSION_ID="22.04"' in out
    assert (await openssh(host, "python3 --version"))[1] == "Python 3.10.12\n"
    assert (await openssh(host, "mediamtx --version"))[1].startswith("v1.")
    assert (await openssh(host, "ls /dev/video*"))[1] == "/dev/video0\n/dev/video1\n"
    code, out, _ = await openssh(host, "camera-service --version")
    assert code == 0 and host.service.version in out


async def test_openssh_unknown_command_is_127(host):
    code, out, err = await openssh(host, "frobnicate --all")
    assert (code, out) == (127, "") and err == "bash: frobnicate: command not found\n"


async def test_openssh_refuses_an_unknown_host_key(host, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    code, _, err = await openssh(host, "uname -a", known_hosts=empty)
    assert code == 255 and "Host key verification failed" in err


async def test_openssh_refuses_other_keys_and_users(host, tmp_path):
    other = tmp_path / "other_key"
    load_or_create_key(other)
    code, _, err = await openssh(host, "uname -a", key=other)
    assert code == 255 and "Permission denied (publickey)" in err
    code, _, err = await openssh(host, "uname -a", user="root")
    assert code == 255 and "Permission denied (publickey)" in err


async def test_openssh_restart_via_sudo_systemctl(host):
    await host.service.wait_ready(5)
    code, out, err = await openssh(host, "sudo systemctl restart camera-service")
    assert (code, out, err) == (0, "", "")
    assert host.service.restarts == 1
    assert await host.service.wait_ready(5)
    code, out, _ = await openssh(host, "systemctl is-active camera-service")
    assert (code, out) == (0, "active\n")
    code, out, _ = await openssh(host, "journalctl -u camera-service -o cat --no-pager")
    assert "Started camera-service.service" in out and "camera service restarting" in out


async def test_openssh_sftp_get_and_read_only_outside_operator_folders(host, tmp_path):
    host.log.info("sftp marker")
    write_snapshot_jpeg(host.local("/opt/camera-service/snapshots/s1.jpg"), when=datetime.now())
    work = tmp_path / "work"
    work.mkdir()
    code, out, err = await sftp_batch(host, "get /var/log/camera-service.log svc.log\n"
                                            "get /opt/camera-service/snapshots/s1.jpg\n"
                                            "ls /opt/camera-service\n", work)
    assert code == 0, err
    assert (work / "svc.log").read_bytes() == host.local("/var/log/camera-service.log").read_bytes()
    with Image.open(work / "s1.jpg") as img:
        assert img.format == "JPEG"
    assert "recordings" in out and "snapshots" in out
    (work / "up.txt").write_text("hello")
    code, _, err = await sftp_batch(host, "put up.txt /etc/up.txt\n", work)
    assert code != 0 and "ermission denied" in err
    assert not host.local("/etc/up.txt").exists()
    code, _, err = await sftp_batch(host, "put up.txt /tmp/up.txt\n", work)
    assert code == 0, err
    assert host.local("/tmp/up.txt").read_text() == "hello"


# ----------------------------------------------------------------------------- asyncssh client

async def test_asyncssh_client_exec_and_sftp(host, tmp_path):
    write_snapshot_jpeg(host.local("/opt/camera-service/snapshots/s2.jpg"), when=datetime.now(), label="cam")
    async with connect(host) as conn:
        r = await conn.run("uname -r", check=False)
        assert (r.exit_status, r.stdout) == (0, "5.15.0-105-generic\n")
        r = await conn.run("nosuchtool", check=False)
        assert r.exit_status == 127 and "command not found" in r.stderr
        r = await conn.run("stat -c %s /opt/camera-service/snapshots/s2.jpg", check=False)
        size = int(r.stdout)
        async with conn.start_sftp_client() as sftp:
            assert (await sftp.stat("/opt/camera-service/snapshots/s2.jpg")).size == size
            await sftp.get("/opt/camera-service/snapshots/s2.jpg", str(tmp_path / "s2.jpg"))
            with pytest.raises(asyncssh.SFTPNoSuchFile):
                await sftp.stat("/../../../etc/shadow")
        # Binary-safe exec: `cat` of a JPEG arrives byte for byte.
        r = await conn.run("cat /opt/camera-service/snapshots/s2.jpg", encoding=None, check=False)
        assert r.stdout == host.local("/opt/camera-service/snapshots/s2.jpg").read_bytes()
    assert (tmp_path / "s2.jpg").stat().st_size == size


async def test_asyncssh_password_and_wrong_key_refused(host, tmp_path):
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(host, client_keys=None, password="operator"):
            pass
    other = tmp_path / "k2"
    load_or_create_key(other)
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(host, client_keys=[str(other)]):
            pass


async def test_tail_F_follows_appends_and_rotation_until_channel_closes(host):
    log = host.local("/var/log/camera-service.log")
    async with connect(host) as conn:
        proc = await conn.create_process("tail -n 1 -F /var/log/camera-service.log")
        first = await asyncio.wait_for(proc.stdout.readline(), 10)  # the follower is running
        assert " INFO camera_service.api: " in first
        host.log.info("appended one", n=1)
        line = await line_with(proc.stdout, "appended one")
        assert line.rstrip().endswith("appended one n=1")
        os.rename(log, log.with_name("camera-service.log.1"))
        host.log.info("after rotation")  # ServiceLog reopens a fresh file at the old path
        await line_with(proc.stdout, "after rotation")
        assert "has been replaced" in await asyncio.wait_for(proc.stderr.readline(), 10)
        rec = next(e for e in reversed(host.sshd.execs) if e.command and e.command.startswith("tail"))
        assert not rec.done.is_set()
        proc.close()
        await asyncio.wait_for(rec.done.wait(), 10)  # the server-side follow ended with the channel


async def test_tail_c_offset_resumes_at_a_byte(host):
    async with connect(host) as conn:
        size = int((await conn.run("stat -c %s /var/log/camera-service.log", check=True)).stdout)
        host.log.info("resume here")
        proc = await conn.create_process(f"tail -c +{size + 1} -F /var/log/camera-service.log")
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert line.rstrip().endswith("resume here")  # nothing before the offset
        proc.close()


async def test_journalctl_follow_resumes_after_cursor(host):
    async with connect(host) as conn:
        r = await conn.run("journalctl -u camera-service -o json --show-cursor --no-pager", check=True)
        assert all(json.loads(x)["_SYSTEMD_UNIT"] == "camera-service.service" for x in r.stdout.splitlines()[:-1])
        cursor = r.stdout.splitlines()[-1].removeprefix("-- cursor: ")
        host.log.info("while away")
        proc = await conn.create_process(f"journalctl -u camera-service -f -o json --after-cursor '{cursor}'")

        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        assert first["MESSAGE"].endswith("while away")
        host.log.info("live line")
        nxt = json.loads(await line_with(proc.stdout, "live line"))
        assert nxt["MESSAGE"].endswith("live line") and nxt["__CURSOR"] != first["__CURSOR"]
        proc.close()


async def test_mediamtx_journal_and_interactive_shell(host):
    async with connect(host) as conn:
        r = await conn.run("journalctl -u mediamtx --no-pager", check=True)
        assert "[RTSP] listener opened" in r.stdout and "cam-01 mediamtx[" in r.stdout
        proc = await conn.create_process(term_type="xterm")
        await asyncio.wait_for(proc.stdout.readuntil("$ "), 10)
        proc.stdin.write("hostname\n")
        assert "cam-01" in await asyncio.wait_for(proc.stdout.readuntil("$ "), 10)
        proc.stdin.write("exit\n")
        await asyncio.wait_for(proc.wait_closed(), 10)

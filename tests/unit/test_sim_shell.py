"""The simulated host's command interpreter, without SSH: outputs and exit codes like a real host."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from runners.sim.journal import Journal
from runners.sim.servicelog import ServiceLog
from runners.sim.shell import BufferIO, Shell, ShellContext


class StopAfter(BufferIO):
    """Output sink that reports 'closed' once `stop` is set (the SSH client went away)."""

    def __init__(self):
        super().__init__()
        self.stop = False
        self.grew = asyncio.Event()

    def out(self, data: bytes) -> None:
        super().out(data)
        self.grew.set()

    @property
    def closed(self) -> bool:
        return self.stop


@pytest.fixture
def shell(tmp_path):
    root = tmp_path / "root"
    for d in ("etc", "var/log", "home/operator", "opt/camera-service/recordings", "tmp"):
        (root / d).mkdir(parents=True)
    (root / "etc/os-release").write_text('NAME="Ubuntu"\nVERSION_ID="22.04"\n')
    (tmp_path / "secret.txt").write_text("outside the root")
    j = Journal(hostname="cam-01")
    restarts = []

    async def restart():
        restarts.append(1)

    ctx = ShellContext(root=root, hostname="cam-01", journal=j, restart=restart,
                       camera_devices=lambda: ["/dev/video0", "/dev/video1"])
    sh = Shell(ctx)
    sh.restarts = restarts  # type: ignore[attr-defined]
    sh.log = ServiceLog(root / "var/log/camera-service.log", journal=j)  # type: ignore[attr-defined]
    return sh


async def run(sh: Shell, cmd: str) -> tuple[int, str, str]:
    io = BufferIO()
    code = await sh.run(cmd, io)
    return code, io.stdout.decode(), io.stderr.decode()


async def test_version_probes(shell):
    code, out, _ = await run(shell, "uname -a")
    assert code == 0 and out.startswith("Linux cam-01 5.15.0-105-generic #") and out.endswith("GNU/Linux\n")
    assert (await run(shell, "uname -r"))[1] == "5.15.0-105-generic\n"
    assert (await run(shell, "python3 --version"))[1] == "Python 3.10.12\n"
    assert (await run(shell, "mediamtx --version"))[1] == "v1.9.3\n"
    assert (await run(shell, "cat /etc/os-release"))[1].startswith('NAME="Ubuntu"')
    assert (await run(shell, "ls /dev/video*"))[1] == "/dev/video0\n/dev/video1\n"


async def test_unknown_command_is_127(shell):
    assert await run(shell, "frobnicate --now") == (127, "", "bash: frobnicate: command not found\n")


async def test_operators_and_redirections(shell):
    assert (await run(shell, "test -f /etc/os-release && echo yes || echo no"))[1] == "yes\n"
    assert (await run(shell, "[ -f /nope ] && echo yes || echo no"))[1] == "no\n"
    assert (await run(shell, "cat /nope 2>/dev/null; echo $?"))[2] == ""
    assert (await run(shell, "sudo -n systemctl is-active camera-service"))[1] == "active\n"
    assert (await run(shell, "LC_ALL=C uname -s"))[1] == "Linux\n"
    assert (await run(shell, "sh -c 'echo a && echo b'"))[1] == "a\nb\n"
    assert (await run(shell, "cat /etc/os-release | grep VERSION_ID"))[1] == 'VERSION_ID="22.04"\n'
    assert (await run(shell, "ls /dev/video* | wc -l"))[1] == "2\n"
    assert (await run(shell, "echo a | "))[0] == 2  # syntax error, not a crash


async def test_files_and_stat(shell):
    p = shell.ctx.root / "var/log/camera-service.log"
    p.write_bytes(b"x" * 123)
    code, out, _ = await run(shell, "stat -c %s /var/log/camera-service.log")
    assert (code, out) == (0, "123\n")
    code, out, _ = await run(shell, "stat -c '%s %Y' /var/log/camera-service.log")
    size, mtime = out.split()
    assert size == "123" and abs(int(mtime) - os.stat(p).st_mtime) < 2
    code, _, err = await run(shell, "stat -c %s /var/log/none.log")
    assert code == 1 and "cannot statx '/var/log/none.log': No such file or directory" in err
    assert (await run(shell, "test -f /var/log/camera-service.log"))[0] == 0
    assert (await run(shell, "test -f /var/log/none.log"))[0] == 1
    assert (await run(shell, "cat /var/log"))[2] == "cat: /var/log: Is a directory\n"


async def test_paths_cannot_escape_root(shell):
    code, _, err = await run(shell, "cat /../../secret.txt")
    assert code == 1 and "No such file" in err
    os.symlink(shell.ctx.root.parent / "secret.txt", shell.ctx.root / "tmp/link")
    code, _, err = await run(shell, "cat /tmp/link")
    assert code == 1 and "No such file" in err


async def test_rm_only_where_an_operator_may(shell):
    (shell.ctx.root / "opt/camera-service/recordings/a.mp4").write_bytes(b"1")
    assert (await run(shell, "rm /opt/camera-service/recordings/a.mp4"))[0] == 0
    code, _, err = await run(shell, "rm /etc/os-release")
    assert code == 1 and "Permission denied" in err and (shell.ctx.root / "etc/os-release").exists()


async def test_restart_calls_the_service_and_logs_to_journal(shell):
    code, out, err = await run(shell, "sudo systemctl restart camera-service")
    assert (code, out, err) == (0, "", "")
    assert shell.restarts == [1]
    msgs = [e.message for e in shell.ctx.journal.entries("camera-service")]
    assert any(m.startswith("Stopping camera-service.service") for m in msgs)
    assert any(m.startswith("Started camera-service.service") for m in msgs)
    code, _, err = await run(shell, "systemctl restart nosuch")
    assert code == 5 and "Unit nosuch.service could not be found." in err


async def test_tail_modes(shell):
    p = shell.ctx.root / "var/log/app.log"
    p.write_bytes(b"".join(b"line %d\n" % i for i in range(1, 21)))
    assert (await run(shell, "tail -n 2 /var/log/app.log"))[1] == "line 19\nline 20\n"
    assert (await run(shell, "tail -n +19 /var/log/app.log"))[1] == "line 19\nline 20\n"
    assert (await run(shell, "tail -c +8 /var/log/app.log"))[1].startswith("line 2\n")
    assert (await run(shell, "tail -n x /var/log/app.log"))[0] == 1


async def test_tail_follow_handles_append_truncate_and_rotation(shell):
    p = shell.ctx.root / "var/log/app.log"
    p.write_bytes(b"old\n")
    io = StopAfter()
    task = asyncio.create_task(shell.run("tail -n 1 -F /var/log/app.log", io))

    async def until(marker: bytes) -> None:
        while marker not in io.stdout:
            io.grew.clear()
            await io.grew.wait()

    await asyncio.wait_for(until(b"old\n"), 5)  # the follower runs: what comes next is new
    with open(p, "ab") as f:
        f.write(b"new 1\n")
    await asyncio.wait_for(until(b"new 1\n"), 5)
    os.truncate(p, 0)
    with open(p, "ab") as f:
        f.write(b"after truncate\n")
    await asyncio.wait_for(until(b"after truncate\n"), 5)
    os.rename(p, p.with_suffix(".log.1"))
    p.write_bytes(b"rotated in\n")
    await asyncio.wait_for(until(b"rotated in\n"), 5)
    io.stop = True
    assert await asyncio.wait_for(task, 5) == 0
    assert io.stdout == b"old\nnew 1\nafter truncate\nrotated in\n"
    assert b"file truncated" in io.stderr and b"has been replaced" in io.stderr


async def test_journalctl_cursor_resume(shell):
    shell.log.info("first")
    shell.log.info("second")
    code, out, _ = await run(shell, "journalctl -u camera-service -o json --show-cursor --no-pager")
    lines = out.splitlines()
    assert code == 0 and lines[-1].startswith("-- cursor: ")
    first = json.loads(lines[0])
    assert first["MESSAGE"].endswith("first") and first["_SYSTEMD_UNIT"] == "camera-service.service"
    code, out, _ = await run(shell, f"journalctl -u camera-service -o cat --after-cursor '{first['__CURSOR']}'")
    assert out.splitlines()[0].endswith("second") and len(out.splitlines()) == 1
    code, _, err = await run(shell, "journalctl -u camera-service --after-cursor 's=bogus;i=1'")
    assert code == 1 and err == "Failed to seek to cursor: Invalid argument\n"
    assert (await run(shell, "journalctl -u nosuch"))[1] == "-- No entries --\n"
    assert (await run(shell, "journalctl --bogus"))[0] == 1
    import time

    later = int(time.time()) + 60
    assert (await run(shell, f"journalctl -u camera-service --since @{later} -o cat -q"))[1] == ""
    code, out, _ = await run(shell, f"journalctl -u camera-service --since @{later - 3600} -o cat -n 1 --no-pager")
    assert code == 0 and out.rstrip().endswith("second")
    assert (await run(shell, "journalctl --since yesterday-ish"))[0] == 1


async def test_journalctl_follow_from_cursor(shell):
    shell.log.info("before")
    cursor = shell.ctx.journal.entries("camera-service")[-1].cursor
    shell.log.info("missed while away")
    io = StopAfter()
    task = asyncio.create_task(shell.run(f"journalctl -u camera-service -f -o json --after-cursor '{cursor}'", io))
    while b"missed while away" not in io.stdout:
        io.grew.clear()
        await asyncio.wait_for(io.grew.wait(), 5)
    shell.log.info("live")
    while b"live" not in io.stdout:
        io.grew.clear()
        await asyncio.wait_for(io.grew.wait(), 5)
    io.stop = True
    assert await asyncio.wait_for(task, 5) == 0
    msgs = [json.loads(x)["MESSAGE"] for x in io.stdout.decode().splitlines()]
    assert [m.split(": ", 1)[1] for m in msgs] == ["missed while away", "live"]

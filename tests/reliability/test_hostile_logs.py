"""Hostile log streams and hostile service text, end to end.

The log tail itself is covered by tests/integration/test_log_sources.py (escapes and
invalid UTF-8 neutralised, 300 KB lines) and tests/unit/test_log_parse.py. The gaps filled
here:

- a 1 MiB line through a log tail (and the lines after it) and into the log buffer and
  its display text: bounded, safe, nothing lost after it;
- the *smoke run's* path for service text: a failing check's service-log excerpt and the
  service's RPC error message reach ``dryrun run``'s stdout, the run log (what ``tee``
  would show) and the JUnit XML. A hostile host writes terminal escape sequences (OSC
  title, clear screen, C1 CSI, bidi override), invalid UTF-8 and a 1 MiB line: none of
  the control characters may reach the operator's terminal or the files, the XML must
  still parse, and the failure must still be attributed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import tomli_w

from runners.config import LogSource, config_to_dict, load_config
from runners.logs.buffer import LogBuffer
from runners.logs.display import message
from runners.logs.parse import is_safe
from runners.logs.sources import FileTail
from runners.sim.chaos import Chaos, marker
from runners.sim.fleet import make_specs, run_fleet
from runners.ssh import SshPool
from tests.logs_support import Collect, SeqWriter, SimLogHost

pytestmark = pytest.mark.timeout(90)

LOG = "/var/log/camera-service.log"
MIB = 1 << 20
# What a hostile host puts in its text: OSC window title, clear screen, cursor moves, C1 CSI
# (U+009B), bidi override, BEL, backspace, CR (overwrites the line on a terminal), DEL.
HOSTILE = "\x1b]0;pwned\x07 \x1b[2J\x1b[H \x1b[31mred\x1b[0m \u009b31m \u202e evil \x08\x08 \r fake \x7f"
BAD_UTF8 = b" \xff\xfe\xc3\x28 \xed\xa0\x80 "
# Control characters that must never reach a terminal (TAB and LF are fine).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def unsafe_in(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in UNSAFE.finditer(text)})


# ------------------------------------------------------------------ 1 MiB line through a tail

@pytest.fixture
async def sim(tmp_path):
    host = await SimLogHost(tmp_path / "sim").start()
    yield host
    await host.stop()


async def test_a_1_mib_line_with_escapes_through_a_file_tail_then_the_buffer(sim):
    p = sim.local(LOG)
    big = b"BIG " + (HOSTILE.encode() + BAD_UTF8) * 16 + b"x" * MIB + b" END"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"first\n" + big + b"\n")
    w = SeqWriter(p)
    pool = SshPool(ssh_config=None, connect_timeout=5)
    spec = LogSource(name="svc", kind="file", path=LOG)
    host = sim.host_config((spec,))
    src = FileTail(host.name, spec, lambda: pool.host(host, Path), backlog_bytes=4 * MIB)
    sink = Collect()
    task = asyncio.create_task(src.run(sink))
    try:
        await sink.wait(lambda: any(t.startswith("BIG") or "BIG " in t for t in sink.got), 20, "the 1 MiB line")
        w.write(50)  # lines after the monster still arrive, all of them
        await sink.wait(lambda: len(sink.seqs()) >= 50, 20, "the 50 lines after it")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.close()
    assert sink.seqs() == list(range(50))
    texts = sink.got
    assert all(is_safe(t) for t in texts)
    big_parts = [t for t in texts if "x" * 1000 in t]
    assert sum(len(t) for t in big_parts) >= MIB  # nothing silently dropped (whole, or split in parts)

    # Into the console's log buffer and its display text: bounded and safe.
    buf = LogBuffer(cap=1000)
    assert buf.add_lines("cam-01", "svc", texts) == len(texts)
    for rec in buf.view:
        shown = message(rec)
        assert is_safe(shown) and not unsafe_in(shown)
        assert len(shown) <= 20_000, len(shown)


# ------------------------------------------------------------------ the smoke run's service text

class HostileChaos(Chaos):
    """One ``error`` on the first take_snapshot. With ``mark``, the service log gets the
    CHAOS marker (so the failure is attributed) with hostile text on the same line; without,
    only hostile lines (the failure stays unattributed and the excerpt is the raw window)."""

    def __init__(self, path: Path, mark: bool):
        super().__init__("none", 0)
        self.path, self.mark, self.left = path, mark, 1

    def pick(self, op, *, request_id=None, **context):
        if op != "rpc:take_snapshot" or not self.left:
            return None
        self.left -= 1
        self.injected.append({"op": op, "fault": "error", "id": request_id})
        with open(self.path, "ab") as f:  # raw bytes: invalid UTF-8 as a real broken logger writes it
            stamp = __import__("datetime").datetime.now().strftime("%Y-%m-%d %H:%M:%S,000").encode()
            head = stamp + b" ERROR camera-service: "
            if self.mark:
                f.write(head + marker("error", op, request_id).encode() + b" " + HOSTILE.encode() + BAD_UTF8 + b"\n")
            f.write(head + HOSTILE.encode() + BAD_UTF8 + b"\n")
            f.write(head + b"huge " + b"y" * MIB + HOSTILE.encode() + b"\n")
        return "error"


async def dryrun(cwd: Path, *args: str) -> tuple[int, str, str]:
    p = await asyncio.create_subprocess_exec(sys.executable, "-m", "tui.cli", *args, cwd=cwd,
                                             env={**os.environ, "NO_COLOR": "1"},
                                             stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    return p.returncode, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("mark", [True, False], ids=["attributed", "unattributed"])
async def test_hostile_service_text_never_reaches_the_terminal_or_the_files(tmp_path, mark):
    from runners.sim import _errors as E

    cfg = tmp_path / "dryrun.toml"
    async with run_fleet(make_specs(1, discovery_delay=0.05), tmp_path / "sim", config=cfg) as fleet:
        data = config_to_dict(load_config(cfg))
        data["checks"].update(recording_seconds=1.5, concurrency_seconds=1.5, health_timeout=10.0)
        cfg.write_text(tomli_w.dumps(data))
        host = fleet.hosts[0]
        svc = host.service
        svc.chaos = HostileChaos(host.local(host.service_log_path), mark)
        svc._chaos_error = lambda method: E.RpcFault(-32603, f"Internal error {HOSTILE}", {"detail": HOSTILE})
        rc, out, err = await dryrun(tmp_path, "run", "-c", str(cfg), "-k", "SMK_4", "--label", "02_smoke_run_1")
    assert rc == 1, out[-3000:] + err[-3000:]
    assert "cam-01::SMK-4 FAILED" in out
    if mark:
        assert "FAILED cam-01::SMK-4" in out and "[injected fault error on rpc:take_snapshot]" in out
    d = tmp_path / "dry_run"
    log = (d / "02_smoke_run_1.log").read_bytes().decode("utf-8")  # valid UTF-8, whatever the host wrote
    ET.parse(d / "02_smoke_run_1.xml")  # XML 1.0 forbids most control characters: must still parse
    problems = {name: unsafe_in(text) for name, text in (("stdout", out), ("stderr", err), ("run log", log))}
    assert not any(problems.values()), problems
    # Bounded: a 1 MiB line from the host is not pasted whole into the operator's terminal.
    assert len(out) < MIB, len(out)


async def run_in_pty(cwd: Path, *args: str, env: dict | None = None) -> tuple[int, str]:
    """``dryrun`` on a pseudo-terminal (the live-table mode an operator gets); all output."""
    import pty

    master, slave = pty.openpty()
    try:
        p = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui.cli", *args, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=slave,
            stderr=slave, env={k: v for k, v in {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200",
                                                 **(env or {})}.items() if k != "NO_COLOR"})
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    loop = asyncio.get_running_loop()

    def read_all() -> None:
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not b:
                return
            chunks.append(b)

    reader = loop.run_in_executor(None, read_all)
    rc = await asyncio.wait_for(p.wait(), 60)
    await asyncio.wait_for(reader, 10)
    os.close(master)
    return rc, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("evil", [
    "[link=https://evil.example/x]click here[/link] and [blink]BLINK[/blink]",
    "unbalanced [/oops] tag",
], ids=["hyperlink", "bad_tag"])
async def test_service_text_cannot_inject_markup_into_the_live_table(tmp_path, evil):
    """On a terminal ``dryrun run`` prints failures through rich: a service's error message
    must be shown as text, not interpreted as markup (a hyperlink to anywhere, a style, or a
    tag that makes the print raise so the failure line never appears)."""
    from runners.sim import _errors as E

    cfg = tmp_path / "dryrun.toml"
    async with run_fleet(make_specs(1, discovery_delay=0.05), tmp_path / "sim", config=cfg) as fleet:
        svc = fleet.hosts[0].service
        svc.chaos = Chaos("none", 0, faults={"error"}, rate=1.0, log=lambda line: svc.log.write("WARNING", line))
        svc._chaos_error = lambda method: E.RpcFault(-32603, f"Internal error {evil}")
        rc, screen = await run_in_pty(tmp_path, "run", "-c", str(cfg), "-k", "SMK_6", "--label", "02_smoke_run_1")
    assert rc == 1, screen[-3000:]
    assert "MarkupError" not in screen and "warning: sink" not in screen, "the failure line raised in the sink"
    assert "\x1b]8;" not in screen, "a service message made a terminal hyperlink"
    assert "\x1b[5m" not in screen, "a service message made text blink"
    live = screen.split("slowest")[0]  # the live part (before the end sections, which are plain text)
    assert evil in live.replace("\r", ""), "the FAILED line does not show the service's message as sent"

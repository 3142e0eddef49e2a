"""A fleet of simulated hosts, the dryrun.toml it writes, and `dryrun sim` as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
import websockets

from runners.config import load_config
from runners.sim.fleet import SimFleet, make_specs, run_fleet
from runners.sim.media import RecordingWriter


def mint(secret: str, role: str = "admin") -> str:
    now = int(time.time())
    return jwt.encode({"user_id": "test", "role": role, "iat": now, "exp": now + 300}, secret, algorithm="HS256")


async def rpc_ping(host_cfg, secret_path: Path) -> dict:
    """One ping per host; legacy needs `authenticate` first (camera-service-api.md)."""
    async with websockets.connect(host_cfg.rpc_url, open_timeout=5) as ws:
        if host_cfg.dialect == "legacy":
            token = mint(secret_path.read_text().strip())
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "authenticate",
                                      "params": {"auth_token": token}, "id": "a"}))
            auth = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert auth["result"]["authenticated"] is True, auth
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "ping", "id": 1}))
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_fleet_of_three_writes_a_config_that_loads_and_works(tmp_path):
    specs = make_specs(3, dialect="mixed", discovery_delay=0.05, cameras=1)
    cfg_path = tmp_path / "dryrun.toml"
    async with run_fleet(specs, tmp_path / ".dryrun-sim", config=cfg_path) as fleet:
        cfg = load_config(cfg_path)
        assert [h.name for h in cfg.hosts] == ["cam-01", "cam-02", "cam-03"]
        assert [h.dialect for h in cfg.hosts] == ["current", "legacy", "current"]
        ports = {p for h in fleet.hosts for p in (h.rpc_port, h.health_port, h.ssh_port)}
        assert len(ports) == 9 and all(port_open(p) for p in ports)
        text = cfg_path.read_text()
        for h, sim in zip(cfg.hosts, fleet.hosts):
            # Paths are relative to the config's folder and resolve from there.
            assert not Path(h.ssh.key).is_absolute()
            key, kh, secret = cfg.resolve(h.ssh.key), cfg.resolve(h.ssh.known_hosts), cfg.resolve(h.auth.secret_file)
            assert (key.stat().st_mode & 0o777) == 0o600 and (secret.stat().st_mode & 0o777) == 0o600
            assert kh.read_text().startswith(f"[127.0.0.1]:{h.ssh.port} ssh-ed25519 ")
            assert h.ssh.strict_host_keys and h.restart_command == "sudo systemctl restart camera-service"
            assert secret.read_text().strip() not in text  # the secret lives only in its file
            assert {s.kind for s in h.logs} == {"file", "journal"}
            log = next(s for s in h.logs if s.kind == "file")
            assert sim.local(log.path).exists()
            assert (await rpc_ping(h, secret))["result"] == "pong"
            async with httpx.AsyncClient() as http:
                path = "/health" if h.dialect == "current" else "/health/system"
                r = await http.get(h.health_url + path, timeout=5)
                assert r.status_code == 200 and "status" in r.json()
        assert len((tmp_path / ".dryrun-sim/known_hosts").read_text().splitlines()) == 3
    assert not any(port_open(p) for p in ports), "ports still open after the fleet stopped"


async def test_config_in_another_folder_resolves_from_there(tmp_path):
    async with run_fleet(make_specs(1, discovery_delay=0), tmp_path / "a/state") as fleet:
        fleet.write_config(tmp_path / "b/c/dryrun.toml")
        cfg = load_config(tmp_path / "b/c/dryrun.toml")
        h = cfg.hosts[0]
        assert h.ssh.key.startswith("../../a/state/")
        for p in (h.ssh.key, h.ssh.known_hosts, h.auth.secret_file):
            assert cfg.resolve(p).is_file()
        # Without a base folder the entry is absolute (for callers that keep it in memory).
        assert Path(fleet.hosts[0].host_config().ssh.key).is_absolute()


async def test_media_profiles_set_what_the_recordings_really_are(tmp_path):
    """auto: full media for small fleets, light above 8 hosts; a light recording decodes at
    its profile's size and rate."""
    import av

    from runners.sim.fleet import LIGHT_MEDIA_ABOVE, media_profile

    assert media_profile("auto", LIGHT_MEDIA_ABOVE) == "full" and media_profile("auto", LIGHT_MEDIA_ABOVE + 1) == "light"
    assert {(s.recording_fps, s.recording_size) for s in make_specs(9)} == {(5, (160, 120))}
    assert {(s.recording_fps, s.recording_size) for s in make_specs(2)} == {(15, (320, 240))}
    with pytest.raises(ValueError, match="media must be auto, full, light"):
        make_specs(1, media="huge")
    async with run_fleet(make_specs(1, media="light", discovery_delay=0.1), tmp_path / "sim") as fleet:
        svc = fleet.hosts[0].service
        assert (svc.recording_fps, svc.recording_size) == (5, (160, 120))  # what start_recording encodes with
        writer = RecordingWriter(tmp_path / "rec.mp4", fps=svc.recording_fps, size=svc.recording_size)
        await writer.start()
        await asyncio.sleep(1.2)
        await writer.stop()
    with av.open(str(tmp_path / "rec.mp4")) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (160, 120) and round(float(v.average_rate)) == 5


def test_fleet_rejects_bad_specs_and_foreign_state_dir(tmp_path):
    with pytest.raises(ValueError, match="hosts must be 1..64"):
        make_specs(0)
    with pytest.raises(ValueError, match="dialect must be one of"):
        make_specs(1, dialect="ancient")
    with pytest.raises(ValueError, match="chaos must be one of"):
        make_specs(1, chaos="spicy")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("do not touch")
    fleet = SimFleet(make_specs(1), foreign)
    with pytest.raises(ValueError, match="not made by `dryrun sim`"):
        asyncio.run(fleet.start())
    assert (foreign / "thesis.tex").read_text() == "do not touch"


async def test_restart_leaves_no_files_from_the_last_run(tmp_path):
    specs = make_specs(1, discovery_delay=0)
    async with run_fleet(specs, tmp_path / "s") as fleet:
        stale = fleet.hosts[0].local("/opt/camera-service/recordings/old.mp4")
        stale.write_bytes(b"x")
        key = fleet.client_key.read_bytes()
    async with run_fleet(specs, tmp_path / "s") as fleet:
        assert not fleet.hosts[0].local("/opt/camera-service/recordings/old.mp4").exists()
        assert fleet.client_key.read_bytes() == key  # the operator key survives restarts


# ----------------------------------------------------------------------------- dryrun sim (process)

async def _read_until(stream: asyncio.StreamReader, marker: str, timeout: float = 30) -> str:
    seen = []
    async def go():
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("dryrun sim exited early:\n" + "".join(seen))
            seen.append(line)
            if marker in line:
                return "".join(seen)
    return await asyncio.wait_for(go(), timeout)


async def test_dryrun_sim_serves_two_hosts_and_exits_cleanly_on_sigint(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui.cli", "sim", "--hosts", "2", "--dialect", "mixed", "--discovery-delay", "0.1",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner = await _read_until(proc.stdout, "Ctrl-C to stop")
        assert "wrote dryrun.toml" in banner and "ssh -i .dryrun-sim/keys/id_ed25519" in banner
        assert "recordings: 15 fps 320x240 (--media full" in banner  # 2 hosts: auto keeps full media
        assert "UserKnownHostsFile=.dryrun-sim/hosts/cam-01/known_hosts" in banner
        cfg = load_config(tmp_path / "dryrun.toml")
        assert len(cfg.hosts) == 2
        for h in cfg.hosts:
            path = "/health" if h.dialect == "current" else "/health/system"
            curl = await asyncio.create_subprocess_exec(
                "curl", "-sS", "--max-time", "5", h.health_url + path, stdout=asyncio.subprocess.PIPE)
            body, _ = await curl.communicate()
            assert curl.returncode == 0 and "status" in json.loads(body)
            assert (await rpc_ping(h, cfg.resolve(h.auth.secret_file)))["result"] == "pong"
        # The banner's ssh command works as printed (from the folder the config is in).
        ssh_line = next(x.strip() for x in banner.splitlines() if x.strip().startswith("ssh -i") and "uname" in x)
        ssh = await asyncio.create_subprocess_shell(
            ssh_line.replace("ssh -i", "ssh -F /dev/null -o BatchMode=yes -i", 1), cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(ssh.communicate(), 30)
        assert ssh.returncode == 0 and out.startswith(b"Linux cam-01"), err
        # The banner's python snippet (two lines, the second inside its quotes) works too,
        # without warnings from websockets.
        lines = banner.splitlines()
        at = next(i for i, x in enumerate(lines) if "websockets.sync.client" in x)
        py_cmd = lines[at].strip() + "\n" + lines[at + 1]
        py = await asyncio.create_subprocess_shell(py_cmd, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(py.communicate(), 30)
        assert json.loads(out)["result"] == "pong" and b"Warning" not in err, err
        ports = [p for h in cfg.hosts for p in (int(h.rpc_url.rsplit(":", 1)[1].split("/")[0]), h.ssh.port)]
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert b"stopped" in out and b"Traceback" not in err
        assert not any(port_open(p) for p in ports)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_dryrun_sim_refuses_to_overwrite_a_foreign_config(tmp_path):
    (tmp_path / "dryrun.toml").write_text("# my real lab config\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui.cli", "sim", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"not written by `dryrun sim`" in err
    assert (tmp_path / "dryrun.toml").read_text() == "# my real lab config\n"


def test_dryrun_sim_help_lists_options(capsys):
    from tui.cli import main

    with pytest.raises(SystemExit) as e:
        main(["sim", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for opt in ("--hosts", "--dialect", "--chaos", "--seed", "--discovery-delay", "--cameras", "--out",
                "--state-dir"):
        assert opt in text

"""runners.envprobe against simulated hosts over real SSH and RPC, and the freeze/validator on it."""

from __future__ import annotations

import dataclasses

from record.envfreeze import check_drift, freeze, validate_env
from record.layout import DryRunDir
from runners.config import load_config
from runners.envprobe import collect_env, parse_mediamtx_version, parse_os_release, parse_python_version, \
    parse_video_devices
from runners.sim.fleet import make_specs, run_fleet


def test_parsers():
    assert parse_os_release('NAME="Ubuntu"\nVERSION="22.04.4 LTS (Jammy)"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n') == \
        "Ubuntu 22.04.4 LTS"
    assert parse_os_release("NAME=Debian\nVERSION=11\n") == "Debian 11"
    assert parse_python_version("Python 3.10.12\n") == "3.10.12" and parse_python_version("bash: nope") == ""
    assert parse_mediamtx_version("v1.9.3\n") == "v1.9.3" and parse_mediamtx_version("") == ""
    assert parse_video_devices("/dev/video1\n/dev/video0\nls: x\n") == ["/dev/video0", "/dev/video1"]


async def test_collect_freeze_and_detect_drift_on_a_mixed_fleet(tmp_path):
    cfg_path = tmp_path / "dryrun.toml"
    async with run_fleet(make_specs(2, dialect="mixed", discovery_delay=0.05), tmp_path / "sim",
                         config=cfg_path) as fleet:
        cfg = load_config(cfg_path)
        env = await collect_env(cfg)
        cur, leg = env["hosts"]["cam-01"], env["hosts"]["cam-02"]
        assert "errors" not in cur and "errors" not in leg, (cur, leg)
        assert cur["dialect"] == "current" and cur["cameras"] == ["camera0", "camera1"]
        assert leg["cameras"] == ["/dev/video0", "/dev/video1"]
        for h in (cur, leg):
            assert h["kernel"] and h["os"] and h["python"].count(".") == 2 and h["mediamtx"].startswith("v")
            assert h["service_version"] and h["video_devices"]
        assert cur["kernel"] != leg["kernel"]
        assert env["lab"]["python"] and env["baseline"] == cfg.sprint.baseline

        d = DryRunDir(cfg.dry_run_path)
        res = freeze(d, env, cfg)
        assert validate_env(d, await collect_env(cfg)).ok  # nothing changed

        fleet.host("cam-01").service.version = "9.9.9"  # someone upgraded the service mid-sprint
        drift = validate_env(d, await collect_env(cfg))
        assert not drift.ok and drift.reason_codes == ["ENV_DRIFT_SERVICE"]
        assert drift.frozen_sha == res.sha256

        # an unreachable host is reported as such, never raised
        broken = dataclasses.replace(cfg, hosts=(dataclasses.replace(cfg.hosts[1], rpc_url="ws://127.0.0.1:9/ws"),))
        env2 = await collect_env(broken)
        assert "rpc" in env2["hosts"]["cam-02"]["errors"] and env2["hosts"]["cam-02"]["kernel"]
        codes = {x.code for x in check_drift(res.matrix, env2)}
        assert {"ENV_UNREACHABLE", "ENV_HOST_MISSING"} <= codes

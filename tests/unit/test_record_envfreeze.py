from __future__ import annotations

import copy
import json

import pytest

from record.envfreeze import check_drift, env_sha, freeze, load_frozen, validate_env
from record.errors import RecordError
from record.events_log import EventsLog, read_events
from tests.record_support import dry, write_config

ENV = {
    "collected_at": "2025-11-24T09:00:00Z",
    "baseline": "v1.2.3-cdr",
    "lab": {"os": "Debian 12", "kernel": "6.1.0", "arch": "x86_64", "python": "3.11.7", "console": "0.1.0",
            "hostname": "lab-1"},
    "hosts": {
        "cam-01": {"dialect": "current", "os": "Ubuntu 22.04.4 LTS", "kernel": "5.15.0-105-generic",
                   "arch": "x86_64", "python": "3.10.12", "mediamtx": "v1.9.3", "service_version": "2.1.0",
                   "cameras": ["camera1", "camera0"], "video_devices": ["/dev/video0"]},
    },
}


def live(**changes):
    e = copy.deepcopy(ENV)
    for k, v in changes.items():
        e["hosts"]["cam-01"][k] = v
    return e


def test_freeze_writes_matrix_envsh_and_sha(tmp_path, monkeypatch):
    monkeypatch.setenv("CAM_SECRET", "hunter2-very-secret")
    cfg = write_config(tmp_path)
    cfg = cfg.__class__(**{**cfg.__dict__, "hosts": (cfg.hosts[0].__class__(
        **{**cfg.hosts[0].__dict__, "auth": cfg.hosts[0].auth.__class__(secret_env="CAM_SECRET")}),)})
    d = dry(tmp_path)
    res = freeze(d, ENV, cfg)
    assert res.sha256 == env_sha(ENV) and not res.unchanged
    md, sh = d.env_matrix.read_text(), d.env_sh.read_text()
    assert res.sha256 in md and "| Kernel | 5.15.0-105-generic |" in md and "| Camera ids | camera0, camera1 |" in md
    assert "Env frozen. SHA=" + res.sha256[:12] in md and "Python=3.10.12" in md
    assert f"export DRYRUN_ENV_SHA={res.sha256}" in sh and "DRYRUN_CAM_01_MEDIAMTX=v1.9.3" in sh
    assert "CAM_SECRET" in sh and "hunter2" not in sh  # secrets by name only
    assert load_frozen(d)["sha256"] == res.sha256
    # the same facts collected later freeze to the same SHA
    again = dict(ENV, collected_at="2025-11-25T10:00:00Z")
    again["lab"] = dict(ENV["lab"], hostname="other-lab")
    assert freeze(d, again, cfg).unchanged


def test_refreeze_needs_the_flag_and_partial_needs_allow(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    freeze(d, ENV, cfg)
    with pytest.raises(RecordError, match="already frozen.*ENV_DRIFT_KERNEL"):
        freeze(d, live(kernel="5.15.0-106-generic"), cfg)
    assert freeze(d, live(kernel="5.15.0-106-generic"), cfg, refreeze=True).sha256 != env_sha(ENV)
    broken = live(errors={"ssh": "connection refused"})
    with pytest.raises(RecordError, match="unreachable parts: cam-01 ssh: connection refused"):
        freeze(d, broken, cfg, refreeze=True)
    res = freeze(d, broken, cfg, refreeze=True, allow_partial=True)
    assert res.errors and "Not collected" in d.env_matrix.read_text()


@pytest.mark.parametrize("change,code", [
    ({"kernel": "5.15.0-106-generic"}, "ENV_DRIFT_KERNEL"),
    ({"os": "Ubuntu 24.04 LTS"}, "ENV_DRIFT_OS"),
    ({"python": "3.12.1"}, "ENV_DRIFT_PYTHON"),
    ({"mediamtx": "v1.10.0"}, "ENV_DRIFT_MEDIAMTX"),
    ({"service_version": "2.2.0"}, "ENV_DRIFT_SERVICE"),
    ({"cameras": ["camera0"]}, "ENV_DRIFT_CAMERAS"),
    ({"dialect": "legacy"}, "ENV_DRIFT_DIALECT"),
])
def test_drift_reason_codes(change, code):
    drifts = check_drift(ENV, live(**change))
    assert [x.code for x in drifts] == [code]
    assert drifts[0].host == "cam-01" and code in drifts[0].message


def test_no_drift_for_python_patch_or_camera_order():
    assert check_drift(ENV, live(python="3.10.14", cameras=["camera0", "camera1"])) == []


def test_host_and_lab_level_drift():
    e = copy.deepcopy(ENV)
    e["hosts"]["cam-02"] = e["hosts"]["cam-01"]
    del e["hosts"]["cam-01"]
    e["lab"]["python"] = "3.12.0"
    e["baseline"] = "v1.2.4-cdr"
    codes = sorted(x.code for x in check_drift(ENV, e))
    assert codes == ["ENV_DRIFT_BASELINE", "ENV_DRIFT_PYTHON", "ENV_HOST_ADDED", "ENV_HOST_MISSING"]
    unreachable = live(errors={"rpc": "timeout"}, service_version="", cameras=[])
    assert [x.code for x in check_drift(ENV, unreachable)] == ["ENV_UNREACHABLE"]


def test_validate_env_halts_logs_and_can_be_overridden(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    log = EventsLog(d.events_log)
    res = validate_env(d, ENV, log=log)
    assert not res.ok and res.reason_codes == ["ENV_NOT_FROZEN"]
    freeze(d, ENV, cfg)
    assert validate_env(d, ENV, log=log).ok
    bad = validate_env(d, live(kernel="6.0"), log=log)
    assert not bad.ok and bad.reason_codes == ["ENV_DRIFT_KERNEL"]
    failure = json.loads(d.env_validation_failure.read_text())
    assert failure["reason_codes"] == ["ENV_DRIFT_KERNEL"]
    ov = validate_env(d, live(kernel="6.0"), allow_drift=True, log=log)
    assert ov.ok and ov.overridden
    kinds = [e["kind"] for e in read_events(d.events_log)]
    assert kinds.count("environment_validation_start") == 4
    assert "environment_validated" in kinds and kinds.count("environment_validation_fail") == 2
    assert kinds[-1] == "environment_validation_override"


def test_tampered_freeze_is_refused_not_trusted(tmp_path):
    cfg = write_config(tmp_path)
    d = dry(tmp_path)
    freeze(d, ENV, cfg)
    data = json.loads(d.env_frozen.read_text())
    data["matrix"]["hosts"]["cam-01"]["kernel"] = "6.9.9"
    d.env_frozen.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="does not match its SHA"):
        load_frozen(d)
    d.env_frozen.write_text("{ not json")
    with pytest.raises(RecordError) as e:
        load_frozen(d)
    assert f"{d.env_frozen}:1:" in str(e.value)

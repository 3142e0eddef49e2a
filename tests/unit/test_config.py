from __future__ import annotations

import pytest

from runners.config import ConfigError, config_to_dict, load_config, parse_config
from runners.starter import render_starter


def _host(**kw):
    return {"name": "cam-01", "rpc_url": "ws://127.0.0.1:8002/ws", **kw}


def test_starter_round_trips(tmp_path):
    p = tmp_path / "dryrun.toml"
    p.write_text(render_starter())
    cfg = load_config(p)
    assert cfg.hosts[0].name == "cam-01"
    assert cfg.hosts[0].ssh.strict_host_keys is True
    assert cfg.gates.flaky_max_pct == 5.0
    assert parse_config(config_to_dict(cfg)) == parse_config(config_to_dict(cfg))


def test_starter_commented_examples_load_once_uncommented(tmp_path):
    """The [[suites]] and [inventory] examples are commented out; uncommented they must be valid."""
    import re

    text = render_starter()
    block = text[text.index("# [[suites]]"):]
    live = re.sub(r"^# (?=\[|[a-z_]+ = )", "", block, flags=re.M)
    (tmp_path / "inventory.ini").write_text("[cameras]\ncam-07 ansible_host=127.0.0.1\n")
    p = tmp_path / "dryrun.toml"
    p.write_text(text[:text.index("# [[suites]]")] + live)
    cfg = load_config(p)
    assert [s.name for s in cfg.suites] == ["team-smoke"] and cfg.suites[0].env == ("CAMERA_SERVICE_JWT_SECRET",)
    assert [h.name for h in cfg.hosts] == ["cam-01", "cam-07"]


@pytest.mark.parametrize(
    "data, key, reason",
    [
        ({"hosts": [_host(bogus=1)]}, "hosts[0].bogus", "unknown key"),
        ({"checks": {"rpc_timeout": "fast"}}, "checks.rpc_timeout", "must be a number"),
        ({"checks": {"rpc_timeout": 0}}, "checks.rpc_timeout", "greater than 0"),
        ({"sprint": {"days": True}}, "sprint.days", "must be an integer"),
        ({"sprint": {"standups": ["9:00"]}}, "sprint.standups[0]", "HH:MM"),
        ({"sprint": {"start_date": "tomorrow"}}, "sprint.start_date", "ISO date"),
        ({"hosts": [{"name": "cam-01"}]}, "hosts[0].rpc_url", "required"),
        ({"hosts": [_host(dialect="ancient")]}, "hosts[0].dialect", "must be one of"),
        ({"hosts": [_host(rpc_url="http://x")]}, "hosts[0].rpc_url", "ws://"),
        ({"hosts": [_host(), _host()]}, "hosts[1].name", "duplicate"),
        ({"hosts": [_host(logs=[{"name": "j", "kind": "journal"}])]}, "hosts[0].logs[0].unit", "required"),
        ({"hosts": [_host(auth={"token_env": "A", "token_file": "b"})]}, "hosts[0].auth", "not both"),
        ({"run": {"failfast": "maybe"}}, "run.failfast", "must be one of"),
    ],
)
def test_bad_config_names_key_and_reason(data, key, reason):
    with pytest.raises(ConfigError) as ei:
        parse_config(data)
    assert ei.value.key == key
    assert reason in ei.value.reason


def test_file_errors_name_the_file(tmp_path):
    p = tmp_path / "dryrun.toml"
    with pytest.raises(ConfigError, match="file not found"):
        load_config(p)
    p.write_bytes(b"[sprint\n")
    with pytest.raises(ConfigError, match="invalid TOML") as ei:
        load_config(p)
    assert str(p) in str(ei.value)
    p.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(p)


def test_relative_paths_resolve_against_config_folder(tmp_path):
    p = tmp_path / "sub" / "dryrun.toml"
    p.parent.mkdir()
    p.write_text('[run]\ndry_run_dir = "dr"\n')
    cfg = load_config(p)
    assert cfg.dry_run_path == (tmp_path / "sub" / "dr").resolve()

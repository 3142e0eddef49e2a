"""The additive config sections: ``[[suites]]`` (external pytest suites) and ``[inventory]``."""

from __future__ import annotations

import pytest

from runners.config import ConfigError, Inventory, Suite, config_to_dict, load_config, parse_config, suite_placeholders


def _host(name="cam-01", **kw):
    return {"name": name, "rpc_url": "ws://127.0.0.1:8002/ws", **kw}


def test_suite_defaults_and_round_trip():
    cfg = parse_config({"hosts": [_host()], "suites": [
        {"name": "team", "command": "{python} -m pytest tests/smoke -q", "env": ["CAMERA_TOKEN"]},
        {"name": "per-host", "command": "pytest --url {rpc_url}", "hosts": ["*"], "timeout": 60},
    ]})
    team, per = cfg.suites
    assert team == Suite(name="team", command="{python} -m pytest tests/smoke -q", env=("CAMERA_TOKEN",))
    assert team.timeout == 1800.0 and team.hosts == () and team.cwd == ""
    assert per.hosts == ("*",) and per.timeout == 60.0
    assert parse_config(config_to_dict(cfg)) == cfg


def test_unused_sections_are_left_out_of_a_written_config():
    # So `[[suites]]` / `[inventory]` can still be appended by hand to a config `dryrun sim` wrote.
    data = config_to_dict(parse_config({"hosts": [_host()]}))
    assert "suites" not in data and "inventory" not in data
    data = config_to_dict(parse_config({"suites": [{"name": "s"}], "inventory": {"dialect": "legacy"}}))
    assert data["suites"][0]["name"] == "s" and data["inventory"]["dialect"] == "legacy"


@pytest.mark.parametrize(
    "data, key, reason",
    [
        ({"suites": [{"command": "pytest"}]}, "suites[0].name", "required"),
        ({"suites": [{"name": "a b"}]}, "suites[0].name", "letters, digits"),
        ({"suites": [{"name": "s"}, {"name": "s"}]}, "suites[1].name", "duplicate suite"),
        ({"suites": [{"name": "s", "command": ""}]}, "suites[0].command", "must not be empty"),
        ({"suites": [{"name": "s", "command": "pytest 'unclosed"}]}, "suites[0].command", "cannot be split"),
        ({"suites": [{"name": "s", "command": "pytest {nope}"}]}, "suites[0].command", "unknown placeholder {nope}"),
        ({"suites": [{"name": "s", "command": "pytest {host}"}]}, "suites[0].command", "needs hosts"),
        ({"suites": [{"name": "s", "env": ["OK", "NOT-OK"]}]}, "suites[0].env[1]", "environment variable name"),
        ({"suites": [{"name": "s", "hosts": ["cam-09"]}], "hosts": [_host()]}, "suites[0].hosts[0]",
         "not a configured host"),
        ({"suites": [{"name": "s", "hosts": ["*", "cam-01"]}], "hosts": [_host()]}, "suites[0].hosts",
         "cannot be combined"),
        ({"suites": [{"name": "s", "hosts": ["cam-01", "cam-01"]}], "hosts": [_host()]}, "suites[0].hosts", "twice"),
        ({"suites": [{"name": "s", "timeout": 0}]}, "suites[0].timeout", "finite number of seconds > 0"),
        ({"suites": [{"name": "s", "bogus": 1}]}, "suites[0].bogus", "unknown key"),
        ({"suites": {"name": "s"}}, "suites", "must be a list"),
        ({"inventory": {"rpc_url": "ws://fixed:8002/ws"}}, "inventory.rpc_url", "must contain {host}"),
        ({"inventory": {"rpc_url": "http://{host}:8002"}}, "inventory.rpc_url", "ws://"),
        ({"inventory": {"health_url": "ftp://{host}"}}, "inventory.health_url", "http://"),
        ({"inventory": {"groups": ["lab"]}}, "inventory.groups", "needs inventory.files"),
        ({"inventory": {"dialect": "ancient"}}, "inventory.dialect", "must be one of"),
    ],
)
def test_bad_suites_and_inventory_name_key_and_reason(data, key, reason):
    with pytest.raises(ConfigError) as ei:
        parse_config(data)
    assert ei.value.key == key
    assert reason in ei.value.reason


def test_placeholders_are_listed():
    assert suite_placeholders("{python} -m pytest --url={rpc_url} -k 'a b'") == ["python", "rpc_url"]
    assert suite_placeholders("pytest --json={{x}}") == []


def test_inventory_hosts_merge_into_the_config(tmp_path):
    (tmp_path / "hosts.ini").write_text("[lab]\ncam-01 ansible_host=10.0.0.1\ncam-02 ansible_host=10.0.0.2\n")
    (tmp_path / "dryrun.toml").write_text(
        '[inventory]\nfiles = ["hosts.ini"]\n\n'
        '[[hosts]]\nname = "cam-01"\nrpc_url = "ws://127.0.0.1:9/ws"\n\n'
        '[[suites]]\nname = "team"\nhosts = ["cam-02"]\n')
    cfg = load_config(tmp_path / "dryrun.toml")
    assert [h.name for h in cfg.hosts] == ["cam-01", "cam-02"]
    assert cfg.host("cam-01").rpc_url == "ws://127.0.0.1:9/ws"  # the [[hosts]] entry wins
    assert cfg.host("cam-02").rpc_url == "ws://10.0.0.2:8002/ws"  # a suite may name an inventory host
    assert cfg.inventory == Inventory(files=("hosts.ini",))


def test_inventory_errors_name_the_config_key_and_the_inventory_line(tmp_path):
    (tmp_path / "hosts.ini").write_text("[lab]\ncam-01 ansible_port=http\n")
    (tmp_path / "dryrun.toml").write_text('[inventory]\nfiles = ["hosts.ini"]\n')
    with pytest.raises(ConfigError) as ei:
        load_config(tmp_path / "dryrun.toml")
    assert ei.value.key == "inventory.files[0]"
    assert f"{tmp_path / 'hosts.ini'}:2:" in ei.value.reason and "ansible_port" in ei.value.reason
    (tmp_path / "dryrun.toml").write_text('[inventory]\nfiles = ["missing.yml"]\n')
    with pytest.raises(ConfigError, match="inventory file not found"):
        load_config(tmp_path / "dryrun.toml")


@pytest.mark.parametrize("files, words", [(["inv\x00.ini"], "NUL"), ([""], "not empty"),
                                          (["~nosuchuser_zz/inventory.ini"], "not found"),
                                          (["."], "is a folder")])
def test_hostile_inventory_paths_are_config_errors(tmp_path, files, words):
    with pytest.raises(ConfigError) as ei:
        parse_config({"inventory": {"files": files}}, tmp_path / "dryrun.toml")
    assert ei.value.key == "inventory.files[0]" and words in ei.value.reason


def test_suite_name_with_a_trailing_newline_is_refused():
    with pytest.raises(ConfigError, match="letters, digits"):
        parse_config({"suites": [{"name": "team\n"}]})


@pytest.mark.parametrize("suite, key", [({"timeout": float("inf")}, "timeout"), ({"timeout": float("nan")}, "timeout"),
                                        ({"cwd": "a\x00b"}, "cwd"), ({"command": "pytest\x00"}, "command")])
def test_hostile_suite_values(suite, key):
    with pytest.raises(ConfigError) as ei:
        parse_config({"suites": [{"name": "s", **suite}]})
    assert ei.value.key == f"suites[0].{key}"

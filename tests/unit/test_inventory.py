"""Ansible-style inventories (INI and YAML) -> the console's hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners.config import Inventory
from runners.inventory import InventoryError, expand_pattern, inventory_hosts, read_inventory

INI = """\
# the lab
bastion-host ansible_host=192.0.2.1

[cameras:children]
north
south

[cameras:vars]
ansible_user=operator
ansible_ssh_common_args='-o ProxyJump=jump@192.0.2.1:2222'
dryrun_dialect=current

[north]
cam-n[01:03] ansible_port=2201

[south]
cam-s1 ansible_host=10.0.1.5 ansible_ssh_private_key_file=keys/id_lab dryrun_dialect=legacy
cam-s2 ansible_host=10.0.1.6 dryrun_rpc_url=wss://10.0.1.6/rpc dryrun_strict_host_keys=no

[south:vars]
ansible_user=camops
"""

YAML = """\
all:
  vars:
    ansible_user: operator
  hosts:
    solo:
      ansible_host: 192.0.2.9
  children:
    lab:
      vars:
        dryrun_health_url: http://health.example:8003
      hosts:
        cam-[a:c]:
          ansible_port: 2222
      children:
        legacy:
          vars:
            dialect: legacy
          hosts:
            old-1:
              ansible_host: 10.9.9.1
              dryrun_secret_file: secrets/old-1
"""


def _by_name(hosts):
    return {h.name: h for h in hosts}


def test_ini_groups_children_vars_ranges_and_proxyjump(tmp_path):
    p = tmp_path / "hosts.ini"
    p.write_text(INI)
    hs = _by_name(inventory_hosts(p, Inventory()))
    assert list(hs) == ["bastion-host", "cam-n01", "cam-n02", "cam-n03", "cam-s1", "cam-s2"]
    n1 = hs["cam-n01"]
    assert (n1.ssh.host, n1.ssh.port, n1.ssh.user) == ("cam-n01", 2201, "operator")
    assert n1.ssh.proxy_jump == "jump@192.0.2.1:2222"
    assert n1.rpc_url == "ws://cam-n01:8002/ws" and n1.health_url == "http://cam-n01:8003"
    assert n1.dialect == "current" and n1.logs[0].path == "/var/log/camera-service.log"
    s1 = hs["cam-s1"]
    assert s1.ssh.user == "camops"  # the child group's vars beat the parent's
    assert s1.dialect == "legacy" and s1.logs[0].path == "/opt/camera-service/logs/camera-service.log"
    assert s1.rpc_url == "ws://10.0.1.5:8002/ws" and s1.ssh.host == "10.0.1.5"
    assert s1.ssh.key == str(tmp_path / "keys" / "id_lab")  # relative to the inventory file
    s2 = hs["cam-s2"]
    assert s2.rpc_url == "wss://10.0.1.6/rpc" and s2.ssh.strict_host_keys is False
    b = hs["bastion-host"]
    assert b.ssh.host == "192.0.2.1" and b.ssh.user == "" and b.ssh.proxy_jump == ""


def test_yaml_nested_children_and_bare_console_vars(tmp_path):
    p = tmp_path / "inventory.yml"
    p.write_text(YAML)
    hs = _by_name(inventory_hosts(p, Inventory(rpc_url="ws://{host}:9002/ws")))
    assert list(hs) == ["solo", "cam-a", "cam-b", "cam-c", "old-1"]
    assert hs["solo"].rpc_url == "ws://192.0.2.9:9002/ws" and hs["solo"].health_url == "http://192.0.2.9:8003"
    assert hs["cam-b"].ssh.port == 2222 and hs["cam-b"].health_url == "http://health.example:8003"
    old = hs["old-1"]
    assert old.dialect == "legacy" and old.ssh.user == "operator"
    assert old.health_url == "http://health.example:8003"  # inherited from the parent group lab
    assert old.auth.secret_file == str(tmp_path / "secrets" / "old-1")


def test_group_filter_keeps_children(tmp_path):
    p = tmp_path / "inventory.yaml"
    p.write_text(YAML)
    assert [h.name for h in inventory_hosts(p, Inventory(groups=("legacy",)))] == ["old-1"]
    assert [h.name for h in inventory_hosts(p, Inventory(groups=("lab",)))] == ["cam-a", "cam-b", "cam-c", "old-1"]
    with pytest.raises(InventoryError, match="does not define"):
        inventory_hosts(p, Inventory(groups=("nope",)))


def test_ranges():
    w = (Path("x"), 1)
    assert expand_pattern("cam-[01:03]", w) == ["cam-01", "cam-02", "cam-03"]
    assert expand_pattern("r[0:6:3]", w) == ["r0", "r3", "r6"]
    assert expand_pattern("n[1:2]-[a:b]", w) == ["n1-a", "n1-b", "n2-a", "n2-b"]
    assert len(expand_pattern("cam-[001:060]", w)) == 60
    for bad in ("cam-[3:1]", "cam-[1:b]", "cam-[x]"):
        with pytest.raises(InventoryError):
            expand_pattern(bad, w)


@pytest.mark.parametrize(
    "name, text, line, words",
    [
        ("a.ini", "[lab\ncam-01\n", 1, "bad section header"),
        ("a.ini", "[lab]\ncam-01 ansible_port=99999\n", 2, "port number"),
        ("a.ini", "[lab]\ncam-01 port\n", 2, "expected key=value"),
        ("a.ini", "[lab:children]\nmissing\n", 2, "not defined"),
        ("a.ini", "[a:children]\nb\n[b:children]\na\n", 4, "cycle"),
        ("a.ini", "[lab]\ncam-01 dryrun_rpc_ur=ws://x\n", 2, "unknown console var 'dryrun_rpc_ur'"),
        ("a.ini", "[lab]\ncam-01 dryrun_rpc_url=http://x\n", 2, "must start with ws://"),
        ("a.ini", "[lab]\ncam-01 dryrun_dialect=ancient\n", 2, "'current' or 'legacy'"),
        ("a.ini", "[lab]\ncam-01 dryrun_role=root\n", 2, "viewer, operator or admin"),
        ("a.ini", "[lab]\ncam_ü01\n", 2, "host name must be"),
        ("a.ini", "[lab:vars]\nansible_ssh_common_args=-o ProxyCommand=nc %h %p\n[lab]\ncam-01\n", 2,
         "ProxyCommand is not supported"),
        ("a.yml", "all:\n  hosts:\n    cam-01:\n      ansible_port: [1]\n", 4, "port number"),
        ("a.yml", "all:\n  hosts: [cam-01]\n", 2, "must be a mapping"),
        ("a.yml", "all:\n  host:\n    cam-01:\n", 2, "unknown key 'host'"),
        ("a.yml", "all:\n  hosts:\n    cam-01: {\n", 4, "invalid YAML"),
    ],
)
def test_errors_name_file_and_line(tmp_path, name, text, line, words):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InventoryError) as ei:
        inventory_hosts(p, Inventory())
    assert ei.value.line == line, str(ei.value)
    assert str(ei.value).startswith(f"{p}:{line}: ")
    assert words in str(ei.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(InventoryError, match="not found"):
        read_inventory(tmp_path / "nope.ini")
    p = tmp_path / "bin.ini"
    p.write_bytes(b"\xff\xfe[lab]")
    with pytest.raises(InventoryError, match="not UTF-8"):
        read_inventory(p)


def test_fifty_hosts_from_one_range(tmp_path):
    p = tmp_path / "fleet.ini"
    p.write_text("[fleet]\ncam-[01:50] ansible_user=operator\n")
    hosts = inventory_hosts(p, Inventory())
    assert len(hosts) == 50 and hosts[-1].name == "cam-50" and hosts[-1].rpc_url == "ws://cam-50:8002/ws"


@pytest.mark.parametrize("var, words", [("ansible_ssh_private_key_file=~nosuchuser_zz/k", "cannot resolve"),
                                        ("dryrun_known_hosts='a\x00b'", "NUL byte")])
def test_hostile_file_vars(tmp_path, var, words):
    p = tmp_path / "h.ini"
    p.write_text(f"[lab]\ncam-01 {var}\n")
    with pytest.raises(InventoryError) as ei:
        inventory_hosts(p, Inventory())
    assert ei.value.line == 2 and words in str(ei.value)


def test_hostile_yaml_is_bounded(tmp_path):
    # aliased groups: 2^25 walks if every mention were walked again
    lines = ["g0: &g0\n  hosts:\n    cam-01:\n"]
    for i in range(1, 26):
        lines.append(f"g{i}: &g{i}\n  children:\n    a{i}: *g{i - 1}\n    b{i}: *g{i - 1}\n")
    p = tmp_path / "bomb.yml"
    p.write_text("".join(lines))
    assert [h.name for h in inventory_hosts(p, Inventory())] == ["cam-01"]
    deep = tmp_path / "deep.yml"
    deep.write_text("all:\n  children:\n" + "".join(" " * (4 + 4 * i) + f"g{i}:\n" + " " * (6 + 4 * i)
                                                     + "children:\n" for i in range(600)))
    with pytest.raises(InventoryError, match="too deeply"):
        inventory_hosts(deep, Inventory())


def test_deep_ini_child_chain_is_refused(tmp_path):
    p = tmp_path / "deep.ini"
    p.write_text("".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(3000)) + "[g3000]\ncam-01\n")
    with pytest.raises(InventoryError, match="too deeply"):
        inventory_hosts(p, Inventory())

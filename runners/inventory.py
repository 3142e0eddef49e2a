"""Hosts from Ansible-style inventory files (INI or YAML), as the console's ``Host`` entries.

What is read (the subset of Ansible's inventory format that describes SSH targets):

- groups with hosts, ``[group:vars]`` / ``vars:``, ``[group:children]`` / ``children:``;
  the implicit ``all`` and ``ungrouped`` groups; host ranges ``cam-[01:50]``, ``db-[a:c]``,
  ``x[0:10:2]``;
- the connection vars ``ansible_host``, ``ansible_port``, ``ansible_user``,
  ``ansible_ssh_private_key_file`` and a ProxyJump bastion from ``ansible_ssh_common_args``
  / ``ansible_ssh_extra_args`` (``-J user@bastion:port`` or ``-o ProxyJump=...``);
- the console's own vars, ``dryrun_<field>`` (or bare ``rpc_url``, ``health_url``,
  ``dialect``): see ``CONSOLE_VARS``. Defaults come from the facts sheet through the
  config's ``[inventory]`` table: ``ws://HOST:8002/ws``, ``http://HOST:8003``, ``current``.

Variable precedence follows Ansible: ``all`` < parent groups < child groups < host vars
(groups of equal depth by name). Other ``ansible_*`` and unknown vars are ignored (an
inventory serves many tools); an unknown ``dryrun_*`` var is an error (it is a typo).
Every problem is an :class:`InventoryError` naming the file and line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.config import Auth, Config, ConfigError, Host, Inventory, LogSource, SshTarget

SERVICE_LOG = {"current": "/var/log/camera-service.log", "legacy": "/opt/camera-service/logs/camera-service.log"}

# dryrun_<name> -> the Host field it sets (dotted for nested tables)
CONSOLE_VARS: dict[str, str] = {
    "rpc_url": "rpc_url",
    "health_url": "health_url",
    "dialect": "dialect",
    "restart_command": "restart_command",
    "recordings_dir": "recordings_dir",
    "snapshots_dir": "snapshots_dir",
    "service_log": "service_log",  # path of the service log on the host ("" = none)
    "known_hosts": "ssh.known_hosts",
    "strict_host_keys": "ssh.strict_host_keys",
    "proxy_jump": "ssh.proxy_jump",
    "token_env": "auth.token_env",
    "token_file": "auth.token_file",
    "secret_env": "auth.secret_env",
    "secret_file": "auth.secret_file",
    "role": "auth.role",
    "user_id": "auth.user_id",
}
BARE_VARS = ("rpc_url", "health_url", "dialect")
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")
_PROXY_J = re.compile(r"(?:^|\s)-J\s*(\S+)")
_PROXY_O = re.compile(r"-o\s*['\"]?ProxyJump[= ]\s*([^'\"\s]+)", re.IGNORECASE)
_PROXY_CMD = re.compile(r"-o\s*['\"]?ProxyCommand", re.IGNORECASE)


class InventoryError(ValueError):
    """``<file>:<line>: <what was expected, what was seen>``."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")


@dataclass
class _Group:
    name: str
    line: int | None = None
    hosts: list[str] = field(default_factory=list)
    vars: dict[str, tuple[Any, int | None]] = field(default_factory=dict)
    children: list[tuple[str, int | None]] = field(default_factory=list)


@dataclass
class ParsedInventory:
    """Groups, and each host's own vars, with the line each came from."""

    path: Path
    groups: dict[str, _Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, tuple[Any, int | None]]] = field(default_factory=dict)
    host_line: dict[str, int | None] = field(default_factory=dict)

    def group(self, name: str, line: int | None = None) -> _Group:
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = _Group(name, line)
        elif g.line is None:
            g.line = line
        return g

    def add_host(self, name: str, group: str, vars: dict[str, tuple[Any, int | None]], line: int | None) -> None:
        self.host_line.setdefault(name, line)
        hv = self.host_vars.setdefault(name, {})
        hv.update(vars)
        g = self.group(group, line)
        if name not in g.hosts:
            g.hosts.append(name)


# ------------------------------------------------------------------ host patterns

def expand_pattern(pattern: str, where: tuple[Path, int | None]) -> list[str]:
    """``cam-[01:03]`` -> cam-01, cam-02, cam-03 (leading zeros kept); letters ``[a:c]``."""
    m = _RANGE.search(pattern)
    if not m:
        if "[" in pattern or "]" in pattern:
            raise InventoryError(*where, f"bad host range in {pattern!r} (expected [01:50], [a:f] or [0:10:2])")
        return [pattern]
    lo, hi, step = m.group(1), m.group(2), int(m.group(3) or 1)
    head, tail = pattern[:m.start()], pattern[m.end():]
    if step < 1:
        raise InventoryError(*where, f"bad host range in {pattern!r}: the step must be at least 1")
    if lo.isdigit() != hi.isdigit():
        raise InventoryError(*where, f"bad host range in {pattern!r}: both ends must be numbers or both letters")
    if lo.isdigit():
        a, b = int(lo), int(hi)
        width = len(lo) if lo.startswith("0") and len(lo) > 1 else 0
        items = [str(i).zfill(width) for i in range(a, b + 1, step)]
    else:
        items = [chr(c) for c in range(ord(lo), ord(hi) + 1, step)]
    if not items:
        raise InventoryError(*where, f"empty host range in {pattern!r} (start after end)")
    if len(items) > 10000:
        raise InventoryError(*where, f"host range in {pattern!r} names {len(items)} hosts (over 10000)")
    return [x for i in items for x in expand_pattern(head + i + tail, where)]


# ------------------------------------------------------------------ INI

def _ini_value(raw: str) -> Any:
    """Ansible reads host-line values as Python literals where they parse: ports are ints."""
    low = raw.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def _ini_pairs(tokens: list[str], path: Path, line: int) -> dict[str, tuple[Any, int]]:
    out: dict[str, tuple[Any, int]] = {}
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if not eq or not key:
            raise InventoryError(path, line, f"expected key=value, got {tok!r}")
        out[key.strip()] = (_ini_value(value), line)
    return out


def parse_ini(text: str, path: Path) -> ParsedInventory:
    inv = ParsedInventory(path)
    section, kind = "ungrouped", "hosts"
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)(?::(vars|children))?\]", line)
            if not m:
                raise InventoryError(path, n, f"bad section header {line!r} "
                                     "(expected [group], [group:vars] or [group:children])")
            section, kind = m.group(1), m.group(2) or "hosts"
            inv.group(section, n)
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as e:
            raise InventoryError(path, n, f"cannot parse {line!r}: {e}") from None
        if not tokens:
            continue
        if kind == "vars":
            if len(tokens) != 1 and "=" not in tokens[0]:
                raise InventoryError(path, n, f"expected key=value in [{section}:vars], got {line!r}")
            # A vars line is one key=value; the value may contain spaces ("-o ProxyJump=x").
            key, eq, value = line.partition("=")
            if not eq or not key.strip():
                raise InventoryError(path, n, f"expected key=value in [{section}:vars], got {line!r}")
            v = value.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            inv.group(section, n).vars[key.strip()] = (_ini_value(v), n)
        elif kind == "children":
            if len(tokens) != 1:
                raise InventoryError(path, n, f"expected one group name per line in [{section}:children], "
                                     f"got {line!r}")
            inv.group(section, n).children.append((tokens[0], n))
        else:
            if "=" in tokens[0]:
                raise InventoryError(path, n, f"expected a host name first, got {tokens[0]!r}")
            pairs = _ini_pairs(tokens[1:], path, n)
            for host in expand_pattern(tokens[0], (path, n)):
                inv.add_host(host, section, pairs, n)
    return inv


# ------------------------------------------------------------------ YAML

def parse_yaml(text: str, path: Path) -> ParsedInventory:
    import yaml
    from yaml.constructor import ConstructorError, SafeConstructor
    from yaml.nodes import MappingNode, ScalarNode

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise InventoryError(path, None, "invalid YAML: nested too deeply") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise InventoryError(path, mark.line + 1 if mark else None, f"invalid YAML: {problem}") from None
    inv = ParsedInventory(path)
    if root is None:
        return inv
    ctor = SafeConstructor()

    def line(node: Any) -> int:
        return node.start_mark.line + 1

    def value(node: Any) -> Any:
        try:
            return ctor.construct_object(node, deep=True)
        except ConstructorError as e:
            raise InventoryError(path, line(node), f"cannot read value: {e.problem}") from None

    def mapping(node: Any, what: str) -> list[tuple[str, Any, Any]]:
        if isinstance(node, ScalarNode) and node.value in ("", "~", "null") and node.tag.endswith("null"):
            return []
        if not isinstance(node, MappingNode):
            raise InventoryError(path, line(node), f"{what} must be a mapping, got {_yaml_kind(node)}")
        out = []
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                raise InventoryError(path, line(k), f"{what}: keys must be plain names")
            out.append((str(k.value), k, v))
        return out

    walked: set[tuple[str, int]] = set()

    def group(name: str, node: Any, at: int) -> None:
        if (name, id(node)) in walked:  # an aliased group (``*anchor``) is read once, not once per mention
            return
        walked.add((name, id(node)))
        g = inv.group(name, at)
        for key, knode, v in mapping(node, f"group {name!r}"):
            if key == "hosts":
                for host, hnode, hv in mapping(v, f"{name}.hosts"):
                    hvars = {k: (value(x), line(kn)) for k, kn, x in mapping(hv, f"host {host!r}")}
                    for h in expand_pattern(host, (path, line(hnode))):
                        inv.add_host(h, name, hvars, line(hnode))
            elif key == "vars":
                for k, kn, x in mapping(v, f"{name}.vars"):
                    g.vars[k] = (value(x), line(kn))
            elif key == "children":
                for child, cnode, cv in mapping(v, f"{name}.children"):
                    g.children.append((child, line(cnode)))
                    group(child, cv, line(cnode))
            else:
                raise InventoryError(path, line(knode), f"unknown key {key!r} in group {name!r} "
                                     "(expected hosts, vars or children)")

    try:
        for name, knode, v in mapping(root, "the inventory"):
            group(name, v, line(knode))
    except RecursionError:
        raise InventoryError(path, None, "groups are nested too deeply") from None
    return inv


def _yaml_kind(node: Any) -> str:
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        return f"the scalar {node.value!r}"
    return "a mapping" if isinstance(node, MappingNode) else type(node).__name__


# ------------------------------------------------------------------ resolve

def read_inventory(path: Path) -> ParsedInventory:
    """Parse one inventory file; YAML by extension (.yml/.yaml) or by content (``all:``)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InventoryError(path, None, "inventory file not found") from None
    except UnicodeDecodeError as e:
        raise InventoryError(path, None, f"not UTF-8 text (byte {e.start})") from None
    except IsADirectoryError:
        raise InventoryError(path, None, "is a folder, not an inventory file") from None
    except OSError as e:
        raise InventoryError(path, None, f"cannot read: {e.strerror or e}") from None
    except ValueError as e:  # an embedded NUL byte in the path
        raise InventoryError(path, None, f"not a usable path: {e}") from None
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    is_yaml = path.suffix.lower() in (".yml", ".yaml") or first in ("---",) or (
        first.endswith(":") and not first.startswith("["))
    inv = parse_yaml(text, path) if is_yaml else parse_ini(text, path)
    _check_children(inv)
    return inv


def _check_children(inv: ParsedInventory) -> None:
    for g in inv.groups.values():
        for child, ln in g.children:
            if child not in inv.groups:
                raise InventoryError(inv.path, ln, f"group {g.name!r} names child group {child!r}, "
                                     "which is not defined")
    # a cycle would make precedence (and membership) undefined
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for child, ln in inv.groups[name].children:
            if state.get(child) == 1:
                cycle = " -> ".join(stack + [name, child])
                raise InventoryError(inv.path, ln, f"group children form a cycle: {cycle}")
            if child not in state:
                visit(child, stack + [name])
        state[name] = 2

    for name in list(inv.groups):
        if name not in state:
            visit(name, [])


def _depths(inv: ParsedInventory) -> dict[str, int]:
    """Group depth below ``all`` (a group listed under several parents: its deepest)."""
    parents: dict[str, set[str]] = {n: set() for n in inv.groups}
    for g in inv.groups.values():
        for child, _ in g.children:
            parents[child].add(g.name)
    memo: dict[str, int] = {}

    def depth(n: str) -> int:
        if n == "all":
            return 0
        if n not in memo:
            ps = parents.get(n) or set()
            memo[n] = 1 + max((depth(p) for p in ps if p != n), default=0)
        return memo[n]

    return {n: depth(n) for n in inv.groups}


def host_groups(inv: ParsedInventory) -> dict[str, set[str]]:
    """Each host's groups: direct ones and every ancestor (plus ``all``)."""
    parents: dict[str, set[str]] = {n: set() for n in inv.groups}
    for g in inv.groups.values():
        for child, _ in g.children:
            parents[child].add(g.name)
    out: dict[str, set[str]] = {}
    for g in inv.groups.values():
        for h in g.hosts:
            todo, seen = [g.name], set()
            while todo:
                n = todo.pop()
                if n in seen:
                    continue
                seen.add(n)
                todo.extend(parents.get(n, ()))
            out.setdefault(h, set()).update(seen | {"all"})
    return out


def host_vars(inv: ParsedInventory) -> dict[str, dict[str, tuple[Any, int | None]]]:
    """Each host's effective vars with the line they came from (Ansible precedence)."""
    depths = _depths(inv)
    groups = host_groups(inv)
    out: dict[str, dict[str, tuple[Any, int | None]]] = {}
    for host in inv.host_line:
        merged: dict[str, tuple[Any, int | None]] = {}
        for g in sorted(groups.get(host, {"all"}), key=lambda n: (depths.get(n, 0), n)):
            if g in inv.groups:
                merged.update(inv.groups[g].vars)
        merged.update(inv.host_vars.get(host, {}))
        out[host] = merged
    return out


def _proxy_jump(args: str) -> str:
    m = _PROXY_J.search(args) or _PROXY_O.search(args)
    return m.group(1) if m else ""


def _as_str(v: Any, key: str, path: Path, line: int | None) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise InventoryError(path, line, f"{key} must be a string, got {v!r}")
    return str(v)


def _as_bool(v: Any, key: str, path: Path, line: int | None) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "yes", "false", "no"):
        return v.lower() in ("true", "yes")
    raise InventoryError(path, line, f"{key} must be true or false, got {v!r}")


def _as_port(v: Any, key: str, path: Path, line: int | None) -> int:
    try:
        port = int(v) if not isinstance(v, bool) else -1
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise InventoryError(path, line, f"{key} must be a port number 1-65535, got {v!r}")
    return port


def _file(value: str, key: str, path: Path, line: int | None) -> str:
    """A file named in the inventory, absolute (relative ones are relative to the inventory)."""
    if "\x00" in value:
        raise InventoryError(path, line, f"{key} must not contain a NUL byte")
    try:
        p = Path(value).expanduser()
    except RuntimeError as e:  # "~nosuchuser/key"
        raise InventoryError(path, line, f"{key}: cannot resolve {value!r}: {e}") from None
    return str(p if p.is_absolute() else (path.parent / p).absolute())


def _fill(template: str, host: str, key: str, path: Path, line: int | None) -> str:
    try:
        return template.format(host=host)
    except (KeyError, IndexError, ValueError) as e:
        raise InventoryError(path, line, f"{key}: bad template {template!r} (only {{host}} is known: {e})") from None


def to_host(name: str, vars: dict[str, tuple[Any, int | None]], inv: Inventory, path: Path) -> Host:
    """One inventory host -> a console ``Host`` (SSH from the ansible_* vars, the rest from
    ``dryrun_*`` vars and the ``[inventory]`` defaults)."""
    line0 = None

    def get(key: str) -> tuple[Any, int | None] | None:
        return vars.get(key)

    for key, (_v, ln) in vars.items():
        if key.startswith("dryrun_") and key[len("dryrun_"):] not in CONSOLE_VARS:
            raise InventoryError(path, ln, f"unknown console var {key!r} for host {name!r} (known: "
                                 + ", ".join("dryrun_" + k for k in CONSOLE_VARS) + ")")

    def console(field_name: str) -> tuple[Any, int | None] | None:
        hit = get("dryrun_" + field_name)
        if hit is None and field_name in BARE_VARS:
            hit = get(field_name)
        return hit

    address = name
    if (hit := get("ansible_host")) is not None:
        address = _as_str(hit[0], "ansible_host", path, hit[1])
    ssh: dict[str, Any] = {"host": address}
    if (hit := get("ansible_port")) is not None:
        ssh["port"] = _as_port(hit[0], "ansible_port", path, hit[1])
    if (hit := get("ansible_user")) is not None:
        ssh["user"] = _as_str(hit[0], "ansible_user", path, hit[1])
    for keyvar in ("ansible_ssh_private_key_file", "ansible_private_key_file"):
        if (hit := get(keyvar)) is not None:
            ssh["key"] = _file(_as_str(hit[0], keyvar, path, hit[1]), keyvar, path, hit[1])
            break
    for argvar in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if (hit := get(argvar)) is not None:
            args = _as_str(hit[0], argvar, path, hit[1])
            if jump := _proxy_jump(args):
                ssh["proxy_jump"] = jump
            elif _PROXY_CMD.search(args):
                raise InventoryError(path, hit[1], f"{argvar}: ProxyCommand is not supported for {name!r}; "
                                     "use ProxyJump (-J user@bastion:port) or dryrun_proxy_jump")
    kw: dict[str, Any] = {"name": name}
    auth: dict[str, Any] = {}
    service_log: str | None = None
    for fname, target in CONSOLE_VARS.items():
        hit = console(fname)
        if hit is None:
            continue
        v, ln = hit
        key = "dryrun_" + fname
        if target == "ssh.strict_host_keys":
            ssh["strict_host_keys"] = _as_bool(v, key, path, ln)
        elif target.startswith("ssh."):
            val = _as_str(v, key, path, ln)
            if target == "ssh.known_hosts" and val:
                val = _file(val, key, path, ln)
            ssh[target[4:]] = val
        elif target.startswith("auth."):
            val = _as_str(v, key, path, ln)
            if target == "auth.role" and val not in ("viewer", "operator", "admin"):
                raise InventoryError(path, ln, f"{key} must be viewer, operator or admin, got {val!r}")
            if target in ("auth.token_file", "auth.secret_file") and val:
                val = _file(val, key, path, ln)
            auth[target[5:]] = val
        elif target == "service_log":
            service_log = _as_str(v, key, path, ln)
        else:
            kw[target] = _as_str(v, key, path, ln)
            line0 = ln
    dialect = kw.get("dialect", inv.dialect)
    if dialect not in ("current", "legacy"):
        hit = console("dialect")
        raise InventoryError(path, hit[1] if hit else line0, f"dialect for {name!r} must be 'current' or 'legacy', "
                             f"got {dialect!r}")
    kw["dialect"] = dialect
    kw.setdefault("rpc_url", _fill(inv.rpc_url, address, "inventory.rpc_url", path, None))
    kw.setdefault("health_url", _fill(inv.health_url, address, "inventory.health_url", path, None))
    log_path = SERVICE_LOG[dialect] if service_log is None else service_log
    logs = (LogSource(name="camera-service", kind="file", path=log_path),) if log_path else ()
    return Host(ssh=SshTarget(**ssh), auth=Auth(**auth), logs=logs, **kw)


def inventory_hosts(path: Path, inv: Inventory) -> list[Host]:
    """The hosts of one inventory file, limited to ``inv.groups`` when set, in file order."""
    try:
        return _inventory_hosts(Path(path), inv)
    except RecursionError:  # a child-group chain thousands deep
        raise InventoryError(path, None, "groups are nested too deeply") from None


def _inventory_hosts(path: Path, inv: Inventory) -> list[Host]:
    parsed = read_inventory(path)
    groups = host_groups(parsed)
    for g in inv.groups:
        if g not in parsed.groups and g != "all":
            raise InventoryError(path, None, f"inventory.groups names {g!r}, which this file does not define "
                                 f"(groups: {', '.join(sorted(parsed.groups)) or 'none'})")
    allv = host_vars(parsed)
    out: list[Host] = []
    for name in parsed.host_line:
        if inv.groups and not (groups.get(name, {"all"}) & set(inv.groups)):
            continue
        host = to_host(name, allv[name], inv, path)
        _check_host(host, allv[name], parsed.host_line[name], path)
        out.append(host)
    return out


def _check_host(h: Host, vars: dict[str, tuple[Any, int | None]], line: int | None, path: Path) -> None:
    """The config's host rules, reported at the inventory line that caused the problem."""
    from runners.config import _HOST_NAME

    if not _HOST_NAME.fullmatch(h.name):
        raise InventoryError(path, line, f"host name must be 1-63 letters, digits, '.', '_' or '-', got {h.name!r}")

    def at(*keys: str) -> int | None:
        for k in keys:
            if k in vars:
                return vars[k][1]
        return line

    if not h.rpc_url.startswith(("ws://", "wss://")):
        raise InventoryError(path, at("dryrun_rpc_url", "rpc_url"),
                             f"rpc_url of {h.name!r} must start with ws:// or wss://, got {h.rpc_url!r}")
    if h.health_url and not h.health_url.startswith(("http://", "https://")):
        raise InventoryError(path, at("dryrun_health_url", "health_url"),
                             f"health_url of {h.name!r} must start with http:// or https://, got {h.health_url!r}")
    if h.auth.token_env and h.auth.token_file:
        raise InventoryError(path, at("dryrun_token_file"), f"{h.name!r}: set dryrun_token_env or "
                             "dryrun_token_file, not both")
    if h.auth.secret_env and h.auth.secret_file:
        raise InventoryError(path, at("dryrun_secret_file"), f"{h.name!r}: set dryrun_secret_env or "
                             "dryrun_secret_file, not both")


def merge_inventory(cfg: Config, path: Path | None) -> Config:
    """``cfg`` with its inventory files' hosts appended (a ``[[hosts]]`` entry of the same name
    wins). Inventory problems become ``ConfigError`` on ``inventory.files[i]``."""
    import dataclasses

    known = {h.name for h in cfg.hosts}
    extra: list[Host] = []
    for i, f in enumerate(cfg.inventory.files):
        key = f"inventory.files[{i}]"
        if not f or "\x00" in f:
            raise ConfigError(path, key, f"must be a file path (not empty, no NUL byte), got {f!r}")
        try:
            where = cfg.resolve(f)
        except (RuntimeError, ValueError, OSError) as e:  # "~nosuchuser/...": no such home folder
            raise ConfigError(path, key, f"cannot resolve {f!r}: {e}") from None
        try:
            hosts = inventory_hosts(where, cfg.inventory)
        except InventoryError as e:
            raise ConfigError(path, key, str(e)) from None
        except ImportError as e:  # PyYAML missing in a broken install
            raise ConfigError(path, key, f"cannot read YAML inventories: {e}") from None
        for h in hosts:
            if h.name in known:
                continue
            known.add(h.name)
            extra.append(h)
    return dataclasses.replace(cfg, hosts=tuple(cfg.hosts) + tuple(extra))

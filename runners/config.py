"""Typed configuration: ``dryrun.toml`` -> frozen dataclasses.

Read with ``tomllib``; every unknown key and every wrong type is rejected with the
file, the dotted key and the reason (:class:`ConfigError`). Secrets are never stored
in the config: a host names an environment variable or a file that holds its token
or the service's JWT secret (see ``runners.tokens``).

The schema is the dataclasses below; the loader walks their type hints, so adding a
field here is the whole change needed to accept a new key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_CONFIG = Path("dryrun.toml")

Dialect = Literal["current", "legacy"]
FailFast = Literal["off", "soft", "hard"]
LogKind = Literal["file", "journal", "command", "local"]
LogFormat = Literal["auto", "plain", "json"]


class ConfigError(ValueError):
    """A config file that cannot be used. ``str()`` names file, key and reason."""

    def __init__(self, path: Path | str | None, key: str, reason: str):
        self.path = str(path) if path is not None else "<config>"
        self.key = key
        self.reason = reason
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Owners:
    pm: str = ""
    dev: str = ""
    ivv: str = ""


@dataclass(frozen=True)
class Sprint:
    name: str = "MVP CDR dry-run"
    baseline: str = "vX.Y.Z-cdr"
    start_date: str = ""  # ISO date; empty = the day `dryrun plan` runs
    days: int = 3  # the plan's timebox, compressible to 2
    iterations: int = 2  # "2 iterations max"
    standups: tuple[str, ...] = ("09:00", "16:00")
    comms: str = "#dry-run"
    owners: Owners = field(default_factory=Owners)


@dataclass(frozen=True)
class Gates:
    """The plan's global exit gates."""

    all_smk_pass: bool = True
    flaky_max_pct: float = 5.0
    criticals_max: int = 0
    majors_max: int = 3
    majors_need_workaround: bool = True


@dataclass(frozen=True)
class Checks:
    """Timeouts and knobs of the SMK checks (seconds unless named otherwise)."""

    rpc_timeout: float = 5.0
    connect_timeout: float = 5.0
    health_timeout: float = 30.0  # SMK-1: time allowed to become healthy
    restart_before_health: bool = False  # SMK-1: run the host's restart command first
    discovery_timeout: float = 10.0  # SMK-3: "at least one camera in <= 10 s"
    recording_seconds: float = 3.0  # SMK-5 recording length
    snapshot_time_tolerance: float = 300.0  # SMK-4: trustworthy-timestamp window
    concurrency_clients: int = 2  # SMK-7 listers (the plan's "two clients")
    concurrency_seconds: float = 3.0  # SMK-7 duration
    max_parallel_hosts: int = 10  # bounded fan-out (OpenSSH MaxStartups ~10)


@dataclass(frozen=True)
class Run:
    dry_run_dir: str = "dry_run"
    failfast: FailFast = "off"
    seed: int = 12345
    # The [[suites]] entry that verify and flake hunts re-run checks with (empty: the
    # built-in checks; an entry raised from a suite's own results picks its suite anyway).
    suite: str = ""


@dataclass(frozen=True)
class SshTarget:
    host: str = ""  # empty = no SSH for this host
    port: int = 22
    user: str = ""
    key: str = ""  # private key file; empty = agent / ~/.ssh/config
    known_hosts: str = ""  # empty = ~/.ssh/known_hosts
    # Strict host-key checking is the default. Turning it off is an explicit,
    # visible opt-out: the console prints a warning banner for such hosts.
    strict_host_keys: bool = True
    proxy_jump: str = ""  # user@host:port of a bastion


@dataclass(frozen=True)
class Auth:
    """Where the host's credentials come from. Names only: never the secret itself."""

    token_env: str = ""  # env var holding a ready-made JWT
    token_file: str = ""  # file holding a ready-made JWT
    secret_env: str = ""  # env var holding the service's HS256 secret (to mint tokens)
    secret_file: str = ""  # file holding that secret
    role: Literal["viewer", "operator", "admin"] = "admin"  # role of minted tokens
    user_id: str = "dryrun-console"


@dataclass(frozen=True)
class LogSource:
    name: str
    kind: LogKind = "file"
    path: str = ""  # file / local
    unit: str = ""  # journal
    command: str = ""  # command
    format: LogFormat = "auto"


@dataclass(frozen=True)
class Host:
    name: str
    rpc_url: str
    health_url: str = ""
    dialect: Dialect = "current"
    restart_command: str = "sudo systemctl restart camera-service"
    recordings_dir: str = "/opt/camera-service/recordings"
    snapshots_dir: str = "/opt/camera-service/snapshots"
    ssh: SshTarget = field(default_factory=SshTarget)
    auth: Auth = field(default_factory=Auth)
    logs: tuple[LogSource, ...] = ()


@dataclass(frozen=True)
class Suite:
    """An external pytest suite the console runs as a subprocess (``runners.external``).

    ``command`` is split like a shell would (``shlex``), never run through a shell; the
    placeholders ``{python}`` (the console's interpreter), ``{config}`` (this file) and, for
    per-host runs, ``{host}``, ``{rpc_url}``, ``{health_url}``, ``{dialect}`` are filled in.
    The console appends its own pytest arguments (its plugin, -k, --maxfail, --ff,
    --durations, --count), so the command must end where pytest arguments may follow."""

    name: str  # shown as the host of the suite's results when it is not run per host
    command: str = "{python} -m pytest"
    cwd: str = ""  # relative to the config's folder; empty = the config's folder
    env: tuple[str, ...] = ()  # names of environment variables passed through (never values)
    hosts: tuple[str, ...] = ()  # run once per named host ("*" = every host); empty = once
    timeout: float = 1800.0  # hard limit for one pytest process, seconds


@dataclass(frozen=True)
class Inventory:
    """Hosts from Ansible-style inventory files (INI or YAML), merged into ``hosts``
    (``runners.inventory``). A ``[[hosts]]`` entry of the same name wins."""

    files: tuple[str, ...] = ()  # relative to the config's folder
    groups: tuple[str, ...] = ()  # only hosts of these groups (children included); empty = all
    rpc_url: str = "ws://{host}:8002/ws"  # {host} = ansible_host, else the inventory name
    health_url: str = "http://{host}:8003"
    dialect: Dialect = "current"


@dataclass(frozen=True)
class Config:
    sprint: Sprint = field(default_factory=Sprint)
    gates: Gates = field(default_factory=Gates)
    checks: Checks = field(default_factory=Checks)
    run: Run = field(default_factory=Run)
    hosts: tuple[Host, ...] = ()
    suites: tuple[Suite, ...] = ()
    inventory: Inventory = field(default_factory=Inventory)
    path: Path | None = field(default=None, compare=False)  # where it was read from

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hosts) or "none"
        raise KeyError(f"unknown host {name!r} (configured: {known})")

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config are relative to the config file's folder."""
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, p: str) -> Path:
        try:
            path = Path(p).expanduser()
        except RuntimeError:  # ~user with no such user: keep it literal; opening it says "not found"
            path = Path(p)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def dry_run_path(self) -> Path:
        return self.resolve(self.run.dry_run_dir)


# --------------------------------------------------------------------------- loader

_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d\Z")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "table"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str, path: Path | None) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(path, key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(value, args[0], key, path)
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(path, key, f"must be a list, got {type(value).__name__}")
        return tuple(_convert(v, item_tp, f"{key}[{i}]", path) for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(path, key, f"must be a table, got {type(value).__name__}")
        return _build(tp, value, key, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, key, f"must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, key, f"must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, key, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(path, key, f"must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, key, f"must be a string, got {value!r}")
        if "\x00" in value:
            raise ConfigError(path, key, "must not contain a NUL character (\\u0000)")
        return value
    raise ConfigError(path, key, f"unsupported type {tp!r}")  # a schema bug, not user error


def _build(cls: type, data: dict[str, Any], prefix: str, path: Path | None) -> Any:
    hints = typing.get_type_hints(cls)
    # Config.path is where the file was read from, set by the loader, never a key.
    fields = {f.name: f for f in dataclasses.fields(cls) if not (cls is Config and f.name == "path")}
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        dotted = f"{prefix}.{k}" if prefix else k
        if k not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(path, dotted, f"unknown key (known keys here: {known})")
        kwargs[k] = _convert(v, hints[k], dotted, path)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(path, f"{prefix}.{missing[0]}" if prefix else missing[0], "required key is missing")
    return cls(**kwargs)


def _validate(cfg: Config, path: Path | None) -> None:
    s = cfg.sprint
    if not 1 <= s.days <= 10:
        raise ConfigError(path, "sprint.days", f"must be between 1 and 10, got {s.days}")
    if not 1 <= s.iterations <= 5:
        raise ConfigError(path, "sprint.iterations", f"must be between 1 and 5, got {s.iterations}")
    for i, t in enumerate(s.standups):
        if not _HHMM.match(t):
            raise ConfigError(path, f"sprint.standups[{i}]", f"must be HH:MM (24 h), got {t!r}")
    if s.start_date:
        import datetime as _dt

        try:
            _dt.date.fromisoformat(s.start_date)
        except ValueError:
            raise ConfigError(path, "sprint.start_date", f"must be an ISO date YYYY-MM-DD, got {s.start_date!r}") from None
    if not 0 <= cfg.gates.flaky_max_pct <= 100:
        raise ConfigError(path, "gates.flaky_max_pct", "must be a percentage between 0 and 100")
    for name in ("rpc_timeout", "connect_timeout", "health_timeout", "discovery_timeout",
                 "recording_seconds", "concurrency_seconds"):
        if getattr(cfg.checks, name) <= 0:
            raise ConfigError(path, f"checks.{name}", "must be greater than 0")
    if cfg.checks.snapshot_time_tolerance < 0:
        raise ConfigError(path, "checks.snapshot_time_tolerance", "must be 0 or more seconds")
    if cfg.checks.concurrency_clients < 1:
        raise ConfigError(path, "checks.concurrency_clients", "must be at least 1")
    if cfg.checks.max_parallel_hosts < 1:
        raise ConfigError(path, "checks.max_parallel_hosts", "must be at least 1")
    seen: set[str] = set()
    for i, h in enumerate(cfg.hosts):
        where = f"hosts[{i}]"
        if not _HOST_NAME.match(h.name):
            raise ConfigError(path, f"{where}.name", f"must be 1-63 letters, digits, '.', '_' or '-', got {h.name!r}")
        if h.name in seen:
            raise ConfigError(path, f"{where}.name", f"duplicate host name {h.name!r}")
        seen.add(h.name)
        if not h.rpc_url.startswith(("ws://", "wss://")):
            raise ConfigError(path, f"{where}.rpc_url", f"must start with ws:// or wss://, got {h.rpc_url!r}")
        if h.health_url and not h.health_url.startswith(("http://", "https://")):
            raise ConfigError(path, f"{where}.health_url", f"must start with http:// or https://, got {h.health_url!r}")
        if not 0 < h.ssh.port < 65536:
            raise ConfigError(path, f"{where}.ssh.port", f"must be 1-65535, got {h.ssh.port}")
        if h.auth.token_env and h.auth.token_file:
            raise ConfigError(path, f"{where}.auth", "set token_env or token_file, not both")
        if h.auth.secret_env and h.auth.secret_file:
            raise ConfigError(path, f"{where}.auth", "set secret_env or secret_file, not both")
        names: set[str] = set()
        for j, src in enumerate(h.logs):
            lw = f"{where}.logs[{j}]"
            if src.name in names:
                raise ConfigError(path, f"{lw}.name", f"duplicate log source {src.name!r}")
            names.add(src.name)
            needed = {"file": "path", "local": "path", "journal": "unit", "command": "command"}[src.kind]
            if not getattr(src, needed):
                raise ConfigError(path, f"{lw}.{needed}", f"required for kind = {src.kind!r}")
    _validate_suites(cfg, path)
    _validate_inventory(cfg.inventory, path)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
SUITE_PLACEHOLDERS = ("python", "config", "host", "rpc_url", "health_url", "dialect")
_HOST_PLACEHOLDERS = ("host", "rpc_url", "health_url", "dialect")


def suite_placeholders(command: str) -> list[str]:
    """The ``{name}`` placeholders of a suite command; ValueError says what is wrong."""
    import shlex
    import string

    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ValueError(f"cannot be split like a shell command line ({e}): {command!r}") from None
    if not argv:
        raise ValueError("must not be empty (e.g. \"{python} -m pytest tests/smoke -q\")")
    names: list[str] = []
    for arg in argv:
        try:
            parsed = list(string.Formatter().parse(arg))
        except ValueError as e:
            raise ValueError(f"bad placeholder in {arg!r} ({e}; write {{{{ and }}}} for literal braces)") from None
        for _lit, name, spec, conv in parsed:
            if name is None:
                continue
            if name not in SUITE_PLACEHOLDERS or spec or conv:
                raise ValueError(f"unknown placeholder {{{name}}} in {arg!r} "
                                 f"(known: {', '.join('{' + p + '}' for p in SUITE_PLACEHOLDERS)})")
            names.append(name)
    return names


def _validate_suites(cfg: Config, path: Path | None) -> None:
    hosts = {h.name for h in cfg.hosts}
    seen: set[str] = set()
    for i, s in enumerate(cfg.suites):
        where = f"suites[{i}]"
        if not _HOST_NAME.fullmatch(s.name):  # fullmatch: "$" would let a trailing newline through
            raise ConfigError(path, f"{where}.name", f"must be 1-63 letters, digits, '.', '_' or '-', got {s.name!r}")
        if s.name in seen:
            raise ConfigError(path, f"{where}.name", f"duplicate suite name {s.name!r}")
        seen.add(s.name)
        try:
            used = suite_placeholders(s.command)
        except ValueError as e:
            raise ConfigError(path, f"{where}.command", str(e)) from None
        per_host = [p for p in used if p in _HOST_PLACEHOLDERS]
        if per_host and not s.hosts:
            raise ConfigError(path, f"{where}.command", f"uses {{{per_host[0]}}}, which needs hosts = [...] "
                              "(the suite then runs once per host)")
        for j, e in enumerate(s.env):
            if not _ENV_NAME.fullmatch(e):
                raise ConfigError(path, f"{where}.env[{j}]", f"must be an environment variable name, got {e!r}")
        for j, h in enumerate(s.hosts):
            if h == "*":
                if len(s.hosts) > 1:
                    raise ConfigError(path, f"{where}.hosts", '"*" (every host) cannot be combined with names')
                continue
            if h not in hosts:
                raise ConfigError(path, f"{where}.hosts[{j}]", f"not a configured host: {h!r} "
                                  f"(configured: {', '.join(sorted(hosts)) or 'none'})")
        if len(set(s.hosts)) != len(s.hosts):
            raise ConfigError(path, f"{where}.hosts", "lists a host twice")
        if not (s.timeout > 0 and s.timeout != float("inf")):  # also refuses nan
            raise ConfigError(path, f"{where}.timeout", f"must be a finite number of seconds > 0, got {s.timeout}")
    if cfg.run.suite and cfg.run.suite not in seen:
        raise ConfigError(path, "run.suite", f"not a configured suite: {cfg.run.suite!r} "
                          f"(configured: {', '.join(sorted(seen)) or 'none'})")
        for name in ("command", "cwd"):
            if "\x00" in getattr(s, name):
                raise ConfigError(path, f"{where}.{name}", "must not contain a NUL byte")


def _validate_inventory(inv: Inventory, path: Path | None) -> None:
    for name in ("rpc_url", "health_url"):
        tmpl = getattr(inv, name)
        if "{host}" not in tmpl:
            raise ConfigError(path, f"inventory.{name}", f"must contain {{host}}, got {tmpl!r}")
    if not inv.rpc_url.startswith(("ws://", "wss://")):
        raise ConfigError(path, "inventory.rpc_url", f"must start with ws:// or wss://, got {inv.rpc_url!r}")
    if not inv.health_url.startswith(("http://", "https://")):
        raise ConfigError(path, "inventory.health_url",
                          f"must start with http:// or https://, got {inv.health_url!r}")
    if inv.groups and not inv.files:
        raise ConfigError(path, "inventory.groups", "needs inventory.files")


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Build a :class:`Config` from already-parsed TOML data."""
    cfg = _build(Config, data, "", path)
    if path is not None:
        cfg = dataclasses.replace(cfg, path=path.resolve())
    if cfg.inventory.files:
        # Inventory hosts join the configured ones before validation, so suites may name them
        # and every host rule (names, URLs, ports) applies to them too.
        from runners.inventory import merge_inventory

        cfg = merge_inventory(cfg, path)
    _validate(cfg, path)
    return cfg


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    """Read and validate a config file; every problem is a :class:`ConfigError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, "", "file not found (create one with `dryrun init`, or start `dryrun sim`)") from None
    except OSError as e:
        raise ConfigError(p, "", f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(p, "", f"not UTF-8 text (byte {e.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(p, "", f"invalid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(p, "", "invalid TOML: arrays or tables nested too deeply") from None
    return parse_config(data, p)


def _unset_section(cfg: Config, name: str) -> bool:
    # Optional sections left out when unused, so a written config stays as it was and
    # ``[[suites]]`` / ``[inventory]`` can still be appended to it by hand.
    if name == "suites":
        return not cfg.suites
    if name == "inventory":
        return cfg.inventory == Inventory()
    return False


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The TOML-ready dict of a config (for ``tomli-w``); omits the runtime path."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {
                f.name: conv(getattr(v, f.name))
                for f in dataclasses.fields(v)
                if not (isinstance(v, Config) and (f.name == "path" or _unset_section(v, f.name)))
            }
        if isinstance(v, tuple):
            return [conv(x) for x in v]
        return v

    return conv(cfg)

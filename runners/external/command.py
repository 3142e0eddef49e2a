"""The pytest command line and environment of one external-suite process.

The suite's ``command`` (split like a shell would, placeholders filled per argument so a
value with spaces stays one argument) + the console's plugin + the plan's options passed
through: ``-k``, ``--maxfail``, ``--ff``, ``--durations``, ``--count`` (pytest-repeat).

The environment is built, not inherited: a small base (PATH, HOME, locale...) plus the
variables the suite names in ``env`` plus the ``DRYRUN_*`` variables that tell the suite
which host, config, run and artifacts folder it works for. Secrets in the console's
environment reach a suite only when the suite names them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from runners.config import Config, Host, Suite
from runners.smoke.options import RunOptions
from runners.smoke.select import DEPENDS_ON, normalise_check_id

PLUGIN = "runners.external.pytest_plugin"
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
            "VIRTUAL_ENV", "PYTHONPATH", "SSH_AUTH_SOCK", "SYSTEMROOT")
# The folder that holds the ``runners`` package: appended to PYTHONPATH so the plugin can be
# imported by a suite running under another interpreter (a team's own venv).
CONSOLE_ROOT = Path(__file__).resolve().parents[2]
_WORD = re.compile(r"[\w:+\-.\[\]\\/@]+|[()]")


@dataclass(frozen=True)
class Target:
    """One pytest process: which host its results are reported under, and how to start it."""

    host: str
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str] = field(repr=False, compare=False, default_factory=dict)
    missing_env: tuple[str, ...] = ()  # names the suite wants that the console's environment lacks

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)


def translate_keyword(expr: str) -> str:
    """The console's -k dialect -> pytest's: ``SMK-3``/``smk3`` become ``SMK_3`` (the keyword the
    plugin gives mapped tests) and ``dependent(s)`` expands to the checks that depend on the
    ones named (``-k "SMK_3 or dependent"``, the plan's verify command)."""
    if not expr.strip():
        return ""
    words = _WORD.findall(expr)
    named: set[str] = set()
    for w in words:
        try:
            named.add(normalise_check_id(w))
        except ValueError:
            pass
    out: list[str] = []
    for w in words:
        try:
            out.append(normalise_check_id(w).replace("-", "_"))
            continue
        except ValueError:
            pass
        if w.lower() in ("dependent", "dependents"):
            deps = sorted((c for c, needs in DEPENDS_ON.items() if needs & named and c not in named),
                          key=lambda c: int(c.split("-")[1]))
            out.append("(" + " or ".join(c.replace("-", "_") for c in deps) + ")" if deps
                       else "__dryrun_no_dependents__")
            continue
        out.append(w)
    return " ".join(out).replace("( ", "(").replace(" )", ")")


def pytest_args(options: RunOptions) -> list[str]:
    """The pass-through options, as the plan writes them."""
    args = ["-p", PLUGIN]
    if options.keyword:
        args += ["-k", translate_keyword(options.keyword)]
    mf = options.effective_maxfail
    if mf:
        args.append(f"--maxfail={mf}")
    if options.failed_first:
        args.append("--ff")
    args.append(f"--durations={options.durations}")
    if options.count > 1:
        args.append(f"--count={options.count}")
    return args


def _fill(argv: list[str], values: dict[str, str]) -> list[str]:
    return [a.format(**values) for a in argv]


def suite_hosts(cfg: Config, suite: Suite, only: tuple[str, ...] = ()) -> list[Host | None]:
    """The hosts the suite runs for (``[None]``: once, not per host), narrowed by ``--host``."""
    if not suite.hosts:
        if only and set(only) != {suite.name}:
            raise ValueError(f"--host {', '.join(only)}: suite {suite.name!r} is not run per host "
                             f"(its results are reported as host {suite.name!r})")
        return [None]
    hosts = list(cfg.hosts) if suite.hosts == ("*",) else [cfg.host(n) for n in suite.hosts]
    if only:
        names = {h.name for h in hosts}
        bad = [n for n in only if n not in names]
        if bad:
            raise ValueError(f"--host {bad[0]}: suite {suite.name!r} does not run on it "
                             f"(its hosts: {', '.join(sorted(names)) or 'none'})")
        hosts = [h for h in hosts if h.name in only]
    if not hosts:
        raise ValueError(f"suite {suite.name!r} has no hosts to run on")
    return hosts


def rerun_suite(cfg: Config, explicit: str | None, hosts: tuple[str, ...] = ()) -> tuple[Suite | None, tuple[str, ...]]:
    """The suite a re-run (verify, flake hunt) uses, and the hosts to narrow it to.

    ``explicit`` (``--suite NAME``; ``"builtin"`` = the console's own checks) wins; then a
    suite whose name is among ``hosts`` (a suite run once reports its results under its own
    name, so a DRY entry raised from them names it); then ``run.suite`` from the config;
    else None: the built-in checks. Hosts that are suite names are dropped from the
    filter, as is the whole filter for a suite that is not run per host."""
    suite: Suite | None = None
    if explicit == "builtin":
        pass
    elif explicit:
        suite = find_suite(cfg, explicit)
    else:
        named = [s for s in cfg.suites if s.name in hosts]
        if named:
            suite = named[0]
        elif cfg.run.suite:
            suite = find_suite(cfg, cfg.run.suite)
    suite_names = {s.name for s in cfg.suites}
    real = tuple(h for h in hosts if h not in suite_names)
    if suite is not None and not suite.hosts:
        real = ()
    return suite, real


def gate_hosts(cfg: Config, suite: Suite, only: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The hosts the pre-run environment gate compares for this suite, as ``RunOptions.hosts``
    (``()`` = every configured host): a per-host suite's own hosts, narrowed by ``--host``;
    a suite run once may probe any configured host, so all of them (its ``--host`` is the
    suite's own name, not a host, and must not narrow the gate to none)."""
    names = tuple(h.name for h in suite_hosts(cfg, suite, only) if h is not None)
    if not names or set(names) == {h.name for h in cfg.hosts}:
        return ()
    return names


def build_targets(cfg: Config, suite: Suite, options: RunOptions, *, run_id: str, label: str,
                  artifacts_dir: Path, quarantine: dict[str, str] | None = None,
                  environ: dict[str, str] | None = None, python: str | None = None) -> list[Target]:
    environ = dict(os.environ if environ is None else environ)
    base_argv = shlex.split(suite.command)
    cwd = cfg.resolve(suite.cwd) if suite.cwd else cfg.base_dir
    extra = pytest_args(options)
    out: list[Target] = []
    for host in suite_hosts(cfg, suite, options.hosts):
        name = host.name if host else suite.name
        values = {"python": python or sys.executable, "config": str(cfg.path or "")}
        env = {k: environ[k] for k in BASE_ENV if k in environ}
        missing = tuple(k for k in suite.env if k not in environ)
        env.update({k: environ[k] for k in suite.env if k in environ})
        pp = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(CONSOLE_ROOT) not in pp:
            pp.append(str(CONSOLE_ROOT))
        env["PYTHONPATH"] = os.pathsep.join(pp)
        env.update({"PYTHONUNBUFFERED": "1", "PY_COLORS": "0", "DRYRUN_RUN_ID": run_id, "DRYRUN_LABEL": label,
                    "DRYRUN_SUITE": suite.name, "DRYRUN_ARTIFACTS_DIR": str(Path(artifacts_dir) / name),
                    "DRYRUN_QUARANTINE": json.dumps(quarantine or {}, sort_keys=True)})
        if cfg.path is not None:
            env["DRYRUN_CONFIG"] = str(cfg.path)
        if host is not None:
            values.update(host=host.name, rpc_url=host.rpc_url, health_url=host.health_url, dialect=host.dialect)
            env.update({"DRYRUN_HOST": host.name, "DRYRUN_RPC_URL": host.rpc_url,
                        "DRYRUN_HEALTH_URL": host.health_url, "DRYRUN_DIALECT": host.dialect})
        argv = _fill(base_argv, values) + extra
        out.append(Target(host=name, argv=tuple(argv), cwd=cwd, env=env, missing_env=missing))
    return out


def find_suite(cfg: Config, name: str | None) -> Suite:
    """The named suite, or the only one; ValueError lists what is configured."""
    names = [s.name for s in cfg.suites]
    if not cfg.suites:
        raise ValueError("no [[suites]] configured (add one: name, command, cwd, env, hosts)")
    if name is None:
        if len(cfg.suites) == 1:
            return cfg.suites[0]
        raise ValueError(f"several suites configured; name one of: {', '.join(names)}")
    for s in cfg.suites:
        if s.name == name:
            return s
    raise ValueError(f"unknown suite {name!r} (configured: {', '.join(names)})")

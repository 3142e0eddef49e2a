"""The commented starter ``dryrun.toml`` that ``dryrun init`` writes.

Values are serialised with ``tomli-w`` (so they are always valid TOML and always match
the schema in ``runners.config``); the comments are laid around them per section."""

from __future__ import annotations

import tomli_w

from runners.config import Auth, Checks, Config, Gates, Host, LogSource, Run, SshTarget, Sprint, config_to_dict

_SECTION_NOTES = {
    "sprint": "The sprint: baseline tag, dates, timebox (days, max iterations), stand-ups, owners.",
    "gates": "Global exit gates: all SMK pass; flaky <= 5 %; criticals = 0; majors <= 3 with workarounds.",
    "checks": "Timeouts (seconds) and knobs of the SMK-1..7 checks.",
    "run": ("Where the record lives, the fail-fast mode (off | soft | hard), the run seed, and the [[suites]]\n"
            "# entry verify and flake hunts re-run with (empty: the built-in checks)."),
}

_HOST_NOTE = """\
# One [[hosts]] table per camera host. Secrets are never written here: name an env var
# or a file that holds them.
#   dialect      "current" (Go service) or "legacy" (Python service)
#   ssh.strict_host_keys = false  turns host-key checking OFF for this host (visible opt-out)
#   auth.token_env / token_file    a ready-made JWT for the service
#   auth.secret_env / secret_file  the service's HS256 secret, to mint valid/expired/forged tokens
#   logs         sources tailed live: kind = "file" (tail -F over SSH), "journal"
#                (journalctl -u UNIT -f), "command" (any command), "local" (a local file)
"""


_MORE_NOTE = """\
# Your own pytest suite, run by `dryrun suite` and from the console (Smoke screen). Tests are
# mapped to SMK ids by name (test_SMK_3_...); -k, --maxfail, --ff, --durations and --count
# pass through. {python} is the console's interpreter; with hosts = ["*"] (or names) it runs
# once per host and {host}, {rpc_url}, {health_url}, {dialect} are filled in.
# [[suites]]
# name = "team-smoke"
# command = "{python} -m pytest tests/smoke -q"
# cwd = "."
# env = ["CAMERA_SERVICE_JWT_SECRET"]   # names passed through, never values
# hosts = []

# A fleet from Ansible-style inventories (INI or YAML), merged with [[hosts]].
# [inventory]
# files = ["inventory.ini"]
# groups = ["cameras"]
# rpc_url = "ws://{host}:8002/ws"
"""


def example_config() -> Config:
    host = Host(
        name="cam-01",
        rpc_url="ws://cam-01.lab:8002/ws",
        health_url="http://cam-01.lab:8003",
        dialect="current",
        ssh=SshTarget(host="cam-01.lab", port=22, user="operator", key="~/.ssh/id_ed25519",
                      known_hosts="~/.ssh/known_hosts"),
        auth=Auth(secret_env="CAMERA_SERVICE_JWT_SECRET"),
        logs=(
            LogSource(name="camera-service", kind="file", path="/var/log/camera-service.log"),
            LogSource(name="mediamtx", kind="journal", unit="mediamtx"),
        ),
    )
    return Config(sprint=Sprint(), gates=Gates(), checks=Checks(), run=Run(), hosts=(host,))


def render_starter(cfg: Config | None = None) -> str:
    data = config_to_dict(cfg or example_config())
    out = ["# dryrun.toml: the dry-run console's config. `dryrun --help` lists the commands.", ""]
    for section, note in _SECTION_NOTES.items():
        out.append(f"# {note}")
        out.append(tomli_w.dumps({section: data[section]}).rstrip())
        out.append("")
    out.append(_HOST_NOTE.rstrip())
    out.append(tomli_w.dumps({"hosts": data["hosts"]}).rstrip())
    out.append("")
    out.append(_MORE_NOTE.rstrip())
    out.append("")
    return "\n".join(out)

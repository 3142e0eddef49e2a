"""Hostile config files: whatever is in ``dryrun.toml``, ``load_config`` either returns a
config the console can use or raises ``ConfigError`` naming file, key and reason. Never
another exception (a traceback and exit 3 from the CLI), and never a config that is
accepted only to break the run later (a NaN timeout, a host name with a newline in it).

Property-based (hypothesis) over raw bytes, random TOML documents, and one-key mutations
of a valid config; then hand-written nasty files, each through the real CLI as well.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runners.config import ConfigError, config_to_dict, load_config
from runners.starter import example_config
from tui.cli import main

SETTINGS = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")

# ------------------------------------------------------------------ what "usable" means


def assert_usable(cfg) -> None:
    """An accepted config must not break the run later."""
    for name, v in vars(cfg.checks).items():
        if isinstance(v, float):
            # timeouts and durations must be positive; a tolerance may be 0 but not negative
            ok = v >= 0 if name.endswith("_tolerance") else v > 0
            assert math.isfinite(v) and ok, f"checks.{name} = {v!r} accepted"
    assert math.isfinite(cfg.gates.flaky_max_pct), cfg.gates.flaky_max_pct
    for h in cfg.hosts:
        assert NAME_RE.fullmatch(h.name), f"host name {h.name!r} accepted"
    for t in cfg.sprint.standups:
        assert HHMM_RE.fullmatch(t), f"stand-up {t!r} accepted"
    paths = [cfg.run.dry_run_dir, *cfg.inventory.files]
    for h in cfg.hosts:
        paths += [h.ssh.key, h.ssh.known_hosts, h.auth.token_file, h.auth.secret_file]
        paths += [s.path for s in h.logs if s.kind == "local"]
    for p in filter(None, paths):
        assert "\x00" not in p, f"path {p!r} accepted"
        cfg.resolve(p)  # must not raise


def load_or_config_error(path: Path):
    try:
        cfg = load_config(path)
    except ConfigError as e:
        assert str(path) in str(e)  # names the file
        assert e.reason, e
        return None
    return cfg


# ------------------------------------------------------------------ strategies

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\nb", "~nosuchuser_zz/x", "ws://", "\x1b[2J", "🙂" * 10, "../" * 20,
                     "{host}", "{", "current", "legacy", "file", "journal", "local", "command", "09:00\n"]),
)
toml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
KNOWN_KEYS = ["sprint", "gates", "checks", "run", "hosts", "suites", "inventory", "name", "rpc_url", "ssh", "auth",
              "logs", "days", "standups", "rpc_timeout", "dry_run_dir", "files", "port", "kind", "path"]
docs = st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10)), toml_values, max_size=6)


def base_doc() -> dict:
    d = config_to_dict(example_config())
    d["hosts"][0]["logs"].append({"name": "local", "kind": "local", "path": "svc.log"})
    return d


def leaf_paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from leaf_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from leaf_paths(v, prefix + (i,))


BASE_PATHS = list(leaf_paths(base_doc()))


def put(doc, path, value):
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


# ------------------------------------------------------------------ properties

@SETTINGS
@given(raw=st.binary(max_size=2000))
def test_random_bytes_give_config_error_only(tmp_path, raw):
    p = tmp_path / "dryrun.toml"
    p.write_bytes(raw)
    load_or_config_error(p)


@SETTINGS
@given(doc=docs)
def test_random_toml_documents_give_config_error_or_a_usable_config(tmp_path, doc):
    p = tmp_path / "dryrun.toml"
    p.write_text(tomli_w.dumps(doc))
    cfg = load_or_config_error(p)
    if cfg is not None:
        assert_usable(cfg)


def hostile_like(v):
    """A hostile value of the same TOML type as ``v`` (or of any type, now and then)."""
    if isinstance(v, bool):
        return st.booleans() | toml_values
    if isinstance(v, int):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.sampled_from([0, -1, 2**63 - 1])
    if isinstance(v, float):
        return st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([math.nan, math.inf, -math.inf,
                                                                                  0.0, -0.0, 5e-324, 1e308])
    if isinstance(v, str):
        nasty = st.sampled_from(["", "\x00", "\n", "\r", "\x1b[2J", "\u202e", "~nosuchuser_zz", "{", "{host}",
                                 "ws://", "http://"])
        return st.one_of(st.text(max_size=30), st.builds(lambda a, b: a + b, st.just(v), nasty),
                         st.builds(lambda a, b: a + b, nasty, st.just(v)), nasty)
    return toml_values


@st.composite
def typed_mutation(draw):
    path = draw(st.sampled_from(BASE_PATHS))
    node = base_doc()
    for k in path:
        node = node[k]
    return path, draw(hostile_like(node))


@SETTINGS
@given(mut=typed_mutation())
def test_a_hostile_value_of_the_right_type_is_refused_or_harmless(tmp_path, mut):
    path, value = mut
    doc = base_doc()
    put(doc, path, value)
    p = tmp_path / "dryrun.toml"
    p.write_text(tomli_w.dumps(doc))
    cfg = load_or_config_error(p)
    if cfg is not None:
        assert_usable(cfg)


@SETTINGS
@given(path=st.sampled_from(BASE_PATHS), value=toml_values)
def test_one_bad_value_in_a_valid_config_is_refused_or_harmless(tmp_path, path, value):
    doc = base_doc()
    put(doc, path, value)
    p = tmp_path / "dryrun.toml"
    p.write_text(tomli_w.dumps(doc))
    cfg = load_or_config_error(p)
    if cfg is not None:
        assert_usable(cfg)


# ------------------------------------------------------------------ hand-written nasty files

# Port 9 (discard) on loopback: nothing listens, so an accepted config fails fast, never hangs.
HOST = '[[hosts]]\nname = "cam-01"\nrpc_url = "ws://127.0.0.1:9/ws"\n'
NASTY: dict[str, bytes] = {
    "empty": b"",  # valid: every default, no hosts
    "utf8_bom": b"\xef\xbb\xbf" + HOST.encode(),
    "utf16": HOST.encode("utf-16"),
    "nul_bytes": b"[run]\x00\ndry_run_dir = 'x'\n",
    "deep_array": b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep_inline_table": b"a = " + b"{b = " * 3000 + b"1" + b"}" * 3000 + b"\n",
    "duplicate_table": b"[checks]\nrpc_timeout = 1.0\n[checks]\nrpc_timeout = 2.0\n",
    "huge_int": b"[checks]\nmax_parallel_hosts = 99999999999999999999999999\n",
    "nan_timeout": b"[checks]\nrpc_timeout = nan\n",
    "inf_timeout": b"[checks]\nrpc_timeout = inf\n",
    "neg_inf_health": b"[checks]\nhealth_timeout = -inf\n",
    "nan_flaky_gate": b"[gates]\nflaky_max_pct = nan\n",
    "host_name_newline": (HOST.replace('"cam-01"', '"cam-01\\n"')).encode(),
    "host_name_escape": (HOST.replace('"cam-01"', '"cam\\u001b[2J"')).encode(),
    "standup_newline": b'[sprint]\nstandups = ["09:00\\n"]\n',
    "nul_in_dry_run_dir": b'[run]\ndry_run_dir = "dry\\u0000run"\n',
    "nul_in_inventory_file": b'[inventory]\nfiles = ["inv\\u0000.ini"]\n',
    "unknown_user_home": b'[inventory]\nfiles = ["~nosuchuser_zz/inventory.ini"]\n',
    "inventory_is_a_folder": b'[inventory]\nfiles = ["."]\n',
    "ssh_port_zero": (HOST + "[hosts.ssh]\nhost = 'x'\nport = 0\n").encode(),
    "ssh_port_huge": (HOST + "[hosts.ssh]\nhost = 'x'\nport = 70000\n").encode(),
    "hosts_as_table": b"[hosts]\nname = 'cam-01'\n",
    "array_of_strings_as_hosts": b"hosts = ['cam-01']\n",
    "ten_thousand_hosts": "".join(
        f'[[hosts]]\nname = "cam-{i}"\nrpc_url = "ws://127.0.0.1:8002/ws"\n' for i in range(10_000)).encode(),
    "one_mib_string": b'[sprint]\nname = "' + b"x" * (1 << 20) + b'"\n',
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_file_is_refused_clearly_or_usable(tmp_path, name):
    p = tmp_path / "dryrun.toml"
    p.write_bytes(NASTY[name])
    cfg = load_or_config_error(p)
    if cfg is not None:
        assert_usable(cfg)


@pytest.mark.parametrize("name", ["nul_bytes", "deep_array", "nan_timeout", "inf_timeout", "host_name_newline",
                                  "nul_in_dry_run_dir", "nul_in_inventory_file", "unknown_user_home"])
def test_nasty_file_through_the_cli_is_one_line_and_exit_2(tmp_path, capsys, name):
    """What the operator sees: ``dryrun run -c bad.toml`` says file, key and reason on one
    line and exits 2 (usage); no traceback, no internal error, nothing run. (Each file gets
    a host, so the refusal cannot come from "no hosts configured" instead.)"""
    p = tmp_path / "bad.toml"
    body = NASTY[name]
    p.write_bytes(body if b"[[hosts]]" in body else body + b"\n" + HOST.encode())
    rc = main(["run", "-c", str(p), "--json", "-k", "SMK_6"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err[-1500:]
    assert rc == 2, (rc, err[-500:])
    assert err.startswith(f"dryrun run: {p}") and err.count("\n") == 1, err


def test_missing_folder_symlink_loop_and_folder_as_config(tmp_path):
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    for p in (tmp_path / "nope" / "dryrun.toml", loop, tmp_path):
        with pytest.raises(ConfigError):
            load_config(p)

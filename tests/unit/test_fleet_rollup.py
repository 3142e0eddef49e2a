"""Per-host roll-ups for fleets (tui.fleet, tui.widgets.log_hosts.host_log_states): the
states, the worst-first order, the summary line every pane shows and the host filter."""

from __future__ import annotations

from runners.events import HostState
from tui.fleet import (compact_hosts, host_health, match_hosts, parse_hosts, rollups, summary, worst_first)

HOSTS = tuple(f"cam-{i:02d}" for i in range(1, 51))


def _health(host: str, **status: str) -> list[HostState]:
    return [HostState(host=host, component=c, status=status.get(c, "ok"))
            for c in ("ssh", "rpc", "health", "cameras")]


def _fleet():
    health = {}
    for h in HOSTS:
        states = _health(h)
        if h == "cam-50":
            states = _health(h, ssh="down", rpc="down", health="down", cameras="unknown")
        elif h == "cam-20":
            states = _health(h, cameras="down")  # answers, but its camera is gone: degraded, not down
        for st in states:
            health[(h, st.component)] = st
    results = {("cam-07", "SMK-3"): "failed", ("cam-33", "SMK-4"): "error", ("cam-50", "SMK-1"): "error",
               ("cam-12", "SMK-5"): "running"}
    return rollups(HOSTS, health, lambda h, c: results.get((h, c), "passed"), ("SMK-1", "SMK-3", "SMK-4", "SMK-5"))


def test_states_summary_and_worst_first():
    ups = _fleet()
    by = {r.host: r for r in ups}
    assert by["cam-50"].state == "down" and by["cam-50"].tags >= {"down", "failing"}
    assert by["cam-07"].state == "failing" and by["cam-33"].state == "failing"
    assert by["cam-20"].health == "degraded" and by["cam-20"].state == "degraded"
    assert by["cam-12"].state == "running"
    assert [r.host for r in worst_first(ups)[:5]] == ["cam-50", "cam-07", "cam-33", "cam-20", "cam-12"]
    assert summary(ups) == "50 hosts: 45 ok · 1 down · 2 failing · 1 degraded · 1 running"
    assert summary(ups, names=2) == ("50 hosts: 45 ok · 1 down (cam-50) · 2 failing (cam-07, cam-33) · "
                                     "1 degraded · 1 running")
    assert summary(ups, short=True) == "50 hosts: 45 ok · 1 down · 2 fail · 1 degr · 1 run"
    assert summary([r for r in ups if r.host.startswith("cam-0")], total=50) == "9 of 50 hosts: 8 ok · 1 failing"


def test_unprobed_hosts_without_results_are_no_data_not_ok():
    ups = rollups(("a", "b"), {}, lambda h, c: "passed" if h == "a" else "none", ("SMK-1",))
    assert [r.state for r in ups] == ["ok", "unknown"]
    assert summary(ups) == "2 hosts: 1 ok · 1 no data"
    assert host_health({}, "a") == "unknown"


def test_host_filter_terms():
    ups = _fleet()
    tags = {r.host: r.tags for r in ups}
    assert match_hosts("", HOSTS) is None
    assert match_hosts("cam-4", HOSTS) == [f"cam-{i}" for i in range(40, 50)]
    assert match_hosts("cam-0[1-3], cam-50", HOSTS) == ["cam-01", "cam-02", "cam-03", "cam-50"]
    assert match_hosts("CAM-49", HOSTS) == ["cam-49"]
    assert match_hosts("failing", HOSTS, tags) == ["cam-07", "cam-33", "cam-50"]  # the down host failed too
    assert match_hosts("down degraded", HOSTS, tags) == ["cam-20", "cam-50"]
    assert match_hosts("nothing-like-this", HOSTS) == []


def test_typed_host_lists_are_checked_against_the_config():
    assert parse_hosts("cam-07, cam-33", HOSTS) == (["cam-07", "cam-33"], [])
    assert parse_hosts("cam-33 cam-07 cam-07", HOSTS) == (["cam-07", "cam-33"], [])  # config order, once
    assert parse_hosts("cam-0[1-2], cam-99", HOSTS) == (["cam-01", "cam-02"], ["cam-99"])
    assert compact_hosts(["cam-01"]) == "cam-01"
    assert compact_hosts([f"cam-0{i}" for i in range(1, 6)], 3) == "cam-01, cam-02 +3"


def test_log_states_per_host_from_the_hubs_sources(tmp_path):
    from runners.config import load_config
    from runners.logs.hub import LogHub
    from tui.widgets.log_hosts import host_log_states

    cfg_path = tmp_path / "dryrun.toml"
    cfg_path.write_text("".join(
        f'[[hosts]]\nname = "{h}"\nrpc_url = "ws://127.0.0.1:9/ws"\nhealth_url = "http://127.0.0.1:9"\n'
        f'[[hosts.logs]]\nname = "service"\nkind = "local"\npath = "{tmp_path / h}.log"\n'
        for h in ("cam-01", "cam-02", "cam-03", "cam-04")))
    cfg = load_config(cfg_path)
    hub = LogHub(cfg)  # its sources, not started: counters as a running hub keeps them
    src = {s.host: s for s in hub.sources}
    src["cam-01"].lines_read = 10
    src["cam-02"].lines_read, src["cam-02"].gaps = 5, 2
    src["cam-03"].last_error = "connection refused"
    states = host_log_states(hub, [*cfg_host_names(cfg), "cam-05"])
    assert {h: s.state for h, s in states.items()} == {
        "cam-01": "following", "cam-02": "gaps", "cam-03": "retrying", "cam-04": "waiting", "cam-05": "off"}
    assert states["cam-03"].errors == ["service: connection refused"]
    assert {h: s.state for h, s in host_log_states(None, ["cam-01"]).items()} == {"cam-01": "off"}


def cfg_host_names(cfg) -> list[str]:
    return [h.name for h in cfg.hosts]

"""Chaos: seeded, reproducible, rates that match the profiles, every fault logged and attributable."""

from __future__ import annotations

import math

import pytest

from runners.sim.chaos import (
    ALL_FAULTS,
    EXEMPT_OPS,
    FAULTS,
    PROFILES,
    Chaos,
    marker,
    parse_marker,
)

OPS = ["rpc:get_camera_list", "rpc:take_snapshot", "rpc:start_recording", "snapshot", "recording", "discovery"]


def run_ops(chaos: Chaos, ops: list[str]) -> list[str | None]:
    return [chaos.pick(op, request_id=i) for i, op in enumerate(ops)]


def test_profiles_are_the_documented_rates():
    assert PROFILES == {"none": 0.0, "light": 0.05, "medium": 0.15, "heavy": 0.30, "hellfire": 0.50}


@pytest.mark.parametrize("bad", [dict(profile="apocalypse"), dict(rate=1.5), dict(delay=-1), dict(faults=["melt"])])
def test_bad_arguments_are_rejected_with_the_choices(bad):
    with pytest.raises(ValueError) as e:
        Chaos(**bad)
    assert "must be" in str(e.value) or "unknown chaos fault" in str(e.value)


def test_profile_none_never_faults():
    chaos = Chaos("none", seed=1)
    assert all(f is None for f in run_ops(chaos, OPS * 500))
    assert chaos.injected == []


def test_same_seed_same_fault_sequence_different_seed_differs():
    ops = OPS * 200
    a, b, c = Chaos("heavy", seed=42), Chaos("heavy", seed=42), Chaos("heavy", seed=43)
    ra, rb, rc = run_ops(a, ops), run_ops(b, ops), run_ops(c, ops)
    assert ra == rb
    assert a.sequence() == b.sequence() and len(a.sequence()) > 50
    assert ra != rc


def test_an_operation_fate_does_not_depend_on_other_operations_interleaving():
    # Concurrent clients interleave differently from run to run: the n-th take_snapshot must
    # still get the same fate for the same seed.
    alone = Chaos("hellfire", seed=7)
    mixed = Chaos("hellfire", seed=7)
    solo = [alone.pick("rpc:take_snapshot") for _ in range(300)]
    got = []
    for i in range(300):
        mixed.pick("rpc:get_camera_list")
        if i % 3 == 0:
            mixed.pick("snapshot")
        got.append(mixed.pick("rpc:take_snapshot"))
    assert got == solo


@pytest.mark.parametrize("profile", ["light", "medium", "heavy", "hellfire"])
def test_fault_rates_roughly_match_the_profile(profile):
    n = 6000
    chaos = Chaos(profile, seed=2024)
    ops = [OPS[i % len(OPS)] for i in range(n)]
    faults = run_ops(chaos, ops)
    p = PROFILES[profile]
    observed = sum(f is not None for f in faults) / n
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(observed - p) < 4 * sigma + 0.005, (profile, observed)
    # Every fault on an op's menu shows up, and only those.
    for op in OPS:
        kind = op.split(":")[0]
        seen = {f for o, f in zip(ops, faults) if o == op and f}
        assert seen <= set(FAULTS[kind])
        if profile in ("heavy", "hellfire"):
            assert seen == set(FAULTS[kind]), (op, seen)


def test_authenticate_and_ping_are_never_faulted():
    chaos = Chaos("hellfire", seed=0, rate=1.0)
    for op in EXEMPT_OPS:
        assert all(chaos.pick(op) is None for _ in range(200))
    assert chaos.pick("rpc:get_camera_list") is not None  # rate 1.0: everything else is


def test_unknown_op_kinds_are_never_faulted():
    chaos = Chaos("hellfire", seed=0, rate=1.0)
    assert chaos.pick("teleport") is None
    assert chaos.injected == []


def test_fault_filter_keeps_the_rate_and_uses_only_allowed_faults():
    chaos = Chaos("hellfire", seed=5, faults=["error"])
    faults = [chaos.pick("rpc:get_camera_status") for _ in range(4000)]
    assert {f for f in faults if f} == {"error"}
    assert abs(sum(f is not None for f in faults) / 4000 - 0.5) < 0.04
    assert chaos.pick("snapshot") is None  # no_exif not allowed


def test_every_injected_fault_is_recorded_and_logged_with_a_greppable_marker():
    lines: list[str] = []
    chaos = Chaos("hellfire", seed=3, log=lines.append, rate=1.0)
    chaos.pick("rpc:take_snapshot", request_id=17, session=2)
    chaos.pick("recording", request_id="req A", device="camera0")
    chaos.pick("discovery")
    assert len(chaos.injected) == len(lines) == 3
    rec = chaos.injected[0]
    assert rec["op"] == "rpc:take_snapshot" and rec["id"] == 17 and rec["session"] == 2
    assert rec["fault"] in FAULTS["rpc"] and isinstance(rec["ts"], float)
    assert lines[0] == f"CHAOS fault={rec['fault']} op=rpc:take_snapshot id=17"
    parsed = [parse_marker(f"2026-01-01 10:00:00,000 WARNING camera_service.api: {ln}") for ln in lines]
    assert parsed[0] == {"fault": rec["fault"], "op": "rpc:take_snapshot", "id": "17"}
    assert parsed[1] == {"fault": chaos.injected[1]["fault"], "op": "recording", "id": "req A"}
    assert parsed[2] == {"fault": "slow_discovery", "op": "discovery", "id": "-"}
    assert chaos.counts() == {f: sum(1 for r in chaos.injected if r["fault"] == f) for f in chaos.counts()}


def test_marker_parsing_ignores_ordinary_lines_and_finds_markers_inside_json_logs():
    assert parse_marker("INFO rpc request method=ping outcome=ok") is None
    line = '{"level": "WARNING", "message": "' + marker("drop", "rpc:get_camera_list", 9) + '"}'
    assert parse_marker(line) == {"fault": "drop", "op": "rpc:get_camera_list", "id": "9"}


def test_all_faults_named_in_the_brief_exist():
    assert ALL_FAULTS == {"delay", "error", "drop", "slow_discovery", "no_exif", "zero", "truncate"}

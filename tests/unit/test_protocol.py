"""The protocol vocabulary: error meanings per dialect, event names, frame checks."""

from __future__ import annotations

import pytest

from runners.protocol import (
    ERROR_MEANINGS,
    EVENT_ALIASES,
    FrameError,
    Notification,
    canonical_event,
    check_response,
    describe,
    error_meaning,
    event_family,
    expected_code,
    request,
)


@pytest.mark.parametrize("dialect, code, meaning", [
    ("current", -32601, "method_not_found"), ("legacy", -32601, "method_not_found"),
    ("current", -32602, "invalid_params"), ("current", -32001, "auth_required"),
    ("legacy", -32001, "auth_required"),
    ("current", -32002, "permission_denied"), ("legacy", -32002, "rate_limited"),
    ("legacy", -32003, "permission_denied"), ("legacy", -32004, "camera_not_found"),
    ("legacy", -32005, "recording_in_progress"), ("legacy", -32006, "mediamtx_unavailable"),
    ("current", -32007, "insufficient_storage"), ("current", -32008, "capability_not_supported"),
    ("current", -32010, "not_found"), ("current", -32020, "invalid_state"), ("current", -32030, "unsupported"),
    ("current", -32040, "rate_limited"), ("current", -32050, "dependency_failed"),
])
def test_error_meaning_follows_the_facts_table(dialect, code, meaning):
    assert error_meaning(dialect, code) == meaning


def test_unknown_codes():
    assert error_meaning("current", -32003) == "server_error"  # legacy-only code, in the server range
    assert error_meaning("legacy", -32040) == "server_error"
    assert error_meaning("current", 42) == "unknown"


def test_unknown_dialect_says_what_is_expected():
    with pytest.raises(ValueError, match="unknown dialect 'go': expected one of current, legacy"):
        error_meaning("go", -32601)
    with pytest.raises(ValueError):
        expected_code("python", "rate_limited")


@pytest.mark.parametrize("dialect", ["current", "legacy"])
def test_expected_code_inverts_error_meaning(dialect):
    for code, meaning in ERROR_MEANINGS[dialect].items():
        assert expected_code(dialect, meaning) == code


@pytest.mark.parametrize("dialect, meaning, code", [
    ("current", "permission_denied", -32002), ("legacy", "permission_denied", -32003),
    ("current", "rate_limited", -32040), ("legacy", "rate_limited", -32002),
    ("current", "camera_not_found", -32010), ("legacy", "not_found", -32004),
    ("current", "recording_in_progress", -32020), ("legacy", "dependency_failed", -32006),
    ("current", "auth_failed", -32001), ("legacy", "insufficient_permissions", -32003),
    ("legacy", "insufficient_storage", None), ("current", "no_such_meaning", None),
])
def test_expected_code_resolves_synonyms_across_dialects(dialect, meaning, code):
    assert expected_code(dialect, meaning) == code


@pytest.mark.parametrize("method, params, canonical", [
    ("camera.connected", {}, "camera.connected"),
    ("camera_status_update", {"status": "CONNECTED"}, "camera.connected"),
    ("camera_status_update", {"status": "disconnected"}, "camera.disconnected"),
    ("camera_status_update", {"status": "ERROR"}, "camera.status_change"),
    ("camera_status_update", None, "camera.status_change"),
    ("recording_update", {"status": "RECORDING"}, "recording.start"),
    ("recording_status_update", {"status": "STARTED"}, "recording.start"),
    ("recording_status_update", {"status": "STOPPED"}, "recording.stop"),
    ("recording_status_update", {"status": "ERROR"}, "recording.error"),
    ("recording_update", {"status": 3}, "recording.progress"),
    ("snapshot_taken", {}, "snapshot.taken"),
    ("system_event", {}, "system.health"),
    ("vendor.thing", {}, "vendor.thing"),
    ("odd_broadcast", {}, "odd_broadcast"),
])
def test_canonical_event_merges_both_families(method, params, canonical):
    assert canonical_event(method, params) == canonical


def test_every_alias_is_a_dotted_name():
    assert all("." in v for v in EVENT_ALIASES.values())


def test_notification_from_frame():
    n = Notification.from_frame("camera_status_update", {"status": "CONNECTED"}, ts=12.5)
    assert (n.method, n.canonical, n.ts, n.family) == ("camera_status_update", "camera.connected", 12.5, "legacy")
    assert event_family("recording.start") == "topic" and event_family("whatever") == "other"


def test_request_frames():
    assert request(1, "ping") == {"jsonrpc": "2.0", "method": "ping", "id": 1}
    assert request(None, "hello", {"a": 1}) == {"jsonrpc": "2.0", "method": "hello", "params": {"a": 1}}


@pytest.mark.parametrize("frame, message", [
    ({"result": 1, "id": 1}, 'expected "jsonrpc": "2.0", got no jsonrpc member'),
    ({"jsonrpc": 2.0, "result": 1, "id": 1}, 'expected "jsonrpc": "2.0", got jsonrpc 2.0'),
    ({"jsonrpc": "2.0", "id": 1}, "neither result nor error"),
    ({"jsonrpc": "2.0", "result": 1, "error": {}, "id": 1}, "both result and error"),
    ({"jsonrpc": "2.0", "error": "bad", "id": 1}, "expected an error object, got 'bad'"),
    ({"jsonrpc": "2.0", "error": {"code": True, "message": "m"}, "id": 1}, "expected an integer error code"),
    ({"jsonrpc": "2.0", "error": {"code": 1}, "id": 1}, "expected a string error message, got None"),
])
def test_check_response_names_the_violation(frame, message):
    with pytest.raises(FrameError) as info:
        check_response(frame)
    assert message in str(info.value)


def test_check_response_accepts_good_frames():
    check_response({"jsonrpc": "2.0", "result": None, "id": 1})
    check_response({"jsonrpc": "2.0", "error": {"code": -32601, "message": "x", "data": {}}, "id": "a"})


def test_describe_is_short():
    assert describe({"a": 1, "b": 2}) == "dict of 2"
    assert describe("x" * 500).endswith("...") and len(describe("x" * 500)) == 60

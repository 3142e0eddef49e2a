"""The RPC trace: frames in/out, latencies, redaction, excerpts and the saved file."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runners.trace import REDACTED, Trace, redact


def test_out_and_in_frames_with_latency():
    tr = Trace()
    tr.record_out({"jsonrpc": "2.0", "method": "ping", "id": 1}, '{"...": 1}', t=10.0)
    tr.record_in({"jsonrpc": "2.0", "result": "pong", "id": 1}, '{"result"}', t=10.0042)
    out, inn = tr.entries
    assert (out["dir"], out["kind"], out["method"], out["id"]) == ("out", "request", "ping", 1)
    assert (inn["dir"], inn["kind"], inn["method"], inn["id"]) == ("in", "response", "ping", 1)
    assert inn["latency_ms"] == pytest.approx(4.2, abs=0.001)


def test_error_notification_and_caller_supplied_fields():
    tr = Trace()
    tr.record_out({"jsonrpc": "2.0", "method": "x", "id": 7}, "raw", conn=3)
    tr.record_in({"jsonrpc": "2.0", "error": {"code": -1, "message": "m"}, "id": 7}, "raw",
                 latency_ms=1.5, note="seen", conn=3)
    tr.record_in({"jsonrpc": "2.0", "method": "camera.connected", "params": {}}, "raw")
    a, b, c = tr.entries
    assert (b["kind"], b["method"], b["latency_ms"], b["note"], b["conn"]) == ("error", "x", 1.5, "seen", 3)
    assert (c["kind"], c["method"], c["id"]) == ("notification", "camera.connected", None)
    assert "latency_ms" not in c


def test_unparseable_frames_keep_their_raw_text_cut():
    tr = Trace()
    tr.record_in(None, "x" * 5000)
    tr.record_in(None, b"\xff\xfebinary")
    tr.record_in([1, 2], "[1,2]")
    text, binary, array = tr.entries
    assert text["kind"] == "invalid" and text["raw"].endswith("... (5000 in all)") and text["size"] == 5000
    assert binary["kind"] == "binary" and binary["raw"].endswith("binary")
    assert array["kind"] == "invalid" and array["frame"] == [1, 2]


def test_monotonic_timestamps_by_default():
    tr = Trace()
    before = time.monotonic()
    tr.record_out({"method": "a", "id": 1, "jsonrpc": "2.0"}, "r")
    tr.record_meta("closed", code=1006)
    assert before <= tr.entries[0]["t"] <= tr.entries[1]["t"] <= time.monotonic()
    assert tr.entries[1] == {"t": tr.entries[1]["t"], "dir": "meta", "kind": "closed", "code": 1006}


KEY = "k" * 32  # PyJWT warns about HS256 keys under 32 bytes
TOKEN = jwt.encode({"user_id": "u", "role": "admin", "iat": 1, "exp": 2}, KEY, algorithm="HS256")


def test_redact_tokens_by_key_and_by_shape():
    obj = {
        "params": {"auth_token": "anything-at-all", "Authorization": "Bearer x"},
        "list": [TOKEN, f"rejected token {TOKEN} (expired)"],
        "files": ["rec.2025.mp4", "camera0_2025-01-01_12-00-00.mp4", "v1.2.3", "a.b.c"],
        "nested": {"deep": {"token": None, "n": 5}},
    }
    out = redact(obj)
    assert out["params"] == {"auth_token": REDACTED, "Authorization": REDACTED}
    assert out["list"] == [REDACTED, f"rejected token {REDACTED} (expired)"]
    assert out["files"] == obj["files"]  # file names and versions stay readable
    assert out["nested"] == {"deep": {"token": None, "n": 5}}
    assert obj["params"]["auth_token"] == "anything-at-all"  # never mutates


def test_redact_unsigned_and_generic_jwt_shapes():
    unsigned = "eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ."
    generic = "abcdefgh12.ijklmnop34.qrstuvwx56"
    assert redact(unsigned) == REDACTED
    assert redact(generic) == REDACTED


secrets = st.builds(lambda role, user, key: jwt.encode({"role": role, "user_id": user, "iat": 1, "exp": 9},
                                                       key, algorithm="HS256"),
                    st.sampled_from(["viewer", "operator", "admin"]), st.text(min_size=1, max_size=20),
                    st.binary(min_size=32, max_size=48))
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))


@settings(max_examples=60, deadline=None)
@given(token=secrets, data=st.recursive(json_leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)), max_leaves=12),
    prefix=st.text(alphabet=" :,;()[]'\"=", max_size=3))
def test_no_minted_token_survives_redaction(token, data, prefix):
    doc = {"payload": data, "where": [f"{prefix}{token}", {"auth_token": token}], "msg": f"bad{prefix} {token}!"}
    assert token not in json.dumps(redact(doc))


def test_excerpt_is_redacted_cut_and_the_last_entries():
    tr = Trace(host="cam-02")
    for i in range(5):
        tr.record_out({"jsonrpc": "2.0", "method": "m", "id": i, "params": {"auth_token": TOKEN}}, "r")
    tr.record_in({"jsonrpc": "2.0", "result": {"files": ["x" * 100] * 50}, "id": 4}, "r")
    ex = tr.excerpt(3)
    assert [e["id"] for e in ex] == [3, 4, 4]
    assert TOKEN not in json.dumps(ex) and all(e["host"] == "cam-02" for e in ex)
    assert "frame" not in ex[-1] and ex[-1]["frame_excerpt"].endswith("in all)")
    assert ex[0]["t_rel"] >= 0 and ex[0]["wall"] > 1e9
    assert tr.excerpt(0) == []
    assert tr.entries[0]["frame"]["params"]["auth_token"] == TOKEN  # memory is untouched


def test_save_is_valid_json_redacted_and_atomic(tmp_path):
    tr = Trace(host="cam-03")
    tr.record_out({"jsonrpc": "2.0", "method": "authenticate", "id": 1, "params": {"auth_token": TOKEN}}, "r")
    tr.record_in({"jsonrpc": "2.0", "error": {"code": -32001, "message": f"bad token {TOKEN}"}, "id": 1}, "r")
    path = tmp_path / "rpc_trace.json"
    path.write_text("old")
    tr.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "dryrun-rpc-trace/1" and doc["host"] == "cam-03" and doc["dropped"] == 0
    assert TOKEN not in path.read_text()
    assert doc["entries"][1]["frame"]["error"]["message"] == f"bad token {REDACTED}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rpc_trace.json"]
    Trace().save(tmp_path / "empty.json")
    assert json.loads((tmp_path / "empty.json").read_text())["entries"] == []


def test_bounded_memory():
    tr = Trace(max_entries=100)
    for i in range(250):
        tr.record_out({"jsonrpc": "2.0", "method": "m", "id": i}, "r")
    assert len(tr.entries) <= 100 and tr.dropped == 250 - len(tr.entries)
    assert tr.entries[-1]["id"] == 249
    assert len(tr._sent) <= 10_001

"""runners.redaction: the one implementation behind every redacting entry point."""

from __future__ import annotations

import subprocess
import sys

import record.redact
import runners.smoke.text
import runners.tokens
import runners.trace
from runners import redaction
from runners.redaction import JWT_EYJ_RE, JWT_RE, REDACTED, redact_obj, redact_text

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlLXZhbHVl"


def test_text_secrets_longest_first_then_jwts():
    assert redact_text("key=abcdef", ["abc", "abcdef"]) == f"key={REDACTED}"
    assert redact_text(f"Bearer {TOKEN}") == f"Bearer {REDACTED}"
    assert redact_text(f"Bearer {TOKEN}", jwt_re=None) == f"Bearer {TOKEN}"
    assert redact_text("pw abc here", ["abc", None, ""], min_secret_len=4) == "pw abc here"


def test_obj_keys_strings_and_containers():
    obj = {"params": {"Auth_Token": "x", "token": None, "secret": ""}, "msg": (f"t {TOKEN}", 3), 7: "k"}
    out = redact_obj(obj)
    assert out == {"params": {"Auth_Token": REDACTED, "token": None, "secret": REDACTED},
                   "msg": [f"t {REDACTED}", 3], 7: "k"}
    assert obj["params"]["Auth_Token"] == "x"  # the input is not mutated
    kept_empty = redact_obj({"secret": "", "note": "pw hunter2"}, ["hunter2"], redact_empty=False)
    assert kept_empty == {"secret": "", "note": f"pw {REDACTED}"}


def test_patterns_differ_where_the_callers_did():
    # the trace pattern reads whole tokens only; the record's finds an eyJ token anywhere
    assert JWT_RE.search("xeyJabcd.efgh.ij") is None and JWT_EYJ_RE.search("xeyJabcd.efgh.ij") is not None
    assert JWT_RE.search("aaaaaaaa.bbbbbbbb.cccccccc") and not JWT_EYJ_RE.search("aaaaaaaa.bbbbbbbb.cccccccc")


def test_entry_points_use_this_module():
    assert runners.trace.JWT_RE is JWT_RE and runners.trace.REDACTED is REDACTED
    assert record.redact.JWT_RE is JWT_EYJ_RE and record.redact.SECRET_KEYS is redaction.RECORD_SECRET_KEYS
    assert runners.tokens.REDACTED is REDACTED
    assert runners.trace.redact({"auth_token": "t"}) == {"auth_token": REDACTED}
    assert record.redact.redact({"auth_token": "", "api_key": "k"}) == {"auth_token": "", "api_key": REDACTED}
    assert runners.tokens.redact(f"a {TOKEN}", ["zz"]) == f"a {REDACTED}"
    assert runners.smoke.text.redact_text("pw abcd and abc", ["abcd", "abc"]) == f"pw {REDACTED} and abc"


def test_imports_no_network_library():
    code = ("import sys, runners.redaction; "
            "print(sorted(m for m in ('httpx', 'websockets', 'asyncssh', 'textual') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "[]"


def test_a_token_at_the_end_of_a_sentence_is_redacted():
    from runners.redaction import redact_text
    from runners.tokens import mint_token

    token = mint_token("s3cret-s3cret-s3cret-s3cret-s3cret!")
    for text in (f"invalid token {token}.", f"token={token}. retry", f"({token})"):
        out = redact_text(text)
        assert token not in out and "<redacted>" in out, out
    assert redact_text("saved rec.2025.mp4.") == "saved rec.2025.mp4."

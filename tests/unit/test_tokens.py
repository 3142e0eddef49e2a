"""runners.tokens: reading credentials, minting/forging JWTs, redaction."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runners import tokens
from runners.config import Auth, parse_config
from runners.errors import SecretError
from runners.tokens import REDACTED, Credentials, forge_token, load_credentials, mint_token, redact

SECRET = "s3cr3t-value-0123456789abcdef0123456789"
NOW = 1_700_000_000


def _resolve_in(folder: Path):
    return lambda p: (folder / p) if not Path(p).is_absolute() else Path(p)


# ------------------------------------------------------------------- load_credentials

def test_env_token_and_secret_are_read_and_stripped(monkeypatch, tmp_path):
    token = mint_token(SECRET, now=NOW)
    monkeypatch.setenv("DRYRUN_T_TOKEN", f"  {token}\n")
    monkeypatch.setenv("DRYRUN_T_SECRET", SECRET + "\n")
    creds = load_credentials(Auth(token_env="DRYRUN_T_TOKEN", secret_env="DRYRUN_T_SECRET"), _resolve_in(tmp_path))
    assert creds.token == token and creds.secret == SECRET
    assert creds.token_source == "env DRYRUN_T_TOKEN" and creds.secret_source == "env DRYRUN_T_SECRET"
    assert sorted(creds.values()) == sorted([token, SECRET])


def test_nothing_configured_gives_none():
    creds = load_credentials(Auth(), Path)
    assert creds.token is None and creds.secret is None and creds.values() == []


def test_repr_and_str_hide_the_values(monkeypatch, tmp_path):
    monkeypatch.setenv("DRYRUN_T_SECRET", SECRET)
    creds = load_credentials(Auth(secret_env="DRYRUN_T_SECRET"), _resolve_in(tmp_path))
    for shown in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in shown
        assert "secret=<set from env DRYRUN_T_SECRET>" in shown
        assert "token=<none>" in shown


def test_unset_env_var_is_named(monkeypatch):
    monkeypatch.delenv("DRYRUN_T_MISSING", raising=False)
    with pytest.raises(SecretError, match=r"auth\.secret_env: environment variable DRYRUN_T_MISSING is not set"):
        load_credentials(Auth(secret_env="DRYRUN_T_MISSING"), Path)


@pytest.mark.parametrize("value", ["", "   \n\t"])
def test_empty_env_var_is_named(monkeypatch, value):
    monkeypatch.setenv("DRYRUN_T_EMPTY", value)
    with pytest.raises(SecretError, match="environment variable DRYRUN_T_EMPTY is empty"):
        load_credentials(Auth(token_env="DRYRUN_T_EMPTY"), Path)


def test_relative_file_is_resolved_against_the_config_folder(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "jwt.secret").write_text(SECRET + "\n")
    cfg = parse_config({}, tmp_path / "dryrun.toml")
    creds = load_credentials(Auth(secret_file="secrets/jwt.secret"), cfg.resolve)
    assert creds.secret == SECRET
    assert creds.secret_source == f"file {tmp_path / 'secrets' / 'jwt.secret'}"


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SecretError) as ei:
        load_credentials(Auth(secret_file="nope.secret"), _resolve_in(tmp_path))
    assert str(ei.value) == (f"auth.secret_file: file {tmp_path / 'nope.secret'} does not exist "
                             f"(it should hold the service's JWT secret)")


def test_empty_file(tmp_path):
    (tmp_path / "t").write_text("\n\n  ")
    with pytest.raises(SecretError, match=rf"auth\.token_file: {tmp_path / 't'} is empty"):
        load_credentials(Auth(token_file="t"), _resolve_in(tmp_path))


def test_not_utf8_file_is_named_without_its_bytes(tmp_path):
    (tmp_path / "s").write_bytes(b"abc\xff\xfe-top-secret")
    with pytest.raises(SecretError) as ei:
        load_credentials(Auth(secret_file="s"), _resolve_in(tmp_path))
    msg = str(ei.value)
    assert f"{tmp_path / 's'} is not UTF-8 text (invalid byte at offset 3)" in msg
    assert "top-secret" not in msg


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(SecretError, match="is a directory, expected a file holding the service's JWT secret"):
        load_credentials(Auth(secret_file="d"), _resolve_in(tmp_path))


def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block until a writer appears
    with pytest.raises(SecretError, match="is not a regular file"):
        load_credentials(Auth(secret_file="fifo"), _resolve_in(tmp_path))


def test_oversize_file(tmp_path):
    (tmp_path / "big").write_bytes(b"a" * (tokens.MAX_SECRET_BYTES + 1))
    with pytest.raises(SecretError, match="larger than 64 KiB"):
        load_credentials(Auth(secret_file="big"), _resolve_in(tmp_path))


def test_unreadable_file(tmp_path, monkeypatch):
    # root reads through permission bits, so make open() itself fail the way EACCES does.
    (tmp_path / "locked").write_text(SECRET)

    def deny(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tokens, "open", deny, raising=False)
    with pytest.raises(SecretError) as ei:
        load_credentials(Auth(secret_file="locked"), _resolve_in(tmp_path))
    assert str(ei.value) == f"auth.secret_file: cannot read {tmp_path / 'locked'}: Permission denied"


def test_token_that_is_not_a_jwt_is_refused_without_showing_it(tmp_path):
    (tmp_path / "t").write_text("hunter2-not-a-jwt")
    with pytest.raises(SecretError) as ei:
        load_credentials(Auth(token_file="t"), _resolve_in(tmp_path))
    assert "does not look like a JWT (expected 3 dot-separated base64url parts, got 1 part(s)" in str(ei.value)
    assert "hunter2" not in str(ei.value)


def test_bearer_prefix_is_explained(monkeypatch):
    monkeypatch.setenv("DRYRUN_T_TOKEN", "Bearer " + mint_token(SECRET, now=NOW))
    with pytest.raises(SecretError, match="starts with 'Bearer '; store the bare JWT"):
        load_credentials(Auth(token_env="DRYRUN_T_TOKEN"), Path)


# ------------------------------------------------------------------------- mint / forge

def test_mint_token_claims_and_signature():
    token = mint_token(SECRET, role="operator", user_id="ivv", ttl=600, now=NOW)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"user_id": "ivv", "role": "operator", "iat": NOW, "exp": NOW + 600}


def test_minted_token_is_valid_now():
    claims = jwt.decode(mint_token(SECRET), SECRET, algorithms=["HS256"])
    assert claims["role"] == "admin" and claims["user_id"] == "dryrun-console"


def test_expired_token_is_expired_beyond_any_leeway():
    token = mint_token(SECRET, expired=True, now=NOW)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] == NOW - tokens.EXPIRED_BY and claims["iat"] < claims["exp"]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(mint_token(SECRET, expired=True), SECRET, algorithms=["HS256"], leeway=300)


def test_short_secret_still_mints_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        token = mint_token("short")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT's own decode warns about the short key
        assert jwt.decode(token, "short", algorithms=["HS256"])["role"] == "admin"


def test_mint_rejects_bad_input():
    with pytest.raises(SecretError, match="secret is empty"):
        mint_token("")
    with pytest.raises(ValueError, match="ttl must be > 0"):
        mint_token(SECRET, ttl=0)
    with pytest.raises(ValueError, match="role must not be empty"):
        mint_token(SECRET, role="")


def test_forged_token_is_well_formed_but_signed_with_another_key():
    forged = forge_token("admin", now=NOW)
    claims = jwt.decode(forged, options={"verify_signature": False})
    assert claims == {"user_id": "dryrun-console", "role": "admin", "iat": NOW, "exp": NOW + 3600}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    # A fresh random key each time: two forgeries of the same claims differ in signature only.
    other = forge_token("admin", now=NOW)
    assert other.rsplit(".", 1)[0] == forged.rsplit(".", 1)[0] and other != forged


# ------------------------------------------------------------------------------- redact

def test_redact_secrets_and_jwts():
    token = mint_token(SECRET, now=NOW)
    text = f"auth with {token} using secret {SECRET}; again {SECRET}."
    out = redact(text, [SECRET, None, ""])
    assert out == f"auth with {REDACTED} using secret {REDACTED}; again {REDACTED}."


def test_redact_longest_secret_first():
    assert redact("key=abcdef", ["abc", "abcdef"]) == f"key={REDACTED}"


def test_redact_can_leave_jwts():
    token = mint_token(SECRET, now=NOW)
    assert redact(token, [], jwts=False) == token
    assert redact("no secrets here", ["zzz"]) == "no secrets here"


def test_credentials_values_feed_redact(monkeypatch):
    creds = Credentials(token=None, secret=SECRET)
    assert SECRET not in redact(f"x {SECRET} y", creds.values())


@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=40)
    .filter(lambda s: s not in REDACTED),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
def test_redact_never_leaves_the_secret(secret, before, after):
    out = redact(before + secret + after, [secret])
    assert secret not in out

"""SMK-2: authentication — a valid token is accepted, invalid and expired ones are rejected,
and a protected call before authenticating is refused.

Steps, on one socket that never authenticates successfully: ``get_camera_list`` before
``authenticate`` must be refused with auth_required (-32001 in both dialects); a forged
token (well-formed JWT, wrong key) must be rejected; an expired token (minted with the
service secret, exp an hour ago) must be rejected; the protected call must still be
refused afterwards. Then on a fresh socket the valid token must be accepted with a role
(the configured role when we minted it) and a protected call must now work.

Rejection comes in two forms (error -32001, or legacy's result ``authenticated:false``):
the form seen is reported. With only a ready-made token (no secret) the expired case
cannot be minted: the summary says it was not exercised (never a silent pass).
"""

from __future__ import annotations

from runners.config import Checks
from runners.smoke.checks._util import short
from runners.smoke.context import CheckContext
from runners.smoke.outcome import CheckFailed, Passed
from runners.smoke.registry import CheckSpec


async def _refused_before_auth(ctx: CheckContext, c, when: str) -> str:
    from runners.errors import RpcError

    ctx.expect(f"a protected call {when} to be refused with auth_required")
    try:
        got = await ctx.call(c, "get_camera_list")
    except RpcError as e:
        if e.meaning != "auth_required":
            raise CheckFailed(f"get_camera_list {when} refused with auth_required (-32001)",
                              f"error {e.code} {e.message!r} ({e.meaning})", fault=e.fault_code) from None
        return f"error {e.code}"
    raise CheckFailed(f"get_camera_list {when} refused with auth_required (-32001)",
                      f"it succeeded: {short(got, 120)}", fault="auth_bypass")


async def _rejected(ctx: CheckContext, c, token: str, what: str) -> str:
    from runners.errors import AuthRejected

    ctx.expect(f"the {what} token to be rejected")
    ctx.methods.add("authenticate")
    try:
        res = await c.authenticate(token)
    except AuthRejected as e:
        ctx.emit_step(f"{what} token rejected ({e.form})", form=e.form)
        return e.form
    raise CheckFailed(f"the {what} token rejected (error -32001 or authenticated:false)",
                      f"accepted: {short(res, 160)}", fault="auth_bypass")


async def check(ctx: CheckContext) -> Passed:
    from runners.tokens import forge_token, mint_token

    creds = ctx.credentials()
    valid = ctx.valid_token()  # CheckError if the host has no credentials at all
    a = ctx.host.auth
    forms: dict[str, str] = {}
    notes: list[str] = []

    ctx.emit_step("opening an unauthenticated socket")
    ctx.expect("the RPC endpoint to accept a connection")
    c = await ctx.client(authenticate=False)
    forms["before_auth"] = await _refused_before_auth(ctx, c, "before authenticate")
    ctx.emit_step(f"protected call before authenticate refused ({forms['before_auth']})")
    forms["forged"] = await _rejected(ctx, c, forge_token(a.role), "forged (wrong signature)")
    if creds.secret:
        forms["expired"] = await _rejected(ctx, c, mint_token(creds.secret, role=a.role, user_id=a.user_id,
                                                              expired=True), "expired")
    else:
        notes.append("expired-token rejection NOT exercised (no service secret configured, only a token)")
        ctx.emit_step("expired token not exercised: no secret to mint one")
    forms["after_rejections"] = await _refused_before_auth(ctx, c, "after rejected tokens")
    await c.close()

    ctx.emit_step("authenticating a fresh socket with the valid token")
    ctx.expect("the valid token to be accepted")
    ok = await ctx.client(authenticate=False)
    ctx.methods.add("authenticate")
    res = await ok.authenticate(valid)
    role = res.get("role") if isinstance(res, dict) else None
    if not isinstance(role, str) or not role:
        raise CheckFailed("authenticate result with authenticated:true and a role", short(res), fault="contract")
    if creds.secret and role != a.role:
        raise CheckFailed(f"role {a.role!r} (the minted token's role)", f"role {role!r}", fault="wrong_role")
    ctx.expect("a protected call to work once authenticated")
    await ctx.call(ok, "get_camera_list")
    ctx.emit_step(f"valid token accepted (role {role}); protected call allowed")

    rejection = sorted({v for k, v in forms.items() if k in ("forged", "expired")})
    summary = (f"valid token accepted (role {role}); forged"
               + (" and expired" if "expired" in forms else "")
               + f" rejected ({' / '.join(rejection)}); call before authenticate refused ({forms['before_auth']})")
    if notes:
        summary += "; " + "; ".join(notes)
    return Passed(summary, {"expired_exercised": 1.0 if "expired" in forms else 0.0})


def _timeout(c: Checks) -> float:
    return 2 * c.connect_timeout + 7 * c.rpc_timeout + 5.0


SPEC = CheckSpec("SMK-2", "Auth: obtain/validate token; reject invalid/expired", check, _timeout)

"""SMK-6: error handling — an invalid RPC method yields the documented code (-32601), and an
error-matrix probe: invalid params, not found and permission denied each yield the code
the host's dialect documents (camera-service-api.md), reported per dialect.

Probes (every one a real call; a success or any other code fails the check):
  method_not_found   ``dryrun.no_such_method``                       -32601 both
  invalid_params     ``get_camera_status`` without ``device``         -32602 both
  not_found          ``get_camera_status`` on a camera that is absent -32010 current / -32004 legacy
  permission_denied  ``get_metrics`` (admin) with a viewer token      -32002 current / -32003 legacy
The permission probe needs the service secret (to mint a viewer token); with only a
token it is reported as not exercised.
"""

from __future__ import annotations

from runners.config import Checks
from runners.smoke.checks._util import short
from runners.smoke.context import CheckContext
from runners.smoke.outcome import CheckFailed, Passed
from runners.smoke.registry import CheckSpec

ABSENT_CAMERA = "dryrun-no-such-camera"
PROBES = (
    # (meaning, method, params)
    ("method_not_found", "dryrun.no_such_method", {}),
    ("invalid_params", "get_camera_status", {}),
    ("camera_not_found", "get_camera_status", {"device": ABSENT_CAMERA}),
)


async def _probe(ctx: CheckContext, c, meaning: str, method: str, params: dict) -> tuple[int, str]:
    from runners.errors import RpcError
    from runners.protocol import expected_code

    want = expected_code(ctx.dialect, meaning)
    ctx.expect(f"{method} to fail with {want} ({meaning}, {ctx.dialect} dialect)")
    try:
        got = await ctx.call(c, method, params)
    except RpcError as e:
        if e.code != want:
            raise CheckFailed(f"{method}{short(params, 60) if params else ''} -> error {want} ({meaning}, "
                              f"{ctx.dialect} dialect)", f"error {e.code} {e.message!r} ({e.meaning})",
                              fault=e.fault_code) from None
        ctx.emit_step(f"{meaning}: {method} -> error {e.code} as documented", code=e.code)
        return e.code, meaning
    raise CheckFailed(f"{method}{short(params, 60) if params else ''} -> error {want} ({meaning})",
                      f"it succeeded: {short(got, 120)}", fault="no_error")


async def check(ctx: CheckContext) -> Passed:
    from runners.tokens import mint_token

    ctx.expect("an authenticated RPC session")
    c = await ctx.client()
    rows: list[str] = []
    for meaning, method, params in PROBES:
        code, _ = await _probe(ctx, c, meaning, method, params)
        rows.append(f"{meaning} {code}")
    await c.close()
    creds = ctx.credentials()
    exercised = 3.0
    if creds.secret:
        ctx.expect("an RPC session authenticated as viewer")
        viewer = await ctx.client(token=mint_token(creds.secret, role="viewer", user_id=ctx.host.auth.user_id))
        code, _ = await _probe(ctx, viewer, "permission_denied", "get_metrics", {})
        rows.append(f"permission_denied {code}")
        exercised += 1
        note = ""
    else:
        note = "; permission_denied NOT exercised (no service secret to mint a viewer token)"
    return Passed(f"{ctx.dialect} dialect: {', '.join(rows)} as documented{note}", {"probes": exercised})


def _timeout(c: Checks) -> float:
    return 2 * c.connect_timeout + 7 * c.rpc_timeout + 5.0


SPEC = CheckSpec("SMK-6", "Error handling: invalid RPC method gives documented code", check, _timeout)

"""SMK-1..7: one module per check, each an ``async def check(ctx) -> Passed`` and a ``SPEC``."""

"""The sprint clock line (nav bar, stand-up): day N of D, iteration k of K, the countdown
to the next stand-up, RO when read-only, and the time. Pure: reads the model only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tui.widgets.status import fmt_countdown

if TYPE_CHECKING:
    from tui.model import ConsoleModel


def standup_countdown(tb, now: datetime) -> tuple[str, float] | None:
    """("16:00", seconds until) for the next stand-up, or None when the sprint has none left."""
    nxt = getattr(tb, "next_standup", None)
    if nxt is None:
        return None
    naive_now = now.replace(tzinfo=None) if nxt.tzinfo is None else now
    return f"{nxt:%H:%M}", (nxt - naive_now).total_seconds()


def clock_variants(model: ConsoleModel) -> list[str]:
    """The sprint clock, longest first; the nav bar shows the longest that fits."""
    now = model.now()
    ro = ["READ-ONLY"] if model.read_only else []
    t = f"{now:%H:%M:%S}"
    tb = model.record.timebox if model.record else None
    if tb is None:
        return [" · ".join([*ro, t])]
    if tb.day == 0:
        day, short_day = f"starts {tb.start:%a %d %b}", f"D0/{tb.days}"
    elif tb.over:
        day, short_day = f"Day {tb.day}/{tb.days} OVER", f"D{tb.day}/{tb.days}!"
    else:
        day, short_day = f"Day {tb.day}/{tb.days}", f"D{tb.day}/{tb.days}"
    it = f"it {tb.iteration}/{tb.iterations}"
    cd = standup_countdown(tb, now)
    su = f"stand-up {cd[0]} in {fmt_countdown(cd[1])}" if cd else "no stand-up left"
    su_short = f"▸{cd[0]} {fmt_countdown(cd[1])}" if cd else ""
    return [
        " · ".join([day, it, su, *ro, t]),
        " · ".join([short_day, it, su_short, *ro, t]) if su_short else " · ".join([short_day, it, *ro, t]),
        " ".join([short_day, it, *ro]),
        " ".join(ro) or short_day,
    ]


def clock_line(model: ConsoleModel, *, width: int = 80) -> str:
    return clock_variants(model)[0]

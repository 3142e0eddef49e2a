"""The plan's timebox: "3 working days (can compress to 2); 2 iterations max", stand-ups at
09:00 + 16:00, decision points at the end of Day-1 and Day-2.

Working days skip Saturdays and Sundays. Day 1 is the start date (moved to the next
working day if it falls on a weekend). Decision points are the ends of Day-1 .. Day-(D-1).
Pure functions of (start, days, stand-ups, now): the tests pass ``now``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass


def is_working_day(d: _dt.date) -> bool:
    return d.weekday() < 5


def first_working_day(d: _dt.date) -> _dt.date:
    while not is_working_day(d):
        d += _dt.timedelta(days=1)
    return d


def working_days(start: _dt.date, n: int) -> list[_dt.date]:
    out: list[_dt.date] = []
    d = first_working_day(start)
    while len(out) < n:
        if is_working_day(d):
            out.append(d)
        d += _dt.timedelta(days=1)
    return out


def day_number(start: _dt.date, today: _dt.date) -> int:
    """1-based working day of ``today`` in the sprint (0 before it starts; a weekend counts as
    the working day before it)."""
    d = first_working_day(start)
    if today < d:
        return 0
    n = 0
    while d <= today:
        if is_working_day(d):
            n += 1
        d += _dt.timedelta(days=1)
    return n


@dataclass(frozen=True)
class TimeboxStatus:
    start: _dt.date
    days: int
    day: int  # 0 = not started; > days = over the timebox
    dates: tuple[_dt.date, ...]
    iteration: int
    iterations: int
    standups: tuple[str, ...]
    next_standup: _dt.datetime | None
    decision_points: tuple[_dt.date, ...]

    @property
    def over(self) -> bool:
        return self.day > self.days

    @property
    def days_used(self) -> int:
        return max(self.day, 0)

    def line(self) -> str:
        if self.day == 0:
            where = f"starts {self.start.isoformat()}"
        elif self.over:
            where = f"day {self.day} of {self.days}: OVER the timebox"
        else:
            where = f"day {self.day} of {self.days}"
        nxt = f", next stand-up {self.next_standup:%a %Y-%m-%d %H:%M}" if self.next_standup else ""
        return f"{where}, iteration {self.iteration} of {self.iterations}{nxt}"

    def to_dict(self) -> dict:
        return {
            "start": self.start.isoformat(), "days": self.days, "day": self.day, "over": self.over,
            "dates": [d.isoformat() for d in self.dates], "iteration": self.iteration,
            "iterations": self.iterations, "standups": list(self.standups),
            "next_standup": self.next_standup.isoformat(timespec="minutes") if self.next_standup else None,
            "decision_points": [d.isoformat() for d in self.decision_points],
        }


def _hhmm(s: str) -> _dt.time:
    h, m = s.split(":")
    return _dt.time(int(h), int(m))


def status(start: _dt.date, days: int, standups: tuple[str, ...], iteration: int, iterations: int,
           now: _dt.datetime) -> TimeboxStatus:
    dates = tuple(working_days(start, days))
    times = sorted(_hhmm(s) for s in standups)
    nxt = None
    for d in dates:
        for t in times:
            at = _dt.datetime.combine(d, t)
            if at > now:
                nxt = at
                break
        if nxt:
            break
    return TimeboxStatus(
        start=dates[0], days=days, day=day_number(start, now.date()), dates=dates, iteration=iteration,
        iterations=iterations, standups=tuple(standups), next_standup=nxt, decision_points=dates[:-1],
    )

from __future__ import annotations

import datetime as dt

from record.timebox import day_number, status, working_days

MON = dt.date(2025, 11, 24)


def test_working_days_skip_weekends():
    assert working_days(dt.date(2025, 11, 27), 3) == [dt.date(2025, 11, 27), dt.date(2025, 11, 28),
                                                      dt.date(2025, 12, 1)]
    assert working_days(dt.date(2025, 11, 29), 1) == [dt.date(2025, 12, 1)]  # Saturday start -> Monday


def test_day_number():
    assert day_number(MON, MON - dt.timedelta(days=1)) == 0
    assert day_number(MON, MON) == 1
    assert day_number(MON, MON + dt.timedelta(days=2)) == 3
    assert day_number(MON, dt.date(2025, 11, 29)) == 5  # Saturday counts as the Friday before
    assert day_number(MON, dt.date(2025, 12, 1)) == 6


def test_status_next_standup_and_decision_points():
    st = status(MON, 3, ("16:00", "09:00"), 1, 2, dt.datetime(2025, 11, 24, 10, 30))
    assert st.day == 1 and not st.over
    assert st.next_standup == dt.datetime(2025, 11, 24, 16, 0)
    assert st.decision_points == (MON, MON + dt.timedelta(days=1))
    assert "day 1 of 3, iteration 1 of 2, next stand-up Mon 2025-11-24 16:00" == st.line()
    late = status(MON, 3, ("09:00", "16:00"), 2, 2, dt.datetime(2025, 11, 24, 17, 0))
    assert late.next_standup == dt.datetime(2025, 11, 25, 9, 0)
    over = status(MON, 2, ("09:00",), 2, 2, dt.datetime(2025, 11, 27, 12, 0))
    assert over.over and over.next_standup is None and "OVER" in over.line()
    assert over.to_dict()["dates"] == ["2025-11-24", "2025-11-25"]

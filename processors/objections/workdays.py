"""Objection deadlines in working days (Monday to Friday, Asia/Shanghai calendar dates).

Public holidays and the weekend days China declares working days (调休) are not modelled: the
deadline is counted on plain weekdays, which is what the regulation's available text allows (it
names no deadline; the catalog's ``objection_sla`` sets one per entry).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["LOCAL", "add_working_days"]

LOCAL = ZoneInfo("Asia/Shanghai")


def add_working_days(start: datetime, days: int) -> datetime:
    """End of the ``days``-th working day after ``start`` (local midnight after it, in UTC)."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    day = start.astimezone(LOCAL).date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    # The deadline is the end of that local day: the provider has the whole day to answer.
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL)
    return end.astimezone(UTC)

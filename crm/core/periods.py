"""Reporting periods cut into steps (ISO weeks, or months for long periods), and the SQL putting an instant in one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

#: Periods longer than this many days are shown month by month, shorter ones week by week.
WEEKLY_MAX_DAYS = 92


@dataclass(frozen=True)
class Bucket:
    """One step of a series: days first..last (local), instants [start, end) in UTC."""

    first: date
    last: date
    start: datetime
    end: datetime


def is_weekly(first: date, last: date) -> bool:
    """Whether a period is cut into weeks (else into months)."""
    return (last - first).days + 1 <= WEEKLY_MAX_DAYS


def buckets(first: date, last: date, zone: ZoneInfo) -> list[Bucket]:
    """The period's ISO weeks (or calendar months past WEEKLY_MAX_DAYS), clipped to the period."""
    weekly = is_weekly(first, last)
    result, day = [], first
    while day <= last:
        if weekly:
            following = day + timedelta(days=7 - day.weekday())
        else:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        end_day = min(following - timedelta(days=1), last)
        result.append(Bucket(day, end_day, datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC),
                             datetime.combine(end_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)))
        day = end_day + timedelta(days=1)
    return result


def bucket_index(instant, steps: Sequence[Bucket]):
    """SQL: the index of the step an instant falls in (NULL past the last), portable and time-zone exact.

    Callers restrict the rows to [steps[0].start, steps[-1].end) themselves.
    """
    return sa.case(*((instant < step.end, index) for index, step in enumerate(steps)), else_=None)

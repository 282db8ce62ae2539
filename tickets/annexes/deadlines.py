"""An annex's answer deadline in working days of the engine's business calendar (tickets.sla.BusinessCalendar):
weekdays with open hours, minus the French public holidays and the closure days the calendar carries.

The calendar is the engine's office calendar, « Heures de bureau (Paris) », as the administrator edits it under
Configuration (hours, holidays, closure days); without it, the default office hours with the French holidays."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from crm.core.extensions import db
from tickets.admin.defaults import OFFICE, OFFICE_HOURS
from tickets.models import SlaCalendar
from tickets.sla import BusinessCalendar
from tickets.sla_tracking import business_calendar

#: The answer time proposed to an establishment, in working days.
ANSWER_WORKING_DAYS = 10
#: A year and a half of days: a calendar with no working day in it is a configuration error, not a wait.
_HORIZON = 550


def is_working_day(calendar: BusinessCalendar, day: date) -> bool:
    """True if ``day`` has open hours in the calendar (not a weekend without hours, a holiday or a closure)."""
    return bool(calendar.open_intervals(day))


def add_working_days(calendar: BusinessCalendar, start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself if ``days`` is 0 and it is a working day, else
    the next working day); ValueError when the calendar has no working day within a year and a half."""
    day, counted = start, 0
    if days <= 0 and is_working_day(calendar, day):
        return day
    for _ in range(_HORIZON):
        day += timedelta(days=1)
        if is_working_day(calendar, day):
            counted += 1
            if counted >= max(days, 1):
                return day
    raise ValueError("the calendar has no working day")


def annex_calendar() -> BusinessCalendar:
    """The business calendar of the annexes' deadlines (the stored office calendar, else its default)."""
    stored = db.session.scalar(sa.select(SlaCalendar).where(SlaCalendar.name == OFFICE))
    if stored is not None:
        return business_calendar(stored)
    return BusinessCalendar({day: [tuple(r) for r in ranges] for day, ranges in OFFICE_HOURS.items()},
                            timezone="Europe/Paris", country="FR")


def default_deadline(today: date, calendar: BusinessCalendar | None = None) -> date:
    """The deadline proposed when an annex is published: ANSWER_WORKING_DAYS working days after today (in
    ``calendar``, read once by a caller publishing many annexes; else the annexes' calendar, read now)."""
    return add_working_days(calendar or annex_calendar(), today, ANSWER_WORKING_DAYS)

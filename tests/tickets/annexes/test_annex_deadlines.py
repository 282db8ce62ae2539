"""The annex deadline in working days of the engine's business calendar: weekends, French public holidays and the
calendar's closure days skipped; a deadline on a day off refused with the next working day named."""

from __future__ import annotations

from datetime import date

import factories_annexes
import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.core.services import create_api_token
from tickets.admin.defaults import OFFICE_HOURS
from tickets.annexes import deadlines, services
from tickets.annexes.models import FinancialAnnex
from tickets.sla import BusinessCalendar

world = factories_annexes.world  # the fixture

PARIS = BusinessCalendar({d: [tuple(r) for r in ranges] for d, ranges in OFFICE_HOURS.items()}, country="FR",
                         closed=[date(2026, 12, 31)])


@pytest.mark.parametrize(("start", "days", "expected"), [
    (date(2026, 12, 1), 10, date(2026, 12, 15)),  # two weekends
    (date(2026, 12, 23), 1, date(2026, 12, 24)),
    (date(2026, 12, 24), 1, date(2026, 12, 28)),  # Christmas (Friday) and the weekend
    (date(2026, 12, 30), 1, date(2027, 1, 4)),  # a closure day, New Year's Day, the weekend
    (date(2026, 12, 26), 0, date(2026, 12, 28)),  # a Saturday: the next working day
    (date(2027, 5, 5), 1, date(2027, 5, 7)),  # Ascension Thursday, 6 May 2027
])
def test_working_days_skip_weekends_holidays_and_closures(start, days, expected):
    assert deadlines.add_working_days(PARIS, start, days) == expected
    assert deadlines.is_working_day(PARIS, expected)


def test_a_calendar_without_working_days_is_an_error():
    with pytest.raises(ValueError, match="no working day"):
        deadlines.add_working_days(BusinessCalendar({}), date(2026, 12, 1), 1)


def test_deadlines_follow_the_configured_calendar_and_a_day_off_is_refused(world, client, login):
    calendar = deadlines.annex_calendar()
    assert deadlines.default_deadline(date(2026, 12, 1)) == deadlines.add_working_days(
        calendar, date(2026, 12, 1), deadlines.ANSWER_WORKING_DAYS)
    with pytest.raises(services.AnnexError, match="25/12/2026 n'est pas un jour ouvré.*le 28/12/2026") as refused:
        world.publish(due_on=date(2026, 12, 25))
    assert refused.value.field == "due_on" and db.session.scalar(sa.select(sa.func.count()).select_from(
        FinancialAnnex)) == 0
    login(world.agent)
    page = client.get(f"/agent/annexes/projets/{world.project.reference}").get_data(as_text=True)
    assert f'value="{deadlines.default_deadline(paris_today())}"' in page
    token = create_api_token(world.agent, "test")[1]
    db.session.commit()  # inside the test's transaction: an error response rolls back
    body = {"project": world.project.reference, "partner_number": 1, **factories_annexes.FIGURES}
    created = client.post("/api/v1/annexes", json=body, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.get_json()
    annex = db.session.get(FinancialAnnex, created.get_json()["id"])
    assert annex.due_on == deadlines.default_deadline(paris_today())
    sunday = client.post("/api/v1/annexes", json={**body, "partner_number": 2, "due_on": "2099-02-01"},
                         headers={"Authorization": f"Bearer {token}"})
    assert sunday.status_code == 422 and sunday.mimetype == "application/problem+json"


def test_the_reminder_counts_working_days(world):
    from tickets.annexes import jobs

    friday = date(2026, 12, 4)
    world.publish(due_on=date(2026, 12, 9))  # Wednesday: 5 days ahead, 3 working days
    world.publish(world.other_partner, due_on=date(2026, 12, 10))  # Thursday: 4 working days
    assert jobs.remind_and_escalate(today=friday) == {"reminded": 1, "escalated": 0}

"""The annexes' scheduled job: remind the référents before the deadline, escalate to the agency once it passed.

Each step is done once per version: the annex records it (``reminder_sent_at``, ``escalated_at``, cleared when a
new version is published) and each e-mail carries a dedup key in the outbox. Days are Paris days; the reminder's
window counts working days of the deadlines' calendar (tickets.annexes.deadlines): on a Friday, an annex due on
Wednesday is reminded before the weekend.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import Flask

from crm.core.extensions import db, utcnow
from crm.core.i18n import paris_today
from tickets.annexes import deadlines, notices
from tickets.annexes.models import AnnexState, FinancialAnnex

#: How many working days before the deadline the référents are reminded.
REMINDER_DAYS = 3
BATCH = 500


def remind_and_escalate(today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """Remind the référents of annexes due within REMINDER_DAYS, escalate the overdue ones; each once."""
    today = today or paris_today()
    now = now or utcnow()
    waiting = FinancialAnnex.state == AnnexState.PUBLISHED
    horizon = deadlines.add_working_days(deadlines.annex_calendar(), today, REMINDER_DAYS)
    reminded = escalated = 0
    for annex in db.session.scalars(
        sa.select(FinancialAnnex).where(waiting, FinancialAnnex.reminder_sent_at.is_(None),
                                        FinancialAnnex.due_on >= today,
                                        FinancialAnnex.due_on <= horizon)
        .order_by(FinancialAnnex.due_on, FinancialAnnex.id).limit(BATCH)
    ):
        notices.reminded(annex)
        annex.reminder_sent_at = now
        reminded += 1
    for annex in db.session.scalars(
        sa.select(FinancialAnnex).where(waiting, FinancialAnnex.escalated_at.is_(None), FinancialAnnex.due_on < today)
        .order_by(FinancialAnnex.due_on, FinancialAnnex.id).limit(BATCH)
    ):
        notices.escalated(annex, today)
        annex.escalated_at = now
        escalated += 1
    db.session.flush()
    return {"reminded": reminded, "escalated": escalated}


def init_app(app: Flask) -> None:
    """Register the job: every hour, in the application's time zone."""
    from crm.core import registry

    registry.add_job(app, "annex_deadlines", remind_and_escalate,
                     {"trigger": "cron", "minute": 5, "timezone": app.config["BABEL_DEFAULT_TIMEZONE"]})

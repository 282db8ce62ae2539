"""Demo data: answered satisfaction surveys (with a low score to follow up) and staff notifications."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from crm.core.extensions import UTCDateTime, db, utcnow
from notifications import surveys
from notifications.models import OutboxMessage

COMMENTS = {
    5: ["Réponse rapide et très claire, merci !", "Parfait, exactement ce qu'il me fallait."],
    4: ["Bonne réponse, un peu tardive.", ""],
    3: ["Correct, mais j'ai dû relancer.", ""],
    2: ["Réponse incomplète, il manque la procédure.", ""],
    1: ["Aucune réponse utile après deux semaines.", ""],
}


def seed_demo_notifications(context: dict) -> None:
    """Answer surveys of the resolved demo tickets; the demo outbox starts empty (nothing to send)."""
    rng = random.Random(7)  # noqa: S311 - demo data
    now = utcnow()
    tickets = sa.table("tickets", *(sa.column(name) for name in (  # read by table name
        "id", "status", "queue_id", "assignee_id", "topic_id", "organisation_id", "requester_locale")),
        sa.column("resolved_at", UTCDateTime()))
    resolved = db.session.execute(
        sa.select(tickets).where(tickets.c.status.in_(("resolved", "closed"))).order_by(tickets.c.id)
    ).all()
    for ticket in resolved:
        survey = next((s for s in _surveys_of(ticket)), None)
        if survey is None:
            survey, _token = surveys.create_survey(ticket, now=ticket.resolved_at or now)
        if rng.random() < 0.6 and survey.answered_at is None:
            score = rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 12, 8, 5])[0]
            answered = min((ticket.resolved_at or now) + timedelta(hours=rng.randint(1, 48)), now)
            survey.expires_at = max(survey.expires_at, answered + timedelta(days=1))
            surveys.answer_survey(survey, score, rng.choice(COMMENTS[score]), now=answered)
    # Demo tickets were created in bulk: do not mail the fictitious requesters when the scheduler starts.
    db.session.execute(sa.delete(OutboxMessage))
    db.session.flush()


def _surveys_of(ticket):
    from notifications.models import Survey

    return db.session.scalars(sa.select(Survey).where(Survey.ticket_id == ticket.id).order_by(Survey.id))

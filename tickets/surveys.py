"""Satisfaction surveys: single-use expiring links, answers on a 5-point scale, follow-ups, reports."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup

from crm.core.extensions import db, utcnow
from crm.core.models import Role, User
from crm.core.periods import Bucket, bucket_index
from crm.core.security import token_digest
from crm.core.views import external_url
from crm.organisations.models import Organisation
from notifications.models import OutboxMessage
from tickets.models import FollowUp, FollowUpStatus, Queue, Survey, Ticket, Topic

SCORES = (1, 2, 3, 4, 5)


class SurveyError(ValueError):
    """The survey cannot be answered (already answered, expired); the message is shown to the requester."""


def survey_link(token: str) -> str:
    """The absolute link of the survey page."""
    return external_url("tickets_surveys.survey", token=token)


def create_survey(ticket: Ticket, now: datetime | None = None) -> tuple[Survey, str]:
    """A survey for this resolution, with a snapshot of queue, agent, topic and establishment; returns the token."""
    now = now or utcnow()
    token = secrets.token_urlsafe(24)
    # inserted at once (its id is the e-mail's dedup key) without flushing the ticket's change, written later
    # with its SLA columns in one UPDATE: the row only points at rows already written
    with db.session.no_autoflush:
        survey = db.session.scalar(sa.insert(Survey).values(
            ticket_id=ticket.id, token_hash=token_digest(token), queue_id=ticket.queue_id,
            agent_id=ticket.assignee_id, topic_id=ticket.topic_id, organisation_id=ticket.organisation_id,
            locale=ticket.requester_locale or "fr", created_at=now,
            expires_at=now + timedelta(days=current_app.config["SURVEY_VALID_DAYS"]),
        ).returning(Survey))
    return survey, token


def survey_by_token(token: str) -> Survey | None:
    """The survey this link opens, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(sa.select(Survey).where(Survey.token_hash == token_digest(token)))


def answered_surveys_of(ticket: Ticket) -> list[Survey]:
    """The ticket's answered surveys, oldest first."""
    return list(db.session.scalars(
        sa.select(Survey).where(Survey.ticket_id == ticket.id, Survey.answered_at.is_not(None)).order_by(Survey.id)
    ))


def mails_of(ticket: Ticket) -> list[OutboxMessage]:
    """The e-mails written about the ticket, in the order they were queued."""
    return list(db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id)
    ))


def survey_state(survey: Survey, now: datetime | None = None) -> str:
    """open, answered or expired."""
    if survey.answered_at is not None:
        return "answered"
    if (now or utcnow()) >= survey.expires_at:
        return "expired"
    return "open"


def answer_survey(survey: Survey, score: int, comment: str = "", now: datetime | None = None) -> FollowUp | None:
    """Record the answer once (conditional update); a low score opens a follow-up for the queue manager."""
    now = now or utcnow()
    if score not in SCORES:
        raise SurveyError(_("Choisissez une note de 1 à 5."))
    state = survey_state(survey, now)
    if state == "expired":
        raise SurveyError(_("Ce lien d'enquête a expiré."))
    result = db.session.execute(
        sa.update(Survey)
        .where(Survey.id == survey.id, Survey.answered_at.is_(None))
        .values(answered_at=now, score=score, comment=(comment or "").strip()[:2000])
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise SurveyError(_("Vous avez déjà répondu à cette enquête. Merci !"))
    db.session.refresh(survey)
    from tickets.services import record_event

    record_event(survey.ticket, "satisfaction", None, at=now, score=score)
    if score <= current_app.config["SURVEY_LOW_SCORE"]:
        return open_follow_up(survey, now)
    return None


def open_follow_up(survey: Survey, now: datetime) -> FollowUp:
    """A follow-up task for the queue manager, announced in the app and by e-mail."""
    from tickets.emails import localized, notify_staff

    ticket = survey.ticket
    manager = ticket.queue.manager if ticket.queue else None
    follow_up = FollowUp(survey=survey, manager=manager, created_at=now)
    db.session.add(follow_up)
    db.session.flush()
    if manager is not None:
        notify_staff(
            manager, ticket, kind="survey_low", dedup_key=f"survey_low:{survey.id}:{manager.id}",
            title=localized(manager.locale, "Satisfaction faible (%(score)s/5) sur %(ref)s : à recontacter",
                            "Low satisfaction (%(score)s/5) on %(ref)s: follow up", score=survey.score,
                            ref=ticket.reference),
            body=survey.comment or ticket.subject,
        )
    return follow_up


def close_follow_up(follow_up: FollowUp, by, now: datetime | None = None) -> None:
    """Mark a follow-up done."""
    follow_up.status = FollowUpStatus.DONE
    follow_up.done_at = now or utcnow()
    follow_up.done_by_id = by.id if by is not None else None


def open_follow_ups(manager=None) -> list[FollowUp]:
    """Open follow-ups (of one manager, or all), oldest first."""
    query = sa.select(FollowUp).where(FollowUp.status == FollowUpStatus.OPEN).order_by(FollowUp.id)
    if manager is not None and not manager.has_role(Role.ADMIN):
        query = query.where(FollowUp.manager_id == manager.id)
    return list(db.session.scalars(query))


@dataclass
class SatisfactionRow:
    key: int | None
    label: str
    answers: int
    average: float
    satisfied: int  # scores 4 and 5
    low: int  # scores <= SURVEY_LOW_SCORE

    @property
    def satisfied_share(self) -> float:
        return self.satisfied / self.answers if self.answers else 0.0


DIMENSIONS = ("queue", "agent", "topic", "organisation")


#: The label column of each dimension's model.
_LABEL_COLUMNS = {"queue": (Queue.id, Queue.name), "agent": (User.id, User.name), "topic": (Topic.id, Topic.label),
                  "organisation": (Organisation.id, Organisation.name)}


def _labels(dimension: str, keys: list, language: str = "fr") -> dict:
    keys = [k for k in keys if k is not None]
    if not keys:
        return {}
    key, label = _LABEL_COLUMNS[dimension]
    if dimension == "topic" and language == "en":  # the English label where the topic has one
        label = sa.func.coalesce(sa.func.nullif(Topic.label_en, ""), Topic.label)
    return dict(db.session.execute(sa.select(key, label).where(key.in_(keys))).all())


def _aggregates() -> tuple:
    """count, average score, satisfied (4 and 5) and low scores of answered surveys."""
    low = current_app.config["SURVEY_LOW_SCORE"]
    return (sa.func.count(Survey.id), sa.func.avg(Survey.score), sa.func.sum(sa.case((Survey.score >= 4, 1), else_=0)),
            sa.func.sum(sa.case((Survey.score <= low, 1), else_=0)))


def _answered(since: datetime | None, until: datetime | None) -> list:
    clauses = [Survey.answered_at.is_not(None)]
    if since is not None:
        clauses.append(Survey.answered_at >= since)
    if until is not None:
        clauses.append(Survey.answered_at < until)
    return clauses


def _row(key, label: str, count, average, satisfied, low_n) -> SatisfactionRow:
    return SatisfactionRow(key=key, label=label, answers=int(count or 0), average=round(float(average or 0), 2),
                           satisfied=int(satisfied or 0), low=int(low_n or 0))


def satisfaction_report(dimension: str, *, since: datetime | None = None, until: datetime | None = None,
                        organisation_id: int | None = None, language: str = "fr") -> list[SatisfactionRow]:
    """Answers, average score and satisfied share per queue, agent, topic or establishment (SQL aggregate).

    ``language``: the language of the topics' labels."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    column = {"queue": Survey.queue_id, "agent": Survey.agent_id, "topic": Survey.topic_id,
              "organisation": Survey.organisation_id}[dimension]
    query = sa.select(column, *_aggregates()).where(*_answered(since, until)).group_by(column)
    if organisation_id is not None:
        query = query.where(Survey.organisation_id == organisation_id)
    rows = db.session.execute(query).all()
    labels = _labels(dimension, [r[0] for r in rows], language)
    result = [_row(key, labels.get(key) or ("—" if key is None else f"#{key}"), *figures) for key, *figures in rows]
    return sorted(result, key=lambda r: (-r.answers, r.label))


def satisfaction_overall(since: datetime | None = None, until: datetime | None = None) -> SatisfactionRow:
    """Every answer of the period together: the overall score."""
    return _row(None, "", *db.session.execute(sa.select(*_aggregates()).where(*_answered(since, until))).one())


def satisfaction_by_step(steps: Sequence[Bucket]) -> list[SatisfactionRow]:
    """The overall figures of each step of a period (weeks or months), in one grouped query."""
    result = [_row(index, "", 0, None, 0, 0) for index in range(len(steps))]
    if not steps:
        return result
    index = bucket_index(Survey.answered_at, steps)
    query = (sa.select(index, *_aggregates()).where(*_answered(steps[0].start, steps[-1].end)).group_by(index))
    for position, *figures in db.session.execute(query):
        if position is not None:
            result[position] = _row(position, "", *figures)
    return result


def organisation_panel(organisation) -> Markup | None:
    """The satisfaction block of an establishment's 360° view (None when nobody answered yet)."""
    from flask import render_template

    rows = satisfaction_report("organisation", organisation_id=organisation.id)
    if not rows:
        return None
    recent = db.session.scalars(
        sa.select(Survey).where(Survey.organisation_id == organisation.id, Survey.answered_at.is_not(None))
        .order_by(Survey.answered_at.desc()).limit(5)
    ).all()
    return Markup(render_template("tickets/_org_panel.html", row=rows[0], recent=recent))  # noqa: S704

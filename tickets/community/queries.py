"""Who is an expert or a moderator, and what the community space shows them, as SQL conditions and anonymised views.

An expert is a référent of the agency (or an administrator) or a person a manager designated for a member
establishment (CommunityExpert); moderators are the référents and the managers. A question is in the space only
while its requester's consent stands, it is open, and its ticket is still being worked (``visible_clause``): the
expert pages load every question through it (404 otherwise) and show it through ``AnonymousQuestion`` only, never
the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.core.extensions import db
from crm.core.models import Role, User
from tickets.community.anonymise import anonymise
from tickets.community.models import AnswerState, CommunityAnswer, CommunityExpert, CommunityQuestion
from tickets.models import ACTIVE_STATUSES, AuthorKind, Message, Ticket, Topic


def expert_designation(user: User | None) -> CommunityExpert | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(sa.select(CommunityExpert).where(CommunityExpert.user_id == user.id)
                             .options(selectinload(CommunityExpert.organisation)))


def is_moderator(user: User | None) -> bool:
    """Référents and managers (administrators too) moderate the answers."""
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and user.active and user.has_role(Role.REFERENT, Role.MANAGER))


def is_expert(user: User | None) -> bool:
    """Who may read the space and answer: an agency référent or moderator, or a designated expert."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    return is_moderator(user) or expert_designation(user) is not None


def visible_clause() -> sa.ColumnElement[bool]:
    """SQL condition on CommunityQuestion joined to Ticket: what the experts may see."""
    return sa.and_(CommunityQuestion.consent.is_(True), CommunityQuestion.is_open.is_(True),
                   Ticket.status.in_([str(s) for s in ACTIVE_STATUSES]))


@dataclass(frozen=True)
class AnonymousQuestion:
    """What an expert sees of a question: no name, address, reference or identifier of the requester."""

    id: int
    subject: str
    body: str
    topic: Topic | None
    opened_at: datetime | None
    answers: int


def requester_names(ticket: Ticket) -> list[str]:
    names = [ticket.requester_name]
    if ticket.requester is not None:
        names.append(ticket.requester.name)
    if ticket.person is not None:
        names.append(ticket.person.full_name)
    return names


def anonymous(question: CommunityQuestion, body: str = "") -> AnonymousQuestion:
    ticket = question.ticket
    names = requester_names(ticket)
    return AnonymousQuestion(id=question.id, subject=anonymise(ticket.subject, names), body=anonymise(body, names),
                             topic=ticket.topic, opened_at=question.opened_at, answers=len(question.answers))


def open_questions(topic_id: int | None = None) -> sa.Select:
    """The questions in the space, newest first (optionally of one topic)."""
    query = (sa.select(CommunityQuestion).join(Ticket, Ticket.id == CommunityQuestion.ticket_id)
             .where(visible_clause())
             .options(selectinload(CommunityQuestion.ticket).selectinload(Ticket.requester),
                      selectinload(CommunityQuestion.ticket).selectinload(Ticket.person),
                      selectinload(CommunityQuestion.answers)))
    if topic_id is not None:
        query = query.where(Ticket.topic_id == topic_id)
    return query.order_by(CommunityQuestion.opened_at.desc(), CommunityQuestion.id.desc())


def visible_question(question_id: int) -> CommunityQuestion | None:
    """The question if the experts may see it, else None (the page answers 404)."""
    return db.session.scalar(sa.select(CommunityQuestion).join(Ticket, Ticket.id == CommunityQuestion.ticket_id)
                             .where(CommunityQuestion.id == question_id, visible_clause()))


def question_text(question: CommunityQuestion) -> str:
    """The requester's first message: the question itself (their later messages stay with the agency)."""
    return db.session.scalar(
        sa.select(Message.body).where(Message.ticket_id == question.ticket_id, Message.internal.is_(False),
                                      Message.author_kind == AuthorKind.REQUESTER)
        .order_by(Message.created_at, Message.id).limit(1)) or ""


def question_of_ticket(ticket: Ticket) -> CommunityQuestion | None:
    return db.session.scalar(sa.select(CommunityQuestion).where(CommunityQuestion.ticket_id == ticket.id))


def pending_answers() -> list[CommunityAnswer]:
    """The answers waiting for moderation on questions still in the space, oldest first."""
    return list(db.session.scalars(
        sa.select(CommunityAnswer).join(CommunityQuestion).join(Ticket, Ticket.id == CommunityQuestion.ticket_id)
        .where(CommunityAnswer.state == AnswerState.PROPOSED, visible_clause())
        .options(selectinload(CommunityAnswer.question).selectinload(CommunityQuestion.ticket))
        .order_by(CommunityAnswer.created_at, CommunityAnswer.id)))


def answers_by(user: User, limit: int = 50) -> list[CommunityAnswer]:
    """The user's own answers, newest first: where each stands, the reason of a refusal."""
    return list(db.session.scalars(
        sa.select(CommunityAnswer).where(CommunityAnswer.author_id == user.id)
        .options(selectinload(CommunityAnswer.question).selectinload(CommunityQuestion.ticket))
        .order_by(CommunityAnswer.created_at.desc(), CommunityAnswer.id.desc()).limit(limit)))


def experts() -> list[CommunityExpert]:
    return list(db.session.scalars(
        sa.select(CommunityExpert).join(User, User.id == CommunityExpert.user_id)
        .options(selectinload(CommunityExpert.user), selectinload(CommunityExpert.organisation))
        .order_by(User.name, CommunityExpert.id)))

"""Community experts of member establishments, questions opened to them, their answers and endorsements."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.organisations.models import Organisation
from tickets.models import Message, Ticket


class CommunityExpert(db.Model):
    """A named person of a member establishment who may answer the community's questions (designated by a manager)."""

    __tablename__ = "community_experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    designated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    designated_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship()
    designated_by: Mapped[User | None] = relationship(foreign_keys=[designated_by_id])


class CommunityQuestion(db.Model):
    """A ticket's place in the community space: the requester's consent, and whether it is open to the experts.

    Experts see it only while consent is given, it is open, and the ticket is still being worked
    (tickets.community.queries.visible_clause)."""

    __tablename__ = "community_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    consent: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    is_open: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime | None]
    #: When an answer was accepted and sent: the question then leaves the space.
    answered_at: Mapped[datetime | None]

    ticket: Mapped[Ticket] = relationship()
    answers: Mapped[list[CommunityAnswer]] = relationship(
        back_populates="question", order_by="CommunityAnswer.id", cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (sa.Index("ix_community_questions_open", "is_open", "consent", "opened_at"),)


class AnswerState(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


ANSWER_STATE_LABELS = {
    AnswerState.PROPOSED: "En attente de modération",
    AnswerState.ACCEPTED: "Acceptée et transmise",
    AnswerState.REJECTED: "Refusée",
}


class CommunityAnswer(db.Model):
    """An expert's proposed answer, moderated by a référent: accepted (sent, turned into a draft article) or refused."""

    __tablename__ = "community_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("community_questions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: The credit, as it was when the answer was written: the author's name and establishment.
    author_name: Mapped[str] = mapped_column(sa.String(200))
    establishment_name: Mapped[str] = mapped_column(sa.String(255))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(10), default=AnswerState.PROPOSED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    moderated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None]
    rejection_reason: Mapped[str] = mapped_column(sa.Text, default="")
    #: What the acceptance produced: the reply on the ticket and the draft article (its external id).
    message_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket_messages.id", ondelete="SET NULL"))
    article_external_id: Mapped[str | None] = mapped_column(sa.String(100))

    question: Mapped[CommunityQuestion] = relationship(back_populates="answers")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    moderated_by: Mapped[User | None] = relationship(foreign_keys=[moderated_by_id])
    message: Mapped[Message | None] = relationship()
    endorsements: Mapped[list[CommunityEndorsement]] = relationship(
        back_populates="answer", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")

    __table_args__ = (sa.Index("ix_community_answers_state_created", "state", "created_at"),)

    @property
    def state_label(self) -> str:
        return ANSWER_STATE_LABELS.get(self.state, self.state)

    @property
    def credit(self) -> str:
        return f"{self.author_name}, {self.establishment_name}"


class CommunityEndorsement(db.Model):
    """An expert's +1 on another expert's answer."""

    __tablename__ = "community_endorsements"

    answer_id: Mapped[int] = mapped_column(sa.ForeignKey("community_answers.id", ondelete="CASCADE"),
                                           primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    answer: Mapped[CommunityAnswer] = relationship(back_populates="endorsements")

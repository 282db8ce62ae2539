"""Triage rules and their versions, référent expertise, and the decision recorded for each ticket."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User


class Rule(db.Model):
    """One triage rule of the current rule set; its conditions and actions are validated by expert.rules."""

    __tablename__ = "expert_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(index=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    stop: Mapped[bool] = mapped_column(default=False)
    conditions: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    actions: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: How many times this rule was changed (1 when created).
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict:
        """The rule as written in YAML."""
        return {"code": self.code, "name": self.name, "enabled": self.enabled, "stop": self.stop,
                "conditions": dict(self.conditions or {}), "actions": dict(self.actions or {})}


class RuleSetVersion(db.Model):
    """A snapshot of the whole rule set, taken at every change: the history admins browse."""

    __tablename__ = "expert_rule_set_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    rules: Mapped[list] = mapped_column(sa.JSON, default=list)
    comment: Mapped[str] = mapped_column(sa.String(300), default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship()


class ReferentProfile(db.Model):
    """A référent's expertise (topics, calls), group, availability and maximum load."""

    __tablename__ = "expert_referent_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    #: The référent group, a queue of the tickets package (which declares the foreign key and ``group``).
    group_id: Mapped[int | None] = mapped_column(index=True)
    topics: Mapped[list] = mapped_column(sa.JSON, default=list)
    calls: Mapped[list] = mapped_column(sa.JSON, default=list)
    available: Mapped[bool] = mapped_column(default=True)
    #: Active tickets beyond which the référent gets no new ones (0: no limit).
    max_load: Mapped[int] = mapped_column(default=20)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class ReferentAbsence(db.Model):
    """A period (inclusive dates, Paris) during which a référent receives no new request."""

    __tablename__ = "expert_referent_absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="absence_dates_ordered"),)


class Outcome(enum.StrEnum):
    AUTO_ANSWERED = "auto_answered"
    DEFLECTED = "deflected"
    ESCALATED = "escalated"
    ROUTED = "routed"
    HUMAN = "human"


OUTCOME_LABELS = {
    Outcome.AUTO_ANSWERED: "Réponse automatique envoyée",
    Outcome.DEFLECTED: "Réponse automatique confirmée par le demandeur",
    Outcome.ESCALATED: "Conseiller demandé après la réponse automatique",
    Outcome.ROUTED: "Orientée par une règle",
    Outcome.HUMAN: "Traitement humain",
}


class TriageDecision(db.Model):
    """What triage decided for a ticket and why: rules fired, candidate articles, action, later outcome."""

    __tablename__ = "expert_triage_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The ticket decided on (the tickets package declares the foreign key and ``ticket``).
    ticket_id: Mapped[int] = mapped_column(index=True)
    question: Mapped[str] = mapped_column(sa.Text, default="")
    rule_set_version: Mapped[int | None]
    #: [{code, name, reasons, actions, stop, explanation}] for every rule that fired, in order.
    rules_matched: Mapped[list] = mapped_column(sa.JSON, default=list)
    notes: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: [{article_id, title, score, confidence, matched_text}], best first.
    candidates: Mapped[list] = mapped_column(sa.JSON, default=list)
    action: Mapped[str] = mapped_column(sa.String(20))
    route_to: Mapped[str | None] = mapped_column(sa.String(50))
    article_id: Mapped[int | None]
    confidence: Mapped[float] = mapped_column(default=0.0)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(sa.String(20), index=True)
    outcome_at: Mapped[datetime | None]
    #: The call the question was found to be about, and how (expert.calls.SOURCES); None: not detected.
    call_code: Mapped[str | None] = mapped_column(sa.String(40))
    call_source: Mapped[str | None] = mapped_column(sa.String(20))
    #: The calls offered to the requester while the answer waits for the call of the question (emptied once chosen).
    call_choices: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: Set when a submission was matched with the lexical channel only and left unanswered: the semantic channel
    #: looks at it again after the commit (tickets.triage.second_looks), then clears it.
    second_look_at: Mapped[datetime | None]

    __table_args__ = (
        sa.Index("ix_expert_triage_decisions_decided_outcome", "decided_at", "outcome"),
        sa.Index("ix_expert_triage_decisions_second_look", "second_look_at",
                 postgresql_where=sa.text("second_look_at IS NOT NULL"),
                 sqlite_where=sa.text("second_look_at IS NOT NULL")),
    )

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    @property
    def explanations(self) -> list[str]:
        return [hit.get("explanation", "") for hit in self.rules_matched or []] + list(self.notes or [])


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    HANDED_OVER = "handed_over"


CONVERSATION_STATUS_LABELS = {
    ConversationStatus.OPEN: "En cours ou abandonnée",
    ConversationStatus.RESOLVED: "Résolue sans demande",
    ConversationStatus.HANDED_OVER: "Transmise à un conseiller",
}


class AssistantConversation(db.Model):
    """A conversation with the assistant before any request: its owner (account or secret key), intent and end."""

    __tablename__ = "expert_assistant_conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: In the URL; the secret key (only its digest is stored) opens the conversation without an account.
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=ConversationStatus.OPEN, index=True)
    #: The call the conversation is about once known (detected or chosen), carried to the next questions.
    call_code: Mapped[str | None] = mapped_column(sa.String(40))
    #: What the assistant read of the intent: topic slug, stage of the project's life, urgency, and why.
    topic: Mapped[str | None] = mapped_column(sa.String(50))
    stage: Mapped[str | None] = mapped_column(sa.String(20))
    urgent: Mapped[bool] = mapped_column(default=False)
    intent_reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    clarifications: Mapped[int] = mapped_column(default=0)
    #: The request it opened (the tickets package declares the foreign key).
    ticket_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()
    turns: Mapped[list[AssistantTurn]] = relationship(back_populates="conversation", order_by="AssistantTurn.position",
                                                      cascade="all, delete-orphan")

    @property
    def status_label(self) -> str:
        return CONVERSATION_STATUS_LABELS.get(self.status, self.status)


class TurnKind(enum.StrEnum):
    QUESTION = "question"  # the person's words
    CHOICE = "choice"  # the person clicked an option
    ANSWER = "answer"  # an article, confident (or chosen)
    ASK_CALL = "ask_call"  # which call?
    ASK_ARTICLE = "ask_article"  # close candidates: which of these?
    NO_ANSWER = "no_answer"  # nothing confident: a gap
    PASSAGE = "passage"  # no article confident, a passage of a call document quoted instead


TURN_KIND_LABELS = {
    TurnKind.QUESTION: "question", TurnKind.CHOICE: "choix", TurnKind.ANSWER: "réponse",
    TurnKind.ASK_CALL: "appel demandé", TurnKind.ASK_ARTICLE: "précision demandée", TurnKind.NO_ANSWER: "sans réponse",
    TurnKind.PASSAGE: "extrait de document",
}


class AssistantTurn(db.Model):
    """One turn of a conversation: the person's question or choice, or the assistant's reply."""

    __tablename__ = "expert_assistant_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("expert_assistant_conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(20), index=True)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    #: The article answered with (knowledge base id), and the options offered [{value, label}].
    article_id: Mapped[int | None]
    #: The passage of a call document quoted (knowledge-base id), when no article was confident.
    passage_id: Mapped[int | None]
    options: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: The best candidates [{article_id, title, confidence}] (the gaps page groups unanswered questions with them).
    candidates: Mapped[list] = mapped_column(sa.JSON, default=list)
    confidence: Mapped[float] = mapped_column(default=0.0)
    call_code: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[AssistantConversation] = relationship(back_populates="turns")

    __table_args__ = (sa.UniqueConstraint("conversation_id", "position"),)

    @property
    def kind_label(self) -> str:
        return TURN_KIND_LABELS.get(self.kind, self.kind)

    @property
    def by_person(self) -> bool:
        return self.kind in (TurnKind.QUESTION, TurnKind.CHOICE)

"""Tickets, messages, attachments, the audit trail, queues, topics, SLA policies and calendars."""

from __future__ import annotations

import base64
import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.organisations.models import Organisation, Person
from crm.projects.models import Project
from expert.models import AssistantConversation, ReferentProfile, TriageDecision
from notifications.models import InboundMail, Notification, OutboxMessage


class Status(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting_on_requester"
    AUTO_ANSWERED = "auto_answered"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Channel(enum.StrEnum):
    WEB = "web"
    PORTAL = "portal"
    EMAIL = "email"
    API = "api"
    PHONE = "phone"  # entered by an agent for the requester (tickets.views.on_behalf)
    LETTER = "letter"


class SlaState(enum.StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"


#: Statuses in which a ticket is still being worked (the agent queue's default view).
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING, Status.AUTO_ANSWERED)
#: Statuses in which the SLA clock is paused.
PAUSED_STATUSES = (Status.WAITING, Status.RESOLVED, Status.CLOSED)

STATUS_LABELS = {
    Status.NEW: "Nouvelle",
    Status.OPEN: "En cours",
    Status.WAITING: "En attente du demandeur",
    Status.AUTO_ANSWERED: "Réponse automatique proposée",
    Status.RESOLVED: "Résolue",
    Status.CLOSED: "Clôturée",
}
PRIORITY_LABELS = {
    Priority.LOW: "Basse",
    Priority.NORMAL: "Normale",
    Priority.HIGH: "Haute",
    Priority.URGENT: "Urgente",
}
CHANNEL_LABELS = {
    Channel.WEB: "Formulaire web",
    Channel.PORTAL: "Portail projets",
    Channel.EMAIL: "Courriel",
    Channel.API: "API",
    Channel.PHONE: "Téléphone",
    Channel.LETTER: "Courrier",
}
SLA_STATE_LABELS = {
    SlaState.ON_TRACK: "Dans les délais",
    SlaState.AT_RISK: "À risque",
    SlaState.BREACHED: "Dépassé",
    SlaState.MET: "Respecté",
    SlaState.MISSED: "Non respecté",
}
#: The badge of an incoming e-mail on the agent's ticket page, by notifications.mail_in's verdict.
EMAIL_AUTH_LABELS = {
    "dkim": "Authentifié (DKIM)",
    "spf": "Authentifié (SPF)",
    "fail": "Non authentifié (DMARC en échec)",
    "none": "Non authentifié",
}
PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


def _active_clause():
    return sa.text("status IN ('new', 'open', 'waiting_on_requester', 'auto_answered')")


class Queue(db.Model):
    """A team that works tickets: a support queue or a group of référents."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(50), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    is_referent_group: Mapped[bool] = mapped_column(default=False)
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)

    manager: Mapped[User | None] = relationship()
    members: Mapped[list[QueueMember]] = relationship(back_populates="queue", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class QueueMember(db.Model):
    """A user who works a queue."""

    __tablename__ = "queue_members"

    queue_id: Mapped[int] = mapped_column(sa.ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)

    queue: Mapped[Queue] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Topic(db.Model):
    """A subject requesters choose (submission, evaluation, funding rules, amendments, …)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(50), unique=True)
    label: Mapped[str] = mapped_column(sa.String(120))
    label_en: Mapped[str] = mapped_column(sa.String(120), default="")
    default_queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queues.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    default_queue: Mapped[Queue | None] = relationship()

    def __str__(self) -> str:
        return self.label


class SlaCalendar(db.Model):
    """Working hours, public holidays and closure days; see tickets.sla.BusinessCalendar."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    timezone: Mapped[str] = mapped_column(sa.String(60), default="Europe/Paris")
    country: Mapped[str | None] = mapped_column(sa.String(2))  # None: no public holiday (a 24/7 calendar)
    subdivision: Mapped[str | None] = mapped_column(sa.String(10))
    hours: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    closed_days: Mapped[list] = mapped_column(sa.JSON, default=list)


class SlaPolicy(db.Model):
    """First-response and resolution targets in business minutes; None criteria match anything."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    service_tier: Mapped[str | None] = mapped_column(sa.String(30))
    priority: Mapped[str | None] = mapped_column(sa.String(10))
    topic_slug: Mapped[str | None] = mapped_column(sa.String(50))
    queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queues.id", ondelete="CASCADE"))
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]
    calendar_id: Mapped[int] = mapped_column(sa.ForeignKey("sla_calendars.id"))
    at_risk_share: Mapped[float | None]
    escalation: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)

    calendar: Mapped[SlaCalendar] = relationship(lazy="joined")
    queue: Mapped[Queue | None] = relationship()


def new_reply_token() -> str:
    """24 random lowercase base32 characters (120 bits): safe in an address's local part, whatever its case."""
    return base64.b32encode(secrets.token_bytes(15)).decode().lower()


class Ticket(db.Model):
    """A request traced until it is answered, with its SLA due times stored for indexed queries."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(24), default=Status.NEW)
    priority: Mapped[str] = mapped_column(sa.String(10), default=Priority.NORMAL)
    channel: Mapped[str] = mapped_column(sa.String(10), default=Channel.WEB)
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("topics.id", ondelete="SET NULL"))
    queue_id: Mapped[int] = mapped_column(sa.ForeignKey("queues.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    requester_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    requester_email: Mapped[str] = mapped_column(sa.String(254), index=True)
    requester_name: Mapped[str] = mapped_column(sa.String(200), default="")
    requester_locale: Mapped[str] = mapped_column(sa.String(5), default="fr")
    project_reference: Mapped[str | None] = mapped_column(sa.String(40))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"),
                                                        index=True)
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    # Links found by tickets.linking (or corrected by an agent): the person the business systems know, the
    # laboratory, where the service tier comes from, and the candidates left for an agent when ambiguous.
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id", ondelete="SET NULL"), index=True)
    laboratory_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"),
                                                      index=True)
    service_tier: Mapped[str | None] = mapped_column(sa.String(30))
    tier_origin: Mapped[str] = mapped_column(sa.String(400), default="")
    link_candidates: Mapped[dict | None] = mapped_column(sa.JSON)
    access_key_hash: Mapped[str] = mapped_column(sa.String(64))
    #: Unguessable, in the Reply-To of our e-mails: a mail threads onto the ticket only with it (tickets.identity).
    reply_token: Mapped[str | None] = mapped_column(sa.String(32), index=True, unique=True,
                                                     default=new_reply_token)
    #: When the requester proved the address is theirs (the link of the acknowledgement); None: not yet.
    requester_confirmed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id", ondelete="SET NULL"))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    # SLA: the policy chosen and why, then per target the due and warning instants (NULL while
    # paused or stopped), the recorded state, and the business time counted when the clock stopped.
    sla_policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sla_policies.id", ondelete="SET NULL"))
    sla_reason: Mapped[str] = mapped_column(sa.Text, default="")
    sla_paused: Mapped[bool] = mapped_column(default=False)
    first_response_due_at: Mapped[datetime | None]
    first_response_warn_at: Mapped[datetime | None]
    first_response_state: Mapped[str] = mapped_column(sa.String(10), default=SlaState.ON_TRACK)
    first_response_seconds: Mapped[int | None]
    resolution_due_at: Mapped[datetime | None]
    resolution_warn_at: Mapped[datetime | None]
    resolution_state: Mapped[str] = mapped_column(sa.String(10), default=SlaState.ON_TRACK)
    resolution_seconds: Mapped[int | None]
    #: The earliest pending due time: the agent queue's default sort.
    next_due_at: Mapped[datetime | None]

    topic: Mapped[Topic | None] = relationship(lazy="joined")
    queue: Mapped[Queue] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    sla_policy: Mapped[SlaPolicy | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship(foreign_keys=[organisation_id])
    laboratory: Mapped[Organisation | None] = relationship(foreign_keys=[laboratory_id])
    project: Mapped[Project | None] = relationship()
    person: Mapped[Person | None] = relationship()
    merged_into: Mapped[Ticket | None] = relationship(remote_side=[id])
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.created_at, Message.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.created_at, TicketEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # Agent queue: active tickets by due time, overall and per queue / assignee.
        sa.Index("ix_tickets_active_due", "next_due_at", "id",
                 postgresql_where=_active_clause(), sqlite_where=_active_clause()),
        sa.Index("ix_tickets_queue_active_due", "queue_id", "next_due_at", "id",
                 postgresql_where=_active_clause(), sqlite_where=_active_clause()),
        sa.Index("ix_tickets_assignee_active_due", "assignee_id", "next_due_at", "id",
                 postgresql_where=_active_clause(), sqlite_where=_active_clause()),
        # Queue filtered by status (and queue): in due order; the included filter columns let the capped
        # count run as an index-only scan (bench/tickets_queue.py).
        sa.Index("ix_tickets_status_active_due", "status", "queue_id", "next_due_at", "id",
                 postgresql_include=["priority", "assignee_id", "topic_id"],
                 postgresql_where=_active_clause(), sqlite_where=_active_clause()),
        sa.Index("ix_tickets_status_created", "status", "created_at"),
        # SLA sweep and "at risk now": per target, state then instant (id included: index-only report counts).
        sa.Index("ix_tickets_fr_state_warn", "first_response_state", "first_response_warn_at"),
        sa.Index("ix_tickets_fr_state_due", "first_response_state", "first_response_due_at", postgresql_include=["id"]),
        sa.Index("ix_tickets_res_state_warn", "resolution_state", "resolution_warn_at"),
        sa.Index("ix_tickets_res_state_due", "resolution_state", "resolution_due_at", postgresql_include=["id"]),
        # Manager reports over a period.
        sa.Index("ix_tickets_resolved_at", "resolved_at"),
        sa.Index("ix_tickets_first_responded_at", "first_responded_at"),
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABELS.get(self.priority, self.priority)

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)

    @property
    def sla_state(self) -> str:
        """The state the sweep recorded for lists: the pending target's, or the resolution's once answered."""
        if self.first_responded_at is None and self.status not in (Status.RESOLVED, Status.CLOSED):
            return self.first_response_state
        return self.resolution_state

    def target_state_at(self, target: str, now: datetime) -> str:
        """One target's state at ``now`` from the stored instants, whatever the sweep has recorded yet."""
        state = getattr(self, f"{target}_state")
        if state not in (SlaState.ON_TRACK, SlaState.AT_RISK):
            return state  # breached, met or missed: recorded once and for all
        warn, due = getattr(self, f"{target}_warn_at"), getattr(self, f"{target}_due_at")
        if due is not None and self.next_due_at is not None and due <= now:  # a running clock past due
            return SlaState.BREACHED
        if warn is not None and due is not None and warn <= now < due:
            return SlaState.AT_RISK
        return state

    def sla_state_at(self, now: datetime) -> str:
        """The state shown in lists at ``now`` (the same rules as tickets.queries' SQL clauses)."""
        states = (self.first_response_state, self.resolution_state)
        if SlaState.BREACHED in states or (self.next_due_at is not None and self.next_due_at <= now):
            return SlaState.BREACHED
        for target in ("first_response", "resolution"):
            warn, due = getattr(self, f"{target}_warn_at"), getattr(self, f"{target}_due_at")
            if warn is not None and due is not None and warn <= now < due:
                return SlaState.AT_RISK
        if SlaState.AT_RISK in states:
            return SlaState.AT_RISK
        return self.sla_state

    @property
    def live_sla_state(self) -> str:
        """sla_state_at(now): what every page, export and API response shows."""
        return self.sla_state_at(utcnow())

    @property
    def live_first_response_state(self) -> str:
        return self.target_state_at("first_response", utcnow())

    @property
    def live_resolution_state(self) -> str:
        return self.target_state_at("resolution", utcnow())

    @property
    def public_messages(self) -> list[Message]:
        return [m for m in self.messages if not m.internal]

    def __repr__(self) -> str:
        return f"<Ticket {self.reference}>"


class AuthorKind(enum.StrEnum):
    REQUESTER = "requester"
    STAFF = "staff"
    SYSTEM = "system"


class Message(db.Model):
    """A public reply or an internal note (never shown to the requester) on a ticket."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    author_kind: Mapped[str] = mapped_column(sa.String(10))
    author_name: Mapped[str] = mapped_column(sa.String(200), default="")
    body: Mapped[str] = mapped_column(sa.Text)
    internal: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(sa.String(10), default=Channel.WEB)
    email_message_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    #: An incoming e-mail's Authentication-Results as read by notifications.mail_in (with its "verdict").
    email_auth: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def auth_label(self) -> str | None:
        """The badge of an incoming e-mail: authenticated or not (None for a message that came otherwise)."""
        if self.email_auth is None:
            return None
        return EMAIL_AUTH_LABELS.get(self.email_auth.get("verdict"), EMAIL_AUTH_LABELS["none"])


class Attachment(db.Model):
    """A file attached to a message, stored under the upload folder by its SHA-256."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="attachments")


class TicketEvent(db.Model):
    """One change in the audit trail: who, when, what, before and after."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_ticket_events_ticket_created", "ticket_id", "created_at"),)


class SlaMark(db.Model):
    """An SLA step recorded once per ticket and target (at risk, breached): the sweep's idempotency key."""

    __tablename__ = "sla_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("ticket_id", "target", "kind", name="uq_sla_marks_step"),)


class CannedResponse(db.Model):
    """A saved reply, for one queue or for all queues."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queues.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    queue: Mapped[Queue | None] = relationship()


class ReferenceCounter(db.Model):
    """The last number given per year, for references like DEM-2026-000123 (SQLite; on PostgreSQL the numbers come
    from one sequence per year, see REFERENCE_FUNCTION, and this table only says where a new year's sequence starts
    if numbers were given here before)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


#: PostgreSQL: the next reference number of a year from the sequence `ticket_reference_<year>`, created by the
#: first call of the year (the transaction creating it holds an advisory lock, so a concurrent first call waits
#: and then uses it) to start after every number already given (counter row, existing tickets). A sequence is
#: never locked until the commit as the counter row was: concurrent submissions no longer wait on each other, at
#: the price of gaps (a rolled-back submission's number is not given again: README, "Reference numbers").
#: The migration 7c1e5b2a9d40 holds the same text.
REFERENCE_FUNCTION = """
CREATE OR REPLACE FUNCTION ticket_reference_next(p_year integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := 'ticket_reference_' || p_year;
    start bigint;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext(seq));
        SELECT greatest(
            coalesce((SELECT c.last FROM reference_counters c WHERE c.year = p_year), 0),
            coalesce((SELECT max(CAST(split_part(t.reference, '-', 3) AS bigint)) FROM tickets t
                      WHERE t.reference ~ ('^DEM-' || p_year || '-[0-9]{1,18}$')), 0)) + 1 INTO start;
        EXECUTE 'CREATE SEQUENCE IF NOT EXISTS ' || quote_ident(seq) || ' START WITH ' || start;
    END IF;
    RETURN nextval(seq);
END
$$
"""

#: PostgreSQL: the function and every year's sequence, dropped with the schema.
REFERENCE_FUNCTION_DROP = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname ~ '^ticket_reference_[0-9]+$'
    LOOP
        EXECUTE 'DROP SEQUENCE IF EXISTS ' || quote_ident(name);
    END LOOP;
    DROP FUNCTION IF EXISTS ticket_reference_next(integer);
END
$$
"""

sa.event.listen(db.metadata, "after_create", sa.DDL(REFERENCE_FUNCTION).execute_if(dialect="postgresql"))
sa.event.listen(db.metadata, "before_drop", sa.DDL(REFERENCE_FUNCTION_DROP).execute_if(dialect="postgresql"))


# -- the notifications tables point at their ticket: the foreign keys are declared here, above them ----------

OutboxMessage.__table__.append_constraint(
    sa.ForeignKeyConstraint([OutboxMessage.__table__.c.ticket_id], [Ticket.__table__.c.id], ondelete="SET NULL"))
Notification.__table__.append_constraint(
    sa.ForeignKeyConstraint([Notification.__table__.c.ticket_id], [Ticket.__table__.c.id], ondelete="CASCADE"))
InboundMail.__table__.append_constraint(
    sa.ForeignKeyConstraint([InboundMail.__table__.c.ticket_id], [Ticket.__table__.c.id], ondelete="SET NULL"))


# -- the expert module's records point at a queue and a ticket: declared here, above that package -----------

ReferentProfile.__table__.append_constraint(
    sa.ForeignKeyConstraint([ReferentProfile.__table__.c.group_id], [Queue.__table__.c.id], ondelete="SET NULL"))
TriageDecision.__table__.append_constraint(
    sa.ForeignKeyConstraint([TriageDecision.__table__.c.ticket_id], [Ticket.__table__.c.id], ondelete="CASCADE"))
ReferentProfile.group = relationship(Queue)
TriageDecision.ticket = relationship(Ticket)
AssistantConversation.__table__.append_constraint(
    sa.ForeignKeyConstraint([AssistantConversation.__table__.c.ticket_id], [Ticket.__table__.c.id],
                            ondelete="SET NULL"))
AssistantConversation.ticket = relationship(Ticket)


# -- satisfaction surveys ---------------------------------------------------------------------------------


class Survey(db.Model):
    """A satisfaction survey sent when a ticket is resolved; its link is single-use and expires."""

    __tablename__ = "satisfaction_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey(Ticket.id, ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Snapshot of who and what is rated, for reports that do not move when the ticket changes later.
    queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey(Queue.id, ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey(Topic.id, ondelete="SET NULL"))
    organisation_id: Mapped[int | None] = mapped_column(index=True)
    locale: Mapped[str] = mapped_column(sa.String(5), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None]
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    ticket: Mapped[Ticket] = relationship()
    agent: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
        sa.Index("ix_satisfaction_surveys_answered", "answered_at"),
    )


class FollowUpStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class FollowUp(db.Model):
    """A task for the queue manager opened by a low satisfaction score."""

    __tablename__ = "satisfaction_followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("satisfaction_surveys.id", ondelete="CASCADE"),
                                           unique=True)
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=FollowUpStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    survey: Mapped[Survey] = relationship()
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])


class SavedQueueView(db.Model):
    """A staff member's named view of the agent queue: its filters and sort, as the queue's query string."""

    __tablename__ = "saved_queue_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(80))
    query: Mapped[str] = mapped_column(sa.String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

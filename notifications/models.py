"""Outbox messages, in-app notifications, preferences, incoming mail records.

The ``ticket_id`` columns hold the conversation a message belongs to; their foreign keys are declared by the
tickets package (tickets.models), which sits above this one.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    #: Not sent: stale when its turn came (a check registered for its kind said why, in ``last_error``).
    SKIPPED = "skipped"


OUTBOX_STATUS_LABELS = {
    OutboxStatus.PENDING: "En attente",
    OutboxStatus.SENDING: "En cours d'envoi",
    OutboxStatus.SENT: "Envoyé",
    OutboxStatus.FAILED: "Échec",
    OutboxStatus.SKIPPED: "Non envoyé (périmé)",
}


class OutboxMessage(db.Model):
    """An e-mail written in the transaction that caused it, sent after commit by the dispatcher."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique per logical message: a retry or a second dispatcher never sends it twice.
    dedup_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    ticket_id: Mapped[int | None] = mapped_column(index=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    recipient_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    locale: Mapped[str] = mapped_column(sa.String(5), default="fr")
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(sa.String(255))
    references: Mapped[str] = mapped_column(sa.Text, default="")
    #: Where the recipient's answer goes (a conversation's tagged intake address), or None for none.
    reply_to: Mapped[str | None] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(10), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(sa.String(36))
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        sa.Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),
        sa.Index("ix_outbox_messages_ticket_recipient", "ticket_id", "recipient", "id"),
    )

    @property
    def status_label(self) -> str:
        return OUTBOX_STATUS_LABELS.get(self.status, self.status)


class DeliveryMode(enum.StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"


class NotificationPreference(db.Model):
    """How a staff member receives non-urgent notifications by e-mail: at once or in a daily digest."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(sa.String(10), default=DeliveryMode.IMMEDIATE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Notification(db.Model):
    """An in-app notification for a staff member (the bell in the header)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    ticket_id: Mapped[int | None]
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url: Mapped[str] = mapped_column(sa.String(500), default="")
    urgent: Mapped[bool] = mapped_column(default=False)
    #: Waiting for the user's daily digest (non-urgent, user chose the digest).
    digest_pending: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    __table_args__ = (
        sa.Index("ix_notifications_user_read", "user_id", "read_at", "id"),
        sa.Index("ix_notifications_digest", "digest_pending", "user_id"),
    )


class InboundStatus(enum.StrEnum):
    TICKET_CREATED = "ticket_created"
    REPLY_ADDED = "reply_added"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


INBOUND_STATUS_LABELS = {
    InboundStatus.TICKET_CREATED: "Demande créée",
    InboundStatus.REPLY_ADDED: "Réponse ajoutée",
    InboundStatus.IGNORED: "Ignoré (réponse automatique ou retour)",
    InboundStatus.DUPLICATE: "Déjà traité",
    InboundStatus.QUARANTINED: "Mis en quarantaine",
}


class InboundMail(db.Model):
    """One message read from the IMAP mailbox and what became of it (quarantined ones included)."""

    __tablename__ = "inbound_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(sa.String(255), index=True)
    sender: Mapped[str] = mapped_column(sa.String(254), default="")
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    size: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(20))
    ticket_id: Mapped[int | None]
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    folder: Mapped[str] = mapped_column(sa.String(120), default="")
    #: What the trusted receiving relay's Authentication-Results said (notifications.mail_in.authentication).
    auth_results: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_inbound_mails_status_created", "status", "created_at"),)

    @property
    def status_label(self) -> str:
        return INBOUND_STATUS_LABELS.get(self.status, self.status)

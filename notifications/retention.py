"""Data retention: purge delivered e-mails, old notifications and incoming-mail records, old attachments."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from crm.extensions import db, utcnow
from notifications.models import InboundMail, InboundStatus, Notification, OutboxMessage, OutboxStatus


def purge_old_data(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention period; returns the number of rows removed per kind."""
    now = now or utcnow()
    config = current_app.config
    outbox_limit = now - timedelta(days=config["OUTBOX_RETENTION_DAYS"])
    counts = {
        "outbox": db.session.execute(
            sa.delete(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT,
                                           OutboxMessage.sent_at < outbox_limit)
        ).rowcount,
        "notifications": db.session.execute(
            sa.delete(Notification).where(
                Notification.read_at.is_not(None),
                Notification.read_at < now - timedelta(days=config["NOTIFICATION_RETENTION_DAYS"]))
        ).rowcount,
        "inbound": db.session.execute(
            sa.delete(InboundMail).where(InboundMail.status != InboundStatus.QUARANTINED,
                                         InboundMail.created_at < outbox_limit)
        ).rowcount,
        "attachments": 0,
    }
    days = config["ATTACHMENT_RETENTION_DAYS"]
    if days and days > 0:
        counts["attachments"] = purge_attachments(now - timedelta(days=days))
    return counts


def purge_attachments(closed_before: datetime) -> int:
    """Remove attachments of tickets closed before the limit; a file stays while another message uses it."""
    from tickets.attachments import stored_path
    from tickets.models import Attachment, Message, Ticket

    rows = db.session.execute(
        sa.select(Attachment.id, Attachment.sha256)
        .join(Message, Message.id == Attachment.message_id).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Ticket.closed_at.is_not(None), Ticket.closed_at < closed_before)
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    db.session.execute(sa.delete(Attachment).where(Attachment.id.in_(ids)))
    for digest in {r.sha256 for r in rows}:
        still_used = db.session.scalar(sa.select(Attachment.id).where(Attachment.sha256 == digest).limit(1))
        if still_used is None:
            stored_path(digest).unlink(missing_ok=True)
    return len(ids)

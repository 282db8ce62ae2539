"""Data retention: purge delivered e-mails, old notifications and incoming-mail records.

Attachments of old closed tickets are purged by the tickets job ``attachment_retention``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from crm.core.extensions import db, utcnow
from notifications.models import InboundMail, InboundStatus, Notification, OutboxMessage, OutboxStatus


def purge_old_data(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention period; returns the number of rows removed per kind."""
    now = now or utcnow()
    config = current_app.config
    outbox_limit = now - timedelta(days=config["OUTBOX_RETENTION_DAYS"])
    counts = {
        "outbox": db.session.execute(
            sa.delete(OutboxMessage).where(sa.or_(
                sa.and_(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at < outbox_limit),
                sa.and_(OutboxMessage.status == OutboxStatus.SKIPPED, OutboxMessage.created_at < outbox_limit)))
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
    }
    return counts

"""Named queries of the messaging service: the outbox and incoming mail as administrators see them."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from notifications.models import OUTBOX_STATUS_LABELS, InboundMail, InboundStatus, OutboxMessage, OutboxStatus


def outbox_messages(status: str = "") -> sa.Select:
    """Outgoing e-mails, failures first then newest, of one status when it is a known one."""
    query = sa.select(OutboxMessage)
    if status in OUTBOX_STATUS_LABELS:
        query = query.where(OutboxMessage.status == status)
    return query.order_by(sa.case((OutboxMessage.status == OutboxStatus.FAILED, 0), else_=1),
                          OutboxMessage.id.desc())


def outbox_counts() -> dict[str, int]:
    """How many outgoing e-mails per status."""
    return dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all())


def inbound_mails() -> sa.Select:
    """Incoming e-mails, quarantined ones first, then newest."""
    return sa.select(InboundMail).order_by(
        sa.case((InboundMail.status == InboundStatus.QUARANTINED, 0), else_=1), InboundMail.id.desc())

"""Record an agent's presence on a ticket page and read who else is there (one statement each)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from crm.core.models import User
from tickets.models import AuthorKind, Message, Ticket
from tickets.presence.models import TicketPresence

#: A presence counts this long after its last ping (the page pings every minute).
PRESENCE_SECONDS = 120


def record_presence(ticket: Ticket, user: User, *, replying: bool = False, now: datetime | None = None) -> None:
    """Upsert the agent's row: a new visit once the previous one expired; ``replying`` stays set for the visit."""
    now = now or utcnow()
    table = TicketPresence.__table__
    expired = table.c.last_seen < now - timedelta(seconds=PRESENCE_SECONDS)
    insert = dialect_insert(table).values(ticket_id=ticket.id, user_id=user.id, since=now, last_seen=now,
                                          replying=replying)
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["ticket_id", "user_id"],
        set_={"last_seen": now, "since": sa.case((expired, now), else_=table.c.since),
              "replying": sa.case((expired, replying), else_=sa.or_(table.c.replying, replying))},
    ))


def others_present(ticket: Ticket, user: User, now: datetime | None = None) -> list[TicketPresence]:
    """The other agents on this ticket's page now, earliest first, with their accounts."""
    now = now or utcnow()
    return list(db.session.scalars(
        sa.select(TicketPresence)
        .where(TicketPresence.ticket_id == ticket.id, TicketPresence.user_id != user.id,
               TicketPresence.last_seen >= now - timedelta(seconds=PRESENCE_SECONDS))
        .order_by(TicketPresence.since).options(sa.orm.joinedload(TicketPresence.user).lazyload(User.roles))))


def ticket_with_reply_since(reference: str, message_id: int, user: User) -> tuple[Ticket | None, int | None]:
    """The ticket with this reference (loaded as tickets.services.ticket_by_reference does) and the id of the newest
    public reply another agent sent on it after message ``message_id`` (None if none), in the same single read:
    the check costs the reply no statement."""
    newer = (sa.select(sa.func.max(Message.id))
             .where(Message.ticket_id == Ticket.id, Message.id > message_id, Message.author_kind == AuthorKind.STAFF,
                    Message.internal.is_(False), sa.or_(Message.author_id.is_(None), Message.author_id != user.id))
             .correlate(Ticket).scalar_subquery())
    row = db.session.execute(
        sa.select(Ticket, newer).where(Ticket.reference == reference.strip().upper())
        .options(sa.orm.defaultload(Ticket.assignee).lazyload(User.roles))).first()
    return (row[0], row[1]) if row is not None else (None, None)

"""An agent seen on a ticket's page: since when (this visit), last ping, and whether they are writing a reply."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User
from tickets.models import Ticket


class TicketPresence(db.Model):
    """One row per ticket and agent, overwritten by each ping (a visit starts again once the row has expired)."""

    __tablename__ = "ticket_presences"

    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    replying: Mapped[bool] = mapped_column(default=False)

    ticket: Mapped[Ticket] = relationship()
    user: Mapped[User] = relationship()

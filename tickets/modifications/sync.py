"""Keep each modification request's due time equal to its ticket's, whatever changes the ticket (a workflow step,
an agent's change of priority or queue, a new SLA policy): one UPDATE after the flush that changed it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tickets.models import Ticket
from tickets.modifications.models import ChangeRequest

_INSTALLED = "tickets.modifications.sync"


def _changed_due(session: Session) -> list[Ticket]:
    found = []
    for obj in session.dirty:
        if isinstance(obj, Ticket) and obj.topic_id is not None:
            history = sa.inspect(obj).attrs.next_due_at.history
            if history.has_changes() and obj.topic is not None and obj.topic.slug.startswith("modification-"):
                found.append(obj)
    return found


def _after_flush(session: Session, _context) -> None:
    for ticket in _changed_due(session):
        session.execute(sa.update(ChangeRequest).where(ChangeRequest.ticket_id == ticket.id)
                        .values(due_at=ticket.next_due_at).execution_options(synchronize_session=False))


def install() -> None:
    """Listen on every session (idempotent)."""
    if not sa.event.contains(Session, "after_flush", _after_flush):
        sa.event.listen(Session, "after_flush", _after_flush)

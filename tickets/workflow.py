"""A request's two entry points, in one place above services and triage: submission and the requester's reply.

A submission opens the ticket (services), lets the expert module decide (triage), then chooses the SLA policy
from the triaged ticket and announces it; a reply records the message, lets triage react (writing back after
an automatic answer asks for an advisor) and announces it. Views, the API and the mail intake call these.
"""

from __future__ import annotations

from datetime import datetime

from crm.core.extensions import db, utcnow
from crm.core.models import User
from notifications.outbox import start_thread
from tickets import services, signals, triage
from tickets.models import Message, Ticket
from tickets.sla_tracking import opening


def create_ticket(*, created_at: datetime | None = None, **fields) -> tuple[Ticket, str]:
    """Submit a request (fields as services.open_ticket); return the ticket and its clear access key."""
    now = created_at or utcnow()
    # Reference rows read once, the policy chosen and the clock computed once; once the ticket row exists
    # (open_ticket flushes it), its changes, events and messages wait for one flush at the end.
    with opening() as scope, db.session.no_autoflush:
        ticket, message, key = services.open_ticket(created_at=now, **fields)
        scope.ticket = ticket
        start_thread(ticket.id)  # a new ticket has no e-mail yet: its mails thread without looking up
        decision = triage.triage_ticket(ticket, message)
        services.apply_sla_policy(ticket, now=now)
    db.session.flush()
    signals.ticket_created.send(ticket, message=message, access_key=key)
    triage.announce_auto_answer(ticket, access_key=key, decision=decision)
    return ticket, key


def add_requester_reply(ticket: Ticket, *, author: User | None = None, **fields) -> Message:
    """The requester answers (fields as services.record_requester_reply)."""
    message = services.record_requester_reply(ticket, author=author, **fields)
    triage.on_requester_reply(ticket, message)
    signals.requester_replied.send(ticket, message=message)
    return message

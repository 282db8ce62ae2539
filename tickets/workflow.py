"""A request's two entry points, in one place above services and triage: submission and the requester's reply.

A submission opens the ticket (services), lets the expert module decide (triage), then chooses the SLA policy
from the triaged ticket and announces it; a reply records the message, lets triage react (writing back after
an automatic answer asks for an advisor) and announces it. Views, the API and the mail intake call these.
"""

from __future__ import annotations

from datetime import datetime

from crm.core.extensions import db, utcnow
from crm.core.models import User
from notifications import services as notifications
from notifications.outbox import start_thread
from tickets import queries, services, signals, triage
from tickets.models import Message, Ticket
from tickets.sla_tracking import opening


def create_ticket(*, created_at: datetime | None = None, **fields) -> tuple[Ticket, str]:
    """Submit a request (fields as services.open_ticket); return the ticket and its clear access key."""
    now = created_at or utcnow()
    # Reference data comes from the process cache (crm.core.refcache), the policy is chosen and the clock
    # computed once; the ticket, its messages, decision and events are written once, at the end.
    # Every notification and e-mail of the submission is written at the end, in a few statements.
    try:
        with notifications.batch():
            with opening() as scope, db.session.no_autoflush:
                ticket, message, key = services.open_ticket(created_at=now, **fields)
                scope.ticket = ticket
                decision = triage.triage_ticket(ticket, message)
                services.apply_sla_policy(ticket, now=now)
                services.ensure_reference(ticket, now)  # triage took it already, after the matching
            # the opening inserted the ticket (one INSERT with its final state) and its events
            start_thread(ticket.id)  # a new ticket has no e-mail yet: its mails thread without looking up
            signals.ticket_created.send(ticket, message=message, access_key=key)
            triage.announce_auto_answer(ticket, access_key=key, decision=decision, first_message=message)
    finally:
        queries.forget_members()
    return ticket, key


def add_requester_reply(ticket: Ticket, *, author: User | None = None, **fields) -> Message:
    """The requester answers (fields as services.record_requester_reply)."""
    message = services.record_requester_reply(ticket, author=author, **fields)
    triage.on_requester_reply(ticket, message)
    signals.requester_replied.send(ticket, message=message)
    return message

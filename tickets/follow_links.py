"""The requester's secret follow link: how long its key opens the request, and a new link sent by e-mail.

- A key (``?cle=`` of the follow page) opens the request until FOLLOW_LINK_DAYS after the request's last change
  (``Ticket.updated_at``: a message, a status, an assignment, or the issue of a new key, which rewrites the row).
  Used once, it is exchanged for the session (tickets.views.public) and leaves the address bar.
- A new link is sent only to the request's own address (never to the address typed), at most once per
  FOLLOW_LINK_RESEND_MINUTES per request; the visitor is told the same thing whether or not it was sent.
  The new key replaces the old one (whose links then stop working), and the event is in the request's history.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from crm.core.extensions import db, utcnow
from crm.core.security import token_digest
from crm.core.services import normalise_email
from tickets.emails import email_requester, follow_link
from tickets.models import Ticket, TicketEvent
from tickets.services import check_access_key, record_event

#: The event recorded when a new link is sent (the resend limit reads it back).
NEW_LINK_EVENT = "follow_link_sent"


def key_expires_at(ticket: Ticket) -> datetime:
    """The instant the request's follow key stops opening it."""
    return ticket.updated_at + timedelta(days=current_app.config["FOLLOW_LINK_DAYS"])


def key_opens(ticket: Ticket, key: str | None, now: datetime | None = None) -> bool:
    """The key is the request's and has not expired."""
    return check_access_key(ticket, key) and (now or utcnow()) < key_expires_at(ticket)


def _recently_sent(ticket: Ticket, now: datetime) -> bool:
    since = now - timedelta(minutes=current_app.config["FOLLOW_LINK_RESEND_MINUTES"])
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == NEW_LINK_EVENT, TicketEvent.created_at > since)
    ) > 0


def send_new_link(ticket: Ticket | None, email: str, now: datetime | None = None) -> bool:
    """E-mail a new follow link when ``email`` is the request's address and none was sent just before.

    The answer shown to the visitor must not depend on the result (True: a link was written to the outbox).
    """
    now = now or utcnow()
    if ticket is None or not ticket.requester_email or normalise_email(email) != ticket.requester_email:
        return False
    if _recently_sent(ticket, now):
        return False
    key = secrets.token_urlsafe(24)
    ticket.access_key_hash = token_digest(key)
    ticket.updated_at = now
    record_event(ticket, NEW_LINK_EVENT, None, at=now)
    email_requester(ticket, dedup_key=f"{NEW_LINK_EVENT}:{ticket.id}:{now.isoformat()}", kind=NEW_LINK_EVENT,
                    template="new_link", link=follow_link(ticket, key),
                    days=current_app.config["FOLLOW_LINK_DAYS"])
    db.session.flush()
    return True

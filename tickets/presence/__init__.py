"""Who else is working a ticket: agents' presence on the ticket page, so that two do not answer the same request.

A presence row per (ticket, agent) is written by the page's small script (tickets/static/presence.js) when the
page is shown, every minute while it stays open and when the agent starts writing a reply; it counts for
PRESENCE_SECONDS after its last ping. The writes of the ticket (replies, notes, actions) never touch it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the presence ping and the ticket-page panel (called by tickets.init_app)."""
    from tickets.presence import views

    views.init_app(app)

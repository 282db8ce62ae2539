"""Account administration (administrators): search, create with a single-use password link, roles and queues,
deactivate and reactivate, send a new password link; every change in the change log (crm.core.changes)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the account pages and their menu entry (administrators)."""
    from tickets.admin.accounts import views

    views.init_app(app)

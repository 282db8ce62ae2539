"""Commitments managed in the application: SLA policies, calendars, queues, topics, saved replies, accounts (admin)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the configuration pages, their API, their commands and their menu entry."""
    from tickets.admin import accounts, api, cli, views

    views.init_app(app)
    accounts.init_app(app)
    api.init_app(app)
    cli.init_app(app)

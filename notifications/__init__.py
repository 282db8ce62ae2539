"""Notifications: a generic messaging service that knows users, not tickets.

The outbox, e-mail out (SMTP) and in (IMAP, handed to the registered intake), in-app notifications,
preferences and digests, the scheduler and its locks. Each domain writes its own e-mails through it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's pages, commands, scheduled jobs and the commit hook that wakes the outbox worker."""
    from notifications import cli, models, scheduler, views, worker  # noqa: F401  (models: metadata)

    views.init_app(app)
    cli.init_app(app)
    scheduler.init_app(app)
    worker.install_notify()

"""Notifications: outbox, e-mail out and in, in-app notifications, scheduled jobs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""

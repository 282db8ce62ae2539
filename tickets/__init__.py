"""Tickets: requests, messages, audit trail, queues, SLA policies and calendars."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from tickets import models  # noqa: F401  (tables known to the metadata)

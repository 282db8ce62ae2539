"""Notifications: outbox, e-mail out and in, in-app notifications, scheduled jobs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from notifications import cli, demo, models, outbox, scheduler, subscribers, surveys, views  # noqa: F401

    views.init_app(app)
    cli.init_app(app)
    subscribers.init_app(app)
    outbox.init_app(app)
    scheduler.init_app(app)
    if hasattr(registry, "add_org_panel"):
        registry.add_org_panel(app, 60, surveys.organisation_panel)
    else:  # the CRM's 360° view reads this list
        app.extensions.setdefault("guichet.org_panels", []).append((60, surveys.organisation_panel))
    registry.add_seeder(app, 70, "notifications et enquêtes de satisfaction", demo.seed_demo_notifications)

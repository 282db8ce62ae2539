"""Notifications: outbox, e-mail out and in, in-app notifications, scheduled jobs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from notifications import cli, demo, models, outbox, routes, scheduler, subscribers, surveys  # noqa: F401

    routes.register(app)
    cli.register(app)
    subscribers.connect()
    outbox.install_kick()
    scheduler.register_builtin_jobs(app)
    if hasattr(registry, "add_org_panel"):
        registry.add_org_panel(app, 60, surveys.organisation_panel)
    else:  # the CRM's 360° view reads this list
        app.extensions.setdefault("guichet.org_panels", []).append((60, surveys.organisation_panel))
    registry.add_seeder(app, 70, "notifications et enquêtes de satisfaction", demo.seed_demo_notifications)

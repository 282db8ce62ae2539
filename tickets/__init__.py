"""Tickets: requests, messages, audit trail, queues, SLA policies and calendars."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from tickets import (  # noqa: F401  (models: metadata)
        agent,
        api,
        cli,
        crm_panels,
        demo,
        jobs,
        mail_intake,
        manager,
        models,
        portal_contact,
        public,
        triage,
        triage_views,
    )

    public.register(app)
    portal_contact.register(app)
    crm_panels.register(app)
    agent.register(app)
    manager.register(app)
    api.register(app)
    cli.register(app)
    triage_views.register(app)
    triage.register_providers(app)
    jobs.register(app)
    mail_intake.register(app)
    registry.add_seeder(app, 25, "module expert : référents et règles", triage.seed_expert)
    registry.add_seeder(app, 30, "files, thèmes, délais et demandes", demo.seed_demo_tickets)
    registry.add_seeder(app, 35, "module expert : suites des réponses automatiques", triage.seed_outcomes)

"""Tickets: requests, messages, audit trail, queues, SLA policies and calendars."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm.core import registry
    from tickets import (  # noqa: F401
        api,
        attachments,
        cli,
        demo,
        jobs,
        mail_intake,
        models,
        modifications,
        subscribers,
        triage,
        views,
    )
    from tickets.admin import init_app as init_admin
    from tickets.annexes import init_app as init_annexes
    from tickets.community import init_app as init_community
    from tickets.presence import init_app as init_presence

    views.init_app(app)
    init_admin(app)  # the configuration pages, API and commands
    api.init_app(app)
    cli.init_app(app)
    triage.init_app(app)
    subscribers.init_app(app)
    jobs.init_app(app)
    attachments.install_cleanup()
    mail_intake.init_app(app)
    init_annexes(app)
    init_presence(app)
    init_community(app)
    modifications.init_app(app)
    registry.add_seeder(app, 25, "module expert : référents et règles", demo.seed_expert)
    registry.add_seeder(app, 30, "files, thèmes, délais et demandes", demo.seed_demo_tickets)
    registry.add_seeder(app, 35, "module expert : suites des réponses automatiques", demo.seed_outcomes)
    registry.add_seeder(app, 70, "enquêtes de satisfaction", demo.seed_demo_surveys)

"""The expert module: rules, triage decisions, référent routing."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"


def init_app(app: Flask) -> None:
    """Register this package's blueprints, CLI groups, demo seeders and signal handlers."""
    from crm import registry
    from expert import api, cli, demo, models, routes, services  # noqa: F401  (models: metadata)
    from tickets import signals as ticket_signals

    ticket_signals.ticket_submitted.connect(services.on_ticket_submitted)
    ticket_signals.ticket_created.connect(services.on_ticket_created)
    ticket_signals.requester_replied.connect(services.on_requester_replied)
    routes.register(app)
    api.register(app)
    cli.register(app)
    registry.add_seeder(app, 25, "module expert : référents et règles", demo.seed)
    registry.add_seeder(app, 35, "module expert : suites des réponses automatiques", demo.seed_outcomes)

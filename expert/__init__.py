"""The expert module: rules, triage decisions, référent routing."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"


def init_app(app: Flask) -> None:
    """Register this package's blueprints and CLI groups.

    The tickets package (which depends on this one) triages new tickets, serves the requester's buttons, the
    agent's panel and the figures page, and runs this package's demo seeding once its queues exist.
    """
    from expert import api, cli, jobs, models, views  # noqa: F401  (models: metadata)

    views.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    jobs.init_app(app)

"""Funded projects with partners, payment schedules, deliverables and modification requests."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the staff project sheet, the projects block of the organisations' 360° view and the demo calls."""
    from crm.core import registry
    from crm.projects import demo, models, views  # noqa: F401  (models: metadata)

    app.register_blueprint(views.bp)
    registry.add_org_panel(app, 10, views.organisation_panel)
    registry.add_seeder(app, 12, "appels à projets", demo.seed)

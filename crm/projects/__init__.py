"""Funded projects with partners, payment schedules, deliverables and modification requests."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the staff project sheet and the projects block of the organisations' 360° view."""
    from crm.core import registry
    from crm.projects import models, views  # noqa: F401  (models: metadata)

    app.register_blueprint(views.bp)
    registry.add_org_panel(app, 10, views.organisation_panel)

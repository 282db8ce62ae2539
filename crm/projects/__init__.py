"""Funded projects with partners, payment schedules, deliverables and modification requests."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the staff project sheet."""
    from crm.projects import models, views  # noqa: F401  (models: metadata)

    app.register_blueprint(views.bp)

"""Organisations (SIREN / SIRET / RNSR), people and their roles, interactions: the 360° view."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the organisation pages and their menu entry."""
    from crm.core import registry
    from crm.organisations import api, cli, models, views  # noqa: F401  (models: metadata)

    app.register_blueprint(views.bp)
    api.init_app(app)
    cli.init_app(app)
    registry.add_menu(app, 40, "Établissements", "crm_orgs.search",
                      lambda u: getattr(u, "is_authenticated", False) and u.is_staff)

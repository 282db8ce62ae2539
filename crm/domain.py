"""Registration of the CRM domain (organisations, projects, portal) on the application."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, url_for
from flask_babel import format_currency, format_date

from crm.models import Role


def euro(value: Decimal | float | None) -> str:
    """An amount in euros in the user's locale; empty for None."""
    return "" if value is None else format_currency(value, "EUR")


def day(value) -> str:
    """A calendar date in the user's locale; empty for None."""
    return "" if value is None else format_date(value, "short")


def _portal_user(user) -> bool:
    from crm.scope import profiles_of

    return bool(getattr(user, "is_authenticated", False)) and not profiles_of(user).is_empty


def _portal_home(user) -> str | None:
    return url_for("portal.projects") if not user.is_staff and _portal_user(user) else None


def _portal_card(user) -> dict:
    signed_in = getattr(user, "is_authenticated", False)
    return {"title": "Suivre mes projets financés",
            "text": "Coordinateurs, responsables, laboratoires et établissements : l'état de vos projets, "
                    "versements et livrables.",
            "url": url_for("portal.projects") if signed_in else url_for("portal.register")}


def init_app(app: Flask) -> None:
    """Register the CRM domain's models, blueprints, API, CLI groups, menus and seeders."""
    from crm import (  # noqa: F401
        admin_views,
        demo_data,
        models_orgs,
        models_portal,
        models_projects,
        org_views,
        portal,
        portal_api,
        registry,
    )
    from crm.api import register_api_blueprint
    from crm.import_cli import import_cli

    app.register_blueprint(portal.bp)
    app.register_blueprint(org_views.bp)
    app.register_blueprint(org_views.projects_bp)
    app.register_blueprint(admin_views.bp)
    register_api_blueprint(portal_api.bp)
    app.cli.add_command(import_cli)
    app.add_template_filter(euro, "euro")
    app.add_template_filter(day, "day")

    registry.add_menu(app, 30, "Mes projets", "portal.projects", _portal_user)
    registry.add_menu(app, 40, "Établissements", "crm_orgs.search",
                      lambda u: getattr(u, "is_authenticated", False) and u.is_staff)
    registry.add_menu(app, 80, "Imports", "crm_admin.imports",
                      lambda u: getattr(u, "is_authenticated", False) and u.has_role(Role.ADMIN))
    registry.add_menu(app, 81, "Profils du portail", "crm_admin.grants",
                      lambda u: getattr(u, "is_authenticated", False) and u.has_role(Role.ADMIN))
    registry.add_home(app, _portal_home)
    registry.add_home_card(app, 30, _portal_card)
    registry.add_seeder(app, 10, "établissements et projets", demo_data.seed)

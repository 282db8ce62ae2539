"""The read-only project-tracking portal and its six access profiles."""

from __future__ import annotations

from flask import Flask, url_for


def _portal_user(user) -> bool:
    from crm.portal.scope import profiles_of

    return bool(getattr(user, "is_authenticated", False)) and not profiles_of(user).is_empty


def _portal_home(user) -> str | None:
    return url_for("portal.projects") if not user.is_staff and _portal_user(user) else None


def _shows_requests() -> bool:
    """Whether the portal's navigation offers the establishment's requests to the current user."""
    from flask import current_app
    from flask_login import current_user

    from crm.core import registry
    from crm.portal.scope import profiles_of

    return (bool(getattr(current_user, "is_authenticated", False)) and profiles_of(current_user).has_establishment
            and registry.portal_requests(current_app) is not None)


def _portal_card(user) -> dict:
    signed_in = getattr(user, "is_authenticated", False)
    return {"title": "Suivre mes projets financés",
            "text": "Coordinateurs, responsables, laboratoires et établissements : l'état de vos projets, "
                    "versements et livrables.",
            "url": url_for("portal.projects") if signed_in else url_for("portal.register")}


def init_app(app: Flask) -> None:
    """Register the portal pages, its API, its administration, menus and home page."""
    from flask_babel import lazy_gettext as _l

    from crm.core import registry
    from crm.core.api import register_api_blueprint
    from crm.core.models import Role
    from crm.portal import api, emails, models  # noqa: F401  (models: metadata)
    from crm.portal.views import admin, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    register_api_blueprint(api.bp)
    emails.init_app(app)
    registry.add_menu(app, 30, "Mes projets", "portal.projects", _portal_user)
    registry.add_menu(app, 81, "Profils du portail", "crm_admin.grants",
                      lambda u: getattr(u, "is_authenticated", False) and u.has_role(Role.ADMIN))
    registry.add_login_link(app, 10, _l("Mot de passe oublié ?"), "portal.forgot_password")
    registry.add_login_link(app, 20, _l("Première connexion au portail des projets : créer mon compte"),
                            "portal.register")
    registry.add_home(app, _portal_home)
    registry.add_home_card(app, 30, _portal_card)
    app.add_template_global(_shows_requests, "portal_shows_requests")

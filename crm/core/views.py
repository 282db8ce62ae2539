"""Home page (dispatch by role), health check, and links built outside requests."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template
from flask_login import current_user

from crm.core.extensions import db

bp = Blueprint("views", __name__)


def path_for(endpoint: str, **values) -> str:
    """The path of an endpoint, inside a request or not (jobs and e-mails build links outside requests)."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def external_url(endpoint: str, **values) -> str:
    """The absolute address of an endpoint on the public base URL (GUICHET_BASE_URL), for e-mails."""
    return current_app.config["BASE_URL"].rstrip("/") + path_for(endpoint, **values)


@bp.get("/")
def home():
    """Staff go to their work page; others see the public home."""
    if current_user.is_authenticated:
        for home_of in current_app.extensions.get("guichet.home", []):
            target = home_of(current_user)
            if target:
                return redirect(target)
    return render_template("crm/home.html")


@bp.get("/healthz")
def healthz():
    """200 when the database answers, else 503."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.get("/accessibilite")
def accessibility():
    return render_template("crm/accessibility.html")


@bp.get("/static/dsfr/<path:filename>")
def dsfr_asset(filename: str):
    """Serve the French State design system from node_modules (installed by `make`)."""
    from flask import send_from_directory

    return send_from_directory(current_app.config["DSFR_DIST"], filename, max_age=86400)


@bp.get("/static/dsfr-chart/<path:filename>")
def dsfr_chart_asset(filename: str):
    """Serve the design system's chart components from node_modules (installed by `make`)."""
    from flask import send_from_directory

    return send_from_directory(current_app.config["DSFR_CHART_DIST"], filename, max_age=86400)

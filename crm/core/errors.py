"""Error pages in HTML, and problem details under /api/."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from crm.core.extensions import db
from crm.core.problems import problem

MESSAGES = {
    400: "La demande est incorrecte.",
    401: "Vous devez vous connecter pour accéder à cette page.",
    403: "Vous n'avez pas accès à cette page.",
    404: "La page demandée n'existe pas.",
    405: "Cette méthode n'est pas autorisée.",
    413: "Le contenu envoyé est trop volumineux.",
    429: "Trop de tentatives. Veuillez réessayer dans quelques minutes.",
    500: "Une erreur inattendue s'est produite. L'équipe technique a été prévenue.",
}


def wants_json() -> bool:
    """API paths answer in JSON problem details."""
    return request.path.startswith("/api/")


def handle_http_exception(error: HTTPException):
    """Render an HTTP error in the form the client expects."""
    db.session.rollback()
    status = error.code or 500
    if wants_json():
        data = getattr(error, "data", None) or {}
        detail = data.get("message") or (error.description if status != 500 else None)
        extra = {"errors": data["messages"]} if data.get("messages") else {}
        return problem(status, detail, **extra)
    custom = error.description if error.description != type(error).description else None  # ours, translated
    message = custom or _(MESSAGES.get(status, MESSAGES[500]))
    return render_template("crm/error.html", status=status, message=message), status


def handle_unexpected(error: Exception):
    """Log and hide unexpected errors behind a 500."""
    from flask import current_app

    current_app.logger.exception("Unhandled error: %s", error)
    return handle_http_exception(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(HTTPException, handle_http_exception)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)

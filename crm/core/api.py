"""The JSON API under /api/v1: flask-smorest, Bearer tokens, problem details."""

from __future__ import annotations

from functools import wraps

from flask import Flask, current_app, g, request
from flask_smorest import Api
from marshmallow import Schema, fields

from crm.core.extensions import csrf, utcnow

#: OpenAPI security requirement of the token-protected endpoints.
BEARER_SECURITY = [{"bearerAuth": []}]


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "Erreurs par emplacement et par champ"})


def problem_responses(bp, *codes: int):
    """Document problem-details error responses and Bearer security on a view of the smorest blueprint bp."""

    def decorator(view):
        for code in codes:
            view = bp.alt_response(code, schema=ProblemSchema, content_type="application/problem+json")(view)
        return bp.doc(security=BEARER_SECURITY)(view)

    return decorator


class GuichetApi(Api):
    """flask-smorest Api whose errors are rendered by the shell's problem-details handler."""

    def _register_error_handlers(self):
        """The shell registers one handler for HTML pages and /api/ problem details."""


def init_app(app: Flask) -> None:
    """Create the application's API (one per app) and describe Bearer authentication."""
    api = GuichetApi()
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Jeton d'API personnel"}
    )
    app.extensions["guichet.api"] = api


def register_api_blueprint(bp) -> None:
    """Register a domain's API blueprint under /api/v1 on the app being built, exempt from CSRF."""
    csrf.exempt(bp)
    current_app.extensions["guichet.api"].register_blueprint(bp, url_prefix="/api/v1" + (bp.url_prefix or ""))


def token_required(*roles: str):
    """Require a valid Bearer token whose user has one of the roles (any role when none given)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from flask_smorest import abort

            from crm.core.services import api_token_by_value, authenticate_api_token

            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                abort(401, message="Jeton d'API manquant : en-tête Authorization: Bearer <jeton>.")
            user = authenticate_api_token(token.strip())
            if user is None:
                known = api_token_by_value(token.strip())
                if known is not None and known.revoked_at is None and known.is_expired(utcnow()):
                    abort(401, message=f"Jeton d'API expiré depuis le {known.expires_at:%Y-%m-%d %H:%M} UTC.")
                abort(401, message="Jeton d'API invalide, expiré ou révoqué.")
            if roles and not user.has_role(*roles):
                abort(403, message="Ce jeton n'a pas les droits nécessaires.")
            g.api_user = user
            return view(*args, **kwargs)

        wrapper._apidoc = getattr(view, "_apidoc", {})  # keep smorest documentation
        return wrapper

    return decorator

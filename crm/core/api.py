"""The JSON API under /api/v1: flask-smorest, Bearer tokens, problem details."""

from __future__ import annotations

from functools import wraps

from flask import Flask, current_app, g, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from crm.core.extensions import csrf, utcnow

#: OpenAPI security requirement of the token-protected endpoints.
BEARER_SECURITY = [{"bearerAuth": []}]
PROBLEM_CONTENT_TYPE = "application/problem+json"
#: What each documented error status means on this API (crm.core.inputs and token_required answer some).
PROBLEM_DESCRIPTIONS = {
    400: "Corps illisible : JSON invalide, caractère nul, imbrication trop profonde",
    401: "Jeton d'API manquant, invalide, expiré ou révoqué",
    403: "Le jeton n'a pas les droits nécessaires",
    404: "Ressource introuvable (ou hors de votre périmètre)",
    409: "Conflit avec l'état de la ressource",
    413: "Corps trop volumineux",
    422: "Paramètres invalides (détail par emplacement et par champ dans errors)",
}


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "Erreurs par emplacement et par champ"})


def problem_responses(bp, *codes: int):
    """Document problem-details error responses and Bearer security on a view of the smorest blueprint bp.

    Every token-protected view answers 401 without a valid token and 422 for a query parameter with a NUL byte
    (crm.core.inputs): both are always documented, with the codes given.
    """

    def decorator(view):
        for code in sorted({401, 422, *codes}):
            view = bp.alt_response(code, schema=ProblemSchema, content_type=PROBLEM_CONTENT_TYPE,
                                   description=PROBLEM_DESCRIPTIONS.get(code))(view)
        return bp.doc(security=BEARER_SECURITY)(view)

    return decorator


def _decimal_as_string(self, field, ret, **kwargs) -> dict:
    """An amount dumped as a string (exact decimal) is a string in the description, not a number."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    return {}


class GuichetApi(Api):
    """flask-smorest Api whose errors are rendered by the shell's problem-details handler.

    Its description is exact: errors are problem details (application/problem+json) and every operation lists the
    statuses it answers, with no catch-all "default" response.
    """

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        """The shell registers one handler for HTML pages and /api/ problem details."""

    def _register_responses(self):
        """The error responses smorest adds by itself (422 of @arguments) are problem details too."""
        super()._register_responses()
        for name, response in list(self.spec.components.responses_lazy.items()):
            if "content" in response:
                fixed = {"description": response["description"], "schema": ProblemSchema}
                prepare_response(fixed, self.spec, PROBLEM_CONTENT_TYPE)
                self.spec.components.responses_lazy[name] = fixed


def init_app(app: Flask) -> None:
    """Create the application's API (one per app) and describe Bearer authentication."""
    api = GuichetApi()
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Jeton d'API personnel"}
    )
    api.ma_plugin.converter.add_attribute_function(_decimal_as_string)
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

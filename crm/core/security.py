"""Security helpers: trusted proxies, response headers, secret-token digests, role checks (403), loaders (404)."""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import Flask, Response, abort, current_app, request
from flask_login import current_user, login_required
from werkzeug.middleware.proxy_fix import ProxyFix

#: Pages that show a requester's data without a login (the secret link of a request, a survey).
_PERSONAL_PREFIXES = ("/demandes/", "/enquete/", "/api/")


def _personal(path: str, endpoint: str | None) -> bool:
    """A response that may hold personal data: any page of a signed-in user, the secret-link pages, the API."""
    if endpoint is None or endpoint.endswith("static") or endpoint in ("views.dsfr_asset", "views.dsfr_chart_asset"):
        return False
    return bool(getattr(current_user, "is_authenticated", False)) or path.startswith(_PERSONAL_PREFIXES)


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For (and the outermost X-Forwarded-Proto) from TRUSTED_PROXIES proxies, no more.

    With 0 (the default) the headers are ignored: a client cannot pick its rate-limit bucket by sending one.
    With n, the n-th address from the right is the client: what a client writes to the left is ignored too.
    """
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=1)


#: Scripts, styles, fonts and requests from our own origin only: no inline script, event handler or style
#: attribute runs (the DSFR and our JavaScript are files); images may also be data: URIs (the DSFR's icons).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
))


def security_headers(response: Response) -> Response:
    """The headers of every response: CSP, no sniffing or framing, HSTS in production, no-store for personal data."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["ENV_NAME"] == "production":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if _personal(request.path, request.endpoint):
        response.headers["Cache-Control"] = "no-store"
    return response


def token_digest(clear: str) -> str:
    """The SHA-256 hex digest stored in place of a secret token (API token, link key)."""
    return hashlib.sha256(clear.encode()).hexdigest()


def roles_required(*roles: str):
    """Require a logged-in user holding one of the roles (administrators always pass)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def staff_required(view):
    """Require an agent, référent, manager or administrator."""
    from crm.core.models import STAFF_ROLES

    return roles_required(*STAFF_ROLES)(view)


def get_or_404(model, ident):
    """Load a row by primary key or answer 404."""
    from crm.core.extensions import db

    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj

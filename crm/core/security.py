"""Security helpers: secret-token digests, role checks that answer 403, object loaders that answer 404."""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import abort
from flask_login import current_user, login_required


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

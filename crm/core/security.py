"""Permission helpers for views: role checks that answer 403, object loaders that answer 404."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


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

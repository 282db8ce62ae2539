"""The staff blueprint (/agent): the ticket pages (tickets.views.agent) and the queue (tickets.views.queue)."""

from __future__ import annotations

from flask import Blueprint

from crm.core.security import staff_required

bp = Blueprint("tickets_agent", __name__, url_prefix="/agent", template_folder="../templates")


@bp.before_request
@staff_required
def _staff_only():
    """Every agent page needs a staff account (403 for requesters, login for visitors)."""

"""The presence ping of the ticket page and the panel saying who else is on it."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, jsonify, render_template, request
from flask_login import current_user
from markupsafe import Markup

from crm.core import registry
from crm.core.forms import EmptyForm
from crm.core.security import staff_required
from tickets import services
from tickets.models import Ticket
from tickets.presence.services import others_present, record_presence

bp = Blueprint("tickets_presence", __name__, url_prefix="/agent", template_folder="templates")


@bp.before_request
@staff_required
def _staff_only():
    """Staff only, like every agent page."""


def _others(ticket: Ticket) -> tuple[Markup, str]:
    """The others' lines, and a key that changes only when they do (the script replaces the lines then only)."""
    others = others_present(ticket, current_user)
    key = " ".join(f"{p.user_id}:{p.since.timestamp():.0f}:{int(p.replying)}" for p in others)
    return Markup(render_template("presence/_others.html", others=others)), key  # noqa: S704 - rendered template


@bp.post("/demandes/<reference>/presence")
def ping(reference: str):
    """The page is open (``replying=1``: the agent is writing a reply): record it, answer who else is there."""
    ticket = services.ticket_by_reference(reference) if len(reference) <= 20 else None
    if ticket is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    record_presence(ticket, current_user, replying=request.form.get("replying") == "1")
    html, key = _others(ticket)
    return jsonify(html=str(html), key=key)


def presence_panel(ticket: Ticket) -> Markup:
    """Who else consults or answers this ticket now; kept up to date by tickets/static/presence.js."""
    html, key = _others(ticket)
    return Markup(render_template("presence/_panel.html", ticket=ticket, others=html, key=key))  # noqa: S704


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    registry.add_ticket_panel(app, 1, presence_panel)

"""The link of the acknowledgement that confirms a requester's address and links the request to their account."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_login import current_user

from crm.core.extensions import limiter
from crm.core.forms import EmptyForm
from crm.core.services import is_own_email
from tickets import identity

bp = Blueprint("tickets_identity", __name__, template_folder="../templates")


@bp.route("/demandes/<reference>/confirmer-adresse", methods=["GET", "POST"])
@limiter.limit("20 per minute")
def confirm(reference: str):
    """GET shows what is confirmed, POST confirms: a mail scanner that follows links confirms nothing."""
    token = request.values.get("jeton", "")
    try:
        ticket = identity.ticket_of_token(reference, token)
    except identity.ConfirmationError as error:
        return render_template("tickets/confirm_address.html", error=error.kind, ticket=None), \
            410 if error.kind == "expired" else 404
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        account = identity.confirm_requester(ticket)
        signed_in_as_it = current_user.is_authenticated and is_own_email(current_user, ticket.requester_email)
        return render_template("tickets/confirm_address.html", ticket=ticket, confirmed=True, account=account,
                               signed_in_as_it=signed_in_as_it)
    return render_template("tickets/confirm_address.html", ticket=ticket, form=form, token=token,
                           confirmed=ticket.requester_confirmed_at is not None)


def init_app(app: Flask) -> None:
    """Register the confirmation page."""
    app.register_blueprint(bp)

"""A request entered by an agent for a requester who called or wrote: the channel is recorded, the SLA and the
acknowledgement (with the follow link) are those of any request, the history credits the agent."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core import registry
from crm.core.extensions import db
from crm.core.security import staff_required
from tickets import services, workflow
from tickets.forms import OnBehalfForm
from tickets.models import PRIORITY_LABELS, Priority
from tickets.views.public import topic_choices

bp = Blueprint("tickets_on_behalf", __name__, url_prefix="/agent", template_folder="../templates")


@bp.before_request
@staff_required
def _staff_only():
    """Staff only, like every agent page."""


def _form() -> OnBehalfForm:
    form = OnBehalfForm()
    form.topic.choices = [("", _("Sélectionnez un thème"))] + topic_choices()
    form.priority.choices = [(p.value, _(label)) for p, label in PRIORITY_LABELS.items()]
    if not form.is_submitted():  # from a ticket's page (« Saisir une autre demande »): the same requester
        form.priority.data = Priority.NORMAL.value
        form.email.data = request.args.get("email", "")[:254]
        form.name.data = request.args.get("nom", "")[:200]
    return form


@bp.route("/nouvelle-demande", methods=["GET", "POST"])
def new_request():
    """The form; on success the new request's page."""
    form = _form()
    if not form.validate_on_submit():
        return render_template("tickets/on_behalf.html", form=form), 422 if form.is_submitted() else 200
    try:
        ticket, _key = workflow.create_ticket(
            subject=form.subject.data, body=form.message.data, requester_email=form.email.data,
            requester_name=form.name.data, topic=form.topic.data, priority=form.priority.data,
            channel=form.channel.data, project_reference=form.project_reference.data or None, actor=current_user)
    except services.TicketError as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_template("tickets/on_behalf.html", form=form), 422
    flash(_("Demande %(ref)s enregistrée pour %(name)s ; un accusé de réception avec le lien de suivi lui est "
            "envoyé par courriel.", ref=ticket.reference, name=form.name.data), "success")
    return redirect(url_for("tickets_agent.ticket", reference=ticket.reference))


def init_app(app: Flask) -> None:
    """Register the page and its menu entry for staff."""
    app.register_blueprint(bp)
    registry.add_menu(app, 11, "Saisir une demande", "tickets_on_behalf.new_request",
                      lambda u: u.is_authenticated and u.is_staff)

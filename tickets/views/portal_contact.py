"""The portal's contact form on a project: it opens a ticket on the project and the partner the user follows
(tickets.linking finds the person and the laboratory and says where the service tier comes from)."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.core.extensions import limiter
from crm.portal import queries as portal_queries
from crm.portal.scope import profiles_of, project_in_scope_or_404
from tickets import portal_requests, services, workflow
from tickets.forms import CONTACT_REASONS, PortalContactForm
from tickets.models import Channel

bp = Blueprint("portal_contact", __name__, template_folder="../templates")

def _public_form_limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC_FORM"]


def _topic(slug: str) -> str | None:
    """The routing topic if the agency defined it, else None (default routing)."""
    try:
        return services.topic_by_slug(slug).slug
    except services.TicketError:
        return None


@bp.route("/portail/projets/<reference>/signaler", methods=["GET", "POST"])
@login_required
@limiter.limit(_public_form_limit, methods=["POST"])
def report(reference: str):
    """Report a problem on a project in the user's scope; 404 outside it."""
    project = project_in_scope_or_404(profiles_of(current_user), reference)
    form = PortalContactForm()
    if form.validate_on_submit():
        label, topic = CONTACT_REASONS[form.reason.data]
        partner = portal_queries.followed_partner(profiles_of(current_user), project)
        organisation = partner.organisation if partner else None
        ticket, _key = workflow.create_ticket(
            subject=_("Portail projets — %(reason)s — %(acronym)s", reason=label, acronym=project.acronym),
            body=form.body.data + "\n\n— " + _("Projet %(reference)s (%(acronym)s), signalé depuis le portail.",
                                                reference=project.reference, acronym=project.acronym),
            requester_email=current_user.email, requester_name=current_user.name, requester=current_user,
            topic=_topic(topic), channel=Channel.PORTAL, project_reference=project.reference,
            organisation_id=organisation.id if organisation else None, project_id=project.id, actor=current_user,
            locale=str(get_locale() or "fr"),
        )
        flash(_("Votre signalement est enregistré sous la référence %(reference)s.", reference=ticket.reference),
              "success")
        return redirect(url_for("tickets_public.follow", reference=ticket.reference))
    return render_template("tickets/portal_contact.html", form=form, project=project), 422 if form.errors else 200


def init_app(app: Flask) -> None:
    """Register the portal contact form and give the portal the establishments' requests (tickets.init_app)."""
    app.register_blueprint(bp)
    portal_requests.init_app(app)

"""What a ticket is linked to, on the agent's page: a one-click choice when ambiguous, the correction form.

The links are found when the ticket is opened (tickets.linking); an agent's choice or correction goes through
tickets.services.relink_ticket (history event, SLA policy chosen again)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core import registry
from crm.core.extensions import db
from crm.core.security import staff_required
from crm.organisations import queries as organisation_queries
from crm.organisations.models import SERVICE_TIER_LABELS, Organisation
from crm.projects import queries as project_queries
from crm.projects.models import Project
from tickets import services
from tickets.forms import LinkChoiceForm, LinkForm
from tickets.models import Ticket
from tickets.views.agent import _act, requester_others

bp = Blueprint("tickets_links", __name__, url_prefix="/agent", template_folder="../templates")


@bp.before_request
@staff_required
def _staff_only():
    """Staff only, like every agent page."""


def links_panel(ticket: Ticket) -> Markup:
    """The person, project, establishment and laboratory of the ticket, the candidates, the correction form."""
    candidates = ticket.link_candidates or {}
    form = LinkForm(formdata=None, project_reference=ticket.project.reference if ticket.project else "",
                    organisation=ticket.organisation.code if ticket.organisation else "")
    organisations = organisation_queries.organisations_by_ids(candidates.get("organisations", []))
    return Markup(render_template(  # noqa: S704 - rendered template
        "tickets/_links_panel.html", ticket=ticket, form=form, tier_labels=SERVICE_TIER_LABELS,
        candidate_projects=project_queries.projects_by_ids(candidates.get("projects", [])),
        candidate_organisations=sorted(organisations.values(), key=lambda o: o.name)))


OTHER_REQUESTS = 10  # identity.other_requests's default: the merge picker reads the same list


def requester_panel(ticket: Ticket) -> Markup:
    """The requester's other requests (by account or address), the latest ten, linked to their pages."""
    others = requester_others(ticket)
    return Markup(render_template(  # noqa: S704 - rendered template
        "tickets/_requester_requests.html", ticket=ticket, others=others[:OTHER_REQUESTS],
        more=len(others) > OTHER_REQUESTS))


@bp.post("/demandes/<reference>/rattachement")
def correct(reference: str):
    """An agent links the ticket to a project (by reference) and an establishment (by identifier)."""
    form = LinkForm()

    def action(ticket: Ticket) -> str:
        project = None
        if form.project_reference.data:
            project = project_queries.project_by_reference(form.project_reference.data.upper())
            if project is None:
                raise services.TicketError(_("Aucun projet ne porte la référence %(ref)s.",
                                             ref=form.project_reference.data))
        organisation = None
        if form.organisation.data:
            organisation = organisation_queries.organisation_by_identifier(form.organisation.data)
            if organisation is None:
                raise services.TicketError(_("Aucun établissement ne porte l'identifiant %(id)s.",
                                             id=form.organisation.data))
        changed = services.relink_ticket(ticket, project=project, organisation=organisation, by=current_user)
        return _("Rattachement enregistré ; politique de délai choisie à nouveau.") if changed else _(
            "Rattachement inchangé.")

    return _act(reference, action, form)


@bp.post("/demandes/<reference>/rattachement/choix")
def choose(reference: str):
    """One click on a candidate: a project (its establishment is then found) or an establishment."""
    form = LinkChoiceForm()

    def action(ticket: Ticket) -> str:
        candidates = ticket.link_candidates or {}
        project_id, organisation_id = form.project.data, form.organisation.data
        if (project_id is None) == (organisation_id is None) or (
                project_id is not None and project_id not in candidates.get("projects", [])) or (
                organisation_id is not None and organisation_id not in candidates.get("organisations", [])):
            raise services.TicketError(_("Ce choix n'est plus proposé pour cette demande."))
        project = db.session.get(Project, project_id) if project_id is not None else ticket.project
        organisation = db.session.get(Organisation, organisation_id) if organisation_id is not None else None
        services.relink_ticket(ticket, project=project, organisation=organisation, by=current_user)
        return _("Rattachement enregistré ; politique de délai choisie à nouveau.")

    return _act(reference, action, form)


def init_app(app: Flask) -> None:
    """Register the link actions and the links panel of the ticket page (called by tickets.views.init_app)."""
    app.register_blueprint(bp)
    registry.add_ticket_panel(app, 5, links_panel)
    registry.add_ticket_panel(app, 6, requester_panel)

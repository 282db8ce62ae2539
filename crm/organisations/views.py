"""Staff pages: organisation search, the 360° view of an organisation, the project sheet."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.extensions import db, utcnow
from crm.core.registry import org_panels
from crm.core.security import get_or_404, staff_required
from crm.organisations import services as org_services
from crm.organisations.forms import InteractionForm, OrganisationSearchForm
from crm.organisations.models import SERVICE_TIER_LABELS, Organisation

bp = Blueprint("crm_orgs", __name__, url_prefix="/crm")


@bp.get("/organisations")
@staff_required
def search():
    """Find an organisation by name or identifier."""
    form = OrganisationSearchForm(request.args)
    form.validate()
    page = db.paginate(org_services.search_organisations(form.q.data or ""),
                       page=request.args.get("page", 1, int), per_page=30, error_out=False)
    args = {"q": form.q.data} if form.q.data else {}
    return render_template("crm/orgs/search.html", form=form, page=page, args=args)


@bp.get("/organisations/<int:org_id>")
@staff_required
def view(org_id: int):
    """The 360° view: identity, sub-entities and laboratories, contacts, the panels (projects, requests...), notes."""
    org = get_or_404(Organisation, org_id)
    family = org_services.organisation_family_ids(org.id)
    related = org_services.related_organisations(org, family)
    panels = [html for html in (panel(org) for _order, panel in org_panels(current_app)) if html]
    return render_template(
        "crm/orgs/view.html", org=org, related=related, panels=panels,
        contacts=org_services.contacts_of_organisations(family), notes=org_services.interactions_of(org.id),
        form=InteractionForm(), tiers=SERVICE_TIER_LABELS)


@bp.post("/organisations/<int:org_id>/notes")
@staff_required
def add_note(org_id: int):
    """Record a call, meeting or note about the organisation."""
    org = get_or_404(Organisation, org_id)
    form = InteractionForm()
    if form.validate_on_submit():
        when = form.occurred_at.data
        occurred_at = (when.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).astimezone(UTC)
                       if when else utcnow())
        org_services.record_interaction(org, author=current_user, kind=form.kind.data, occurred_at=occurred_at,
                                        subject=form.subject.data, body=form.body.data or "")
        flash(_("Note enregistrée."), "success")
    else:
        flash(_("La note n'a pas été enregistrée : l'objet est obligatoire."), "error")
    return redirect(url_for("crm_orgs.view", org_id=org.id) + "#historique")

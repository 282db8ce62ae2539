"""Staff pages: organisation search, the 360° view of an organisation, the project sheet."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.changes import history
from crm.core.extensions import db, utcnow
from crm.core.models import Role, User
from crm.core.registry import org_panels
from crm.core.security import get_or_404, roles_required, staff_required
from crm.organisations import services as org_services
from crm.organisations.forms import InteractionForm, OrganisationSearchForm, ServiceForm
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
        form=InteractionForm(), tiers=SERVICE_TIER_LABELS, **_service_context(org))


SERVICE_EDITORS = (Role.MANAGER, Role.ADMIN)


def _service_form(org: Organisation, formdata=None) -> ServiceForm:
    form = ServiceForm(formdata=formdata) if formdata is not None else ServiceForm(
        data={"service_tier": org.service_tier or "", "agency_contact": str(org.agency_contact_id or "")})
    inherited = org.parent.effective_service_tier if org.parent else "standard"
    form.service_tier.choices = [("", _("Hérité : %(tier)s", tier=_(SERVICE_TIER_LABELS.get(inherited, inherited)))),
                                 *((key, _(label)) for key, label in SERVICE_TIER_LABELS.items())]
    form.agency_contact.choices = [("", _("Aucun")), *((str(u.id), f"{u.name} ({u.email})")
                                                       for u in org_services.staff_members())]
    return form


def _service_context(org: Organisation, form: ServiceForm | None = None) -> dict:
    editor = current_user.has_role(*SERVICE_EDITORS)
    return {"service_form": (form or _service_form(org)) if editor else None,
            "service_history": history(org_services.ORGANISATION_SERVICE, org.id)}


@bp.post("/organisations/<int:org_id>/service")
@roles_required(*SERVICE_EDITORS)
def set_service(org_id: int):
    """Change the organisation's service tier and agency contact (recorded in its history)."""
    org = get_or_404(Organisation, org_id)
    form = _service_form(org, request.form)
    if form.validate_on_submit():
        contact = db.session.get(User, int(form.agency_contact.data)) if form.agency_contact.data else None
        try:
            changed = org_services.set_organisation_service(org, tier=form.service_tier.data or None,
                                                            contact=contact, by=current_user)
        except org_services.ServiceError as error:
            db.session.rollback()
            form[error.field].errors = [*form[error.field].errors, str(error)]
        else:
            flash(_("Niveau de service enregistré.") if changed else _("Aucune modification."), "success")
            return redirect(url_for("crm_orgs.view", org_id=org.id) + "#service")
    flash(_("Le niveau de service n'a pas été enregistré : %(errors)s",
            errors=" ".join(e for errors in form.errors.values() for e in errors)), "error")
    return redirect(url_for("crm_orgs.view", org_id=org.id) + "#service")


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

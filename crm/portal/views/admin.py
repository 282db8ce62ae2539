"""Administration of the portal: establishment profiles granted, requested and withdrawn."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core import services
from crm.core.extensions import db
from crm.core.forms import EmptyForm
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required
from crm.portal import queries as portal_queries
from crm.portal import services as portal_accounts
from crm.portal.forms import GrantProfileForm
from crm.portal.models import PortalGrant, ProfileRequest

bp = Blueprint("crm_admin", __name__, url_prefix="/crm/admin")


@bp.route("/profils", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def grants():
    """Pending profile requests, the granted profiles, and a form to grant one."""
    form = GrantProfileForm()
    if form.validate_on_submit():
        user = services.user_by_email(form.email.data)
        if user is None:
            form.email.errors.append(_("Aucun compte avec cette adresse : la personne doit d'abord s'inscrire."))
        else:
            try:
                portal_accounts.grant_profile(user, form.kind.data, form.identifier.data, by=current_user)
            except services.AccountError as error:
                form.identifier.errors.append(str(error))
            else:
                flash(_("Profil attribué."), "success")
                return redirect(url_for("crm_admin.grants"))
    page = db.paginate(portal_queries.granted_profiles(), page=request.args.get("page", 1, int), per_page=50,
                       error_out=False)
    return render_template("crm/orgs/grants.html", form=form, pending=portal_queries.pending_profile_requests(),
                           page=page, button=EmptyForm()), 400 if form.errors else 200


@bp.post("/profils/demandes/<int:request_id>/<decision>")
@roles_required(Role.ADMIN)
def decide(request_id: int, decision: str):
    """Grant or refuse a pending profile request."""
    profile_request = get_or_404(ProfileRequest, request_id)
    if decision not in ("accorder", "refuser"):
        abort(404)
    if EmptyForm().validate_on_submit():
        try:
            portal_accounts.decide_profile_request(profile_request, grant=decision == "accorder", by=current_user)
        except services.AccountError as error:
            flash(str(error), "error")
        else:
            flash(_("Demande accordée.") if decision == "accorder" else _("Demande refusée."), "success")
    return redirect(url_for("crm_admin.grants"))


@bp.post("/profils/<int:grant_id>/retirer")
@roles_required(Role.ADMIN)
def revoke(grant_id: int):
    """Withdraw a granted profile."""
    grant = get_or_404(PortalGrant, grant_id)
    if EmptyForm().validate_on_submit():
        portal_accounts.revoke_profile(grant)
        flash(_("Profil retiré."), "success")
    return redirect(url_for("crm_admin.grants"))

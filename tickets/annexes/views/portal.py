"""Portal pages of the annexes: the référent's annexes, one annex with its answer, the designation of référents.

Every annex is loaded through the référent's scope (tickets.annexes.queries.referent_scope): 404 outside it.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from crm.core.extensions import db
from crm.core.forms import EmptyForm
from crm.core.i18n import paris_today
from crm.portal.scope import profiles_of
from tickets.annexes import budget, history, queries, services
from tickets.annexes.forms import DesignateForm, ReviewForm
from tickets.annexes.models import ANNEX_STATE_LABELS, AnnexReferent, AnnexState, FinancialAnnex, ReferentKind

bp = Blueprint("annexes_portal", __name__, url_prefix="/portail/annexes", template_folder="../templates")
PER_PAGE = 20


def _scope():
    profiles = profiles_of(current_user)
    return queries.designations_of(current_user, profiles), profiles


@bp.get("/")
@login_required
def index():
    """The annexes waiting for the user's establishments, earliest deadline first (all of them with ?toutes=1)."""
    designations, profiles = _scope()
    everything = request.args.get("toutes") == "1"
    page = db.paginate(queries.referent_annexes(designations, profiles, pending_only=not everything),
                       page=request.args.get("page", 1, int), per_page=PER_PAGE, error_out=False)
    return render_template("annexes/portal_index.html", page=page, everything=everything, today=paris_today(),
                           designations=designations, can_designate=bool(profiles.sirens or profiles.sirets),
                           args={"toutes": "1"} if everything else {})


@bp.route("/<int:annex_id>", methods=["GET", "POST"])
@login_required
def annex(annex_id: int):
    """One annex: its current version, what changed, its history; the référent's answer."""
    designations, profiles = _scope()
    item = queries.referent_annex(designations, profiles, annex_id)
    if item is None:
        abort(404)
    form = ReviewForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                if form.decision.data == "approve":
                    services.approve_annex(item, by=current_user, digest=form.digest.data)
                    flash(_("Vous avez approuvé la version %(n)s de l'annexe.", n=item.current_version), "success")
                else:
                    services.request_corrections(item, by=current_user, digest=form.digest.data,
                                                 comments=form.line_comments(), comment=form.comment.data or "")
                    flash(_("Votre demande de corrections est transmise à l'agence."), "success")
            except services.AnnexError as error:
                target = form.comment_staff if error.field == "comments" else form.decision
                target.errors = [*target.errors, str(error)]
            else:
                return redirect(url_for(".annex", annex_id=item.id))
        status = 422
    if not form.digest.data or request.method == "GET":
        form.digest.data = item.version.digest
    return render_template("annexes/portal_annex.html", annex=item, form=form, view=history.annex_view(item),
                           lines=budget.LINES, today=paris_today(),
                           answerable=item.state == AnnexState.PUBLISHED), status


def _establishments(profiles) -> list[tuple[str, str, str]]:
    """(value, kind, identifier) of the establishment profiles the user holds."""
    held = [(f"{ReferentKind.HEADQUARTERS}:{s}", ReferentKind.HEADQUARTERS, s) for s in sorted(profiles.sirens)]
    held += [(f"{ReferentKind.ENTITY}:{s}", ReferentKind.ENTITY, s) for s in sorted(profiles.sirets)]
    return held


@bp.route("/referents", methods=["GET", "POST"])
@login_required
def referents():
    """The annex référents of the user's establishments, and the designation of a new one."""
    profiles = profiles_of(current_user)
    held = _establishments(profiles)
    if not held:
        abort(404)
    form = DesignateForm()
    form.establishment.choices = [(value, _establishment_label(kind, ident)) for value, kind, ident in held]
    holders = {value: queries.grant_holders(kind, ident) for value, kind, ident in held}
    form.user.choices = sorted({(str(u.id), f"{u.name} <{u.email}>") for users in holders.values() for u in users},
                               key=lambda c: c[1])
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            kind, _sep, identifier = form.establishment.data.partition(":")
            person = next((u for u in holders.get(form.establishment.data, []) if str(u.id) == form.user.data), None)
            if person is None:
                form.user.errors = [_("Cette personne ne détient pas le profil de cet établissement : elle doit "
                                      "d'abord le demander depuis « Mes profils ».")]
            else:
                try:
                    services.designate_referent(current_user, kind, identifier, person)
                except services.AnnexError as error:
                    form.user.errors = [str(error)]
                else:
                    flash(_("%(name)s est désigné(e) référent des annexes financières.", name=person.name), "success")
                    return redirect(url_for(".referents"))
        status = 422
    designations = {value: queries.designations_for(kind, ident) for value, kind, ident in held}
    return render_template("annexes/portal_referents.html", form=form, held=held, designations=designations,
                           label=_establishment_label, remove_form=EmptyForm()), status


def _establishment_label(kind: str, identifier: str) -> str:
    if kind == ReferentKind.HEADQUARTERS:
        return _("Siège, SIREN %(id)s", id=identifier)
    return _("Entité, SIRET %(id)s", id=identifier)


@bp.post("/referents/<int:designation_id>/retirer")
@login_required
def remove_referent(designation_id: int):
    """Withdraw a designation of one of the user's establishments (404 for another establishment's)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    designation = db.session.get(AnnexReferent, designation_id)
    if designation is None:
        abort(404)
    try:
        services.remove_referent(current_user, designation)
    except services.AnnexError:
        abort(404)
    flash(_("La désignation est retirée."), "success")
    return redirect(url_for(".referents"))


def project_section(project, user) -> Markup | None:
    """The project sheet's block for a designated référent: the project's annexes addressed to them (their scope)."""
    if user.is_staff:
        return None
    designations = queries.designations_of(user, profiles_of(user))
    if not designations.organisation_ids:
        return None
    annexes = db.session.scalars(
        sa.select(FinancialAnnex).where(queries.referent_scope(designations, profiles_of(user)),
                                        FinancialAnnex.project_id == project.id)
        .options(*queries.ROW_LOADS).order_by(FinancialAnnex.due_on, FinancialAnnex.id)).all()
    if not annexes:
        return None
    return Markup(render_template("annexes/_project_section.html", annexes=annexes,  # noqa: S704
                                  today=paris_today()))


def _menu_allowed(user) -> bool:
    if not getattr(user, "is_authenticated", False) or user.is_staff:
        return False
    profiles = profiles_of(user)
    return bool(profiles.sirens or profiles.sirets)


def init_app(app: Flask) -> None:
    from crm.core import registry

    app.register_blueprint(bp)
    app.jinja_env.globals.setdefault("annex_state_labels", ANNEX_STATE_LABELS)
    registry.add_menu(app, 32, "Annexes financières", "annexes_portal.index", _menu_allowed)
    registry.add_project_section(app, 30, project_section)

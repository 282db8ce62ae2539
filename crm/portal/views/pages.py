"""The project-tracking portal: search, project sheet, activity, reporting and exports, accounts."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.core import registry
from crm.core.extensions import db, limiter, utcnow
from crm.core.forms import PeriodForm
from crm.core.i18n import paris_today
from crm.core.services import AccountError
from crm.portal import exports
from crm.portal import queries as portal_queries
from crm.portal import services as portal_accounts
from crm.portal.forms import (
    ForgotPasswordForm,
    ProfileRequestForm,
    ProjectSearchForm,
    RegistrationForm,
    SetPasswordForm,
)
from crm.portal.models import GRANTED_PROFILES, PROFILE_LABELS
from crm.portal.requests import Paging, provider, request_scope
from crm.portal.scope import partner_scope, profiles_of, project_in_scope_or_404, project_scope
from crm.projects.models import PROJECT_STATE_LABELS
from crm.projects.queries import partner_amounts, project_amounts

bp = Blueprint("portal", __name__, url_prefix="/portail")

PER_PAGE = 20
REQUESTS_PER_PAGE = 50
#: The default period of the establishment's requests: the last twelve months, today included.
REQUESTS_DEFAULT_DAYS = 365
EXPORTS = {
    "projets": ("Projets", exports.PROJECT_COLUMNS),
    "livrables": ("Livrables", exports.DELIVERABLE_COLUMNS),
    "demandes": ("Demandes", exports.REQUEST_COLUMNS),
}


def _public_limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC_FORM"]


@bp.get("/")
@login_required
def projects():
    """Multi-criteria search of the projects in the user's scope."""
    profiles = profiles_of(current_user)
    form = ProjectSearchForm(request.args)
    form.call.choices = [("", _("Tous"))] + portal_queries.calls_in_scope(profiles)
    criteria = portal_queries.ProjectCriteria()
    if form.validate():
        criteria = portal_queries.ProjectCriteria(
            call_code=form.call.data or None, acronym=form.acronym.data, reference=form.reference.data,
            state=form.state.data or None, partner=form.partner.data, start_from=form.start_from.data,
            end_before=form.end_before.data)
    page = db.paginate(portal_queries.search_projects(profiles, criteria), page=request.args.get("page", 1, int),
                       per_page=PER_PAGE, error_out=False)
    amounts = partner_amounts(project_scope(profiles), partner_scope(profiles), project_ids=[p.id for p in page.items])
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("crm/portal/projects.html", form=form, page=page, amounts=amounts, args=args,
                           has_scope=not profiles.is_empty)


@bp.get("/projets/<reference>")
@login_required
def project(reference: str):
    """The project sheet, 404 when the project is outside the user's scope."""
    profiles = profiles_of(current_user)
    item = project_in_scope_or_404(profiles, reference)
    visible = portal_queries.visible_partners(profiles, item)
    amounts = [(_("Ensemble du projet"), project_amounts(item))]
    if len(visible) < len(item.partners):
        amounts.append((_("Partenaires de votre périmètre"), project_amounts(item, partner_scope(profiles))))
    contact_url = (url_for("portal_contact.report", reference=item.reference)
                   if "portal_contact.report" in current_app.view_functions else None)
    return render_template("crm/portal/project.html", project=item, visible=visible, amounts=amounts,
                           today=paris_today(), staff_view=False, contact_url=contact_url,
                           sections=registry.project_sections(current_app, item, current_user))


@bp.get("/activite")
@login_required
def activity():
    """Projects in progress by state, late deliverables, submitted deliverables."""
    profiles = profiles_of(current_user)
    today = paris_today()
    figures = portal_queries.indicators(profiles, today)
    late = db.session.execute(portal_queries.late_deliverables(profiles, today).limit(200)).all()
    submitted = db.session.execute(portal_queries.submitted_deliverables(profiles).limit(50)).all()
    return render_template("crm/portal/activity.html", figures=figures, late=late, submitted=submitted,
                           today=today, state_labels=PROJECT_STATE_LABELS)


@bp.get("/bilan")
@login_required
def reporting():
    """The summaries of projects and deliverables, with their exports."""
    profiles = profiles_of(current_user)
    today = paris_today()
    return render_template("crm/portal/reporting.html", figures=portal_queries.indicators(profiles, today),
                           project_rows=exports.project_rows(profiles)[:500],
                           columns=exports.PROJECT_COLUMNS, today=today)


def _requests_source():
    """(scope, provider) of the user's establishment requests; 404 without an establishment profile."""
    scope, source = request_scope(profiles_of(current_user)), provider()
    if scope is None or source is None:
        abort(404)
    return scope, source


def _period_form() -> PeriodForm:
    """The period from the query string (du, au), the last twelve months when absent."""
    return PeriodForm.from_query(request.args, REQUESTS_DEFAULT_DAYS)


@bp.get("/demandes")
@login_required
def establishment_requests():
    """The requests of the user's establishments over a period: SLA met rates, satisfaction, the list."""
    scope, source = _requests_source()
    form = _period_form()
    context = {"form": form, "figures": None, "rows": [], "page": Paging(1, REQUESTS_PER_PAGE, 0), "args": {}}
    if form.validate():
        start, end = form.bounds()
        page = Paging.of(request.args.get("page", 1, int), REQUESTS_PER_PAGE, source.count(scope, start, end))
        context.update(
            figures=source.figures(scope, start, end), page=page,
            rows=source.rows(scope, start, end, utcnow(), offset=page.offset, limit=page.per_page),
            args={"du": form.du.data.isoformat(), "au": form.au.data.isoformat()})
    return render_template("crm/portal/requests.html", **context), 200 if not form.errors else 422


@bp.get("/bilan/<name>.<fmt>")
@login_required
def export(name: str, fmt: str):
    """Download a summary as .xlsx or .csv, limited to the user's scope."""
    if name not in EXPORTS or fmt not in ("xlsx", "csv"):
        abort(404)
    profiles = profiles_of(current_user)
    title, columns = EXPORTS[name]
    stamp = paris_today().isoformat()
    if name == "demandes":
        scope, source = _requests_source()
        form = _period_form()
        if not form.validate():
            abort(400, description=" ".join(str(e) for errors in form.errors.values() for e in errors))
        start, end = form.bounds()
        rows = exports.request_rows(source.rows(scope, start, end, utcnow()))
        stamp = f"{form.du.data.isoformat()}-{form.au.data.isoformat()}"
    elif name == "projets":
        rows = exports.project_rows(profiles)
    else:
        rows = exports.deliverable_rows(profiles, paris_today())
    if fmt == "xlsx":
        body, mimetype = exports.to_xlsx(title, columns, rows), exports.XLSX_MIMETYPE
    else:
        body, mimetype = exports.to_csv(columns, rows), "text/csv; charset=utf-8"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="guichet-{name}-{stamp}.{fmt}"',
        "Cache-Control": "no-store"})


@bp.route("/profils", methods=["GET", "POST"])
@login_required
def profiles():
    """The user's profiles, and a request for an establishment profile."""
    form = ProfileRequestForm()
    if form.validate_on_submit():
        try:
            portal_accounts.request_profile(current_user, form.kind.data, form.identifier.data, form.message.data)
        except AccountError as error:
            form.identifier.errors.append(str(error))
        else:
            flash(_("Votre demande a été transmise à un administrateur."), "success")
            return redirect(url_for("portal.profiles"))
    return render_template("crm/portal/profiles.html", form=form, grants=portal_queries.user_grants(current_user),
                           requests=portal_queries.user_profile_requests(current_user),
                           profiles=profiles_of(current_user), labels=PROFILE_LABELS, granted=GRANTED_PROFILES)


@bp.route("/inscription", methods=["GET", "POST"])
@limiter.limit(_public_limit, methods=["POST"])
def register():
    """Ask for a set-password link; the same neutral answer whatever the e-mail."""
    form = RegistrationForm()
    if form.validate_on_submit():
        portal_accounts.request_password_link(form.email.data)
        flash(_("Si cette adresse est connue de l'agence, un lien pour choisir votre mot de passe vient de "
                "vous être envoyé. Il est valable 24 heures et ne sert qu'une fois."), "info")
        return redirect(url_for("portal.register"))
    return render_template("crm/portal/register.html", form=form)


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot_password():
    """Ask for a single-use link to choose a new password; the same neutral answer whatever the e-mail."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        portal_accounts.request_password_reset(form.email.data)
        flash(_("Si un compte existe pour cette adresse, un lien pour choisir un nouveau mot de passe vient de "
                "vous être envoyé. Il ne sert qu'une fois et expire dans %(n)s heures.",
                n=current_app.config["PORTAL_LINK_HOURS"]), "info")
        return redirect(url_for("portal.forgot_password"))
    return render_template("crm/portal/forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
@limiter.limit(_public_limit, methods=["POST"])
def set_password(token: str):
    """Choose a password through a single-use, expiring link."""
    link = portal_accounts.valid_password_token(token)
    if link is None:
        return render_template("crm/portal/link_invalid.html"), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            portal_accounts.set_password_with_token(link, form.password.data)
        except AccountError as error:
            form.password.errors.append(str(error))
        else:
            flash(_("Votre mot de passe est enregistré : vous pouvez vous connecter."), "success")
            return redirect(url_for("auth.login"))
    return render_template("crm/portal/set_password.html", form=form)

"""The agency's pages of the annexes: the queue, a project's annexes and decision, one annex, the figures."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.extensions import db
from crm.core.forms import EmptyForm
from crm.core.i18n import paris_today
from crm.core.security import get_or_404, staff_required
from crm.portal import exports
from crm.projects.models import PORTAL_STATES, Partner, Project
from tickets.annexes import budget, deadlines, history, queries, reports, services
from tickets.annexes.forms import PublishForm, QueueFilterForm
from tickets.annexes.models import ANNEX_STATE_LABELS, AnnexEvent, AnnexState, FinancialAnnex

bp = Blueprint("annexes_agent", __name__, url_prefix="/agent/annexes", template_folder="../templates")
PER_PAGE = 25
ALL = "toutes"


@bp.before_request
@staff_required
def _staff_only():
    """Every page here needs a staff account."""


@bp.get("/")
def queue():
    """The annexes waiting (for an establishment or for the agency), earliest deadline first."""
    form = QueueFilterForm(request.args)
    form.etat.choices = [("", _("En attente (établissement ou agence)")), (ALL, _("Tous les états"))] + [
        (s.value, _(label)) for s, label in ANNEX_STATE_LABELS.items()]
    form.validate()
    state = form.etat.data if form.etat.data in {c[0] for c in form.etat.choices} else ""
    states = tuple(s.value for s in AnnexState) if state == ALL else (state,) if state else \
        queries.QueueFilters().states
    today = paris_today()
    filters = queries.QueueFilters(states=states, overdue_on=today if form.en_retard.data else None,
                                   project=form.projet.data or "")
    page = db.paginate(queries.agency_queue(filters), page=request.args.get("page", 1, int), per_page=PER_PAGE,
                       error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("annexes/agent_queue.html", form=form, page=page, today=today, args=args)


def _project_or_404(reference: str) -> Project:
    project = db.session.scalar(sa.select(Project).where(Project.reference == reference[:40]))
    if project is None:
        abort(404)
    return project


def _publish_form(project: Project, partner_id: int | None = None, formdata=None) -> PublishForm:
    form = PublishForm(formdata=formdata)
    form.partner.choices = [(str(p.id), f"{p.number} — {p.organisation.name}") for p in project.partners]
    if formdata is None:
        form.due_on.data = deadlines.default_deadline(paris_today())
        if partner_id is not None:
            form.partner.data = str(partner_id)
            current = queries.annex_of_partner(partner_id)
            if current is not None:
                for line in budget.LINES:
                    form[line].data = str(getattr(current.version, line))
    return form


def _project_page(project: Project, form: PublishForm, status: int = 200):
    return render_template("annexes/agent_project.html", project=project, form=form,
                           annexes=queries.project_annexes(project), decision=services.decision_of(project),
                           blocking=services.blocking_partners(project), action_form=EmptyForm(),
                           events=_events(project), open_project=project.state in PORTAL_STATES), status


def _events(project: Project, annex: FinancialAnnex | None = None) -> list[AnnexEvent]:
    query = sa.select(AnnexEvent).where(AnnexEvent.project_id == project.id)
    if annex is not None:
        query = query.where(AnnexEvent.annex_id == annex.id)
    return list(db.session.scalars(query.order_by(AnnexEvent.created_at.desc(), AnnexEvent.id.desc()).limit(200)))


@bp.get("/projets/<reference>")
def project(reference: str):
    """A project's partners and annexes, the publication form and the decision's readiness."""
    item = _project_or_404(reference)
    partner_id = request.args.get("partenaire", type=int)
    if partner_id not in {p.id for p in item.partners}:  # only this project's partners (and never a huge number)
        partner_id = None
    return _project_page(item, _publish_form(item, partner_id))


@bp.post("/projets/<reference>/publier")
def publish(reference: str):
    """Publish a partner's annex (a first version or a new one) for validation by its establishment."""
    item = _project_or_404(reference)
    form = _publish_form(item, formdata=request.form)
    if form.validate_on_submit():
        partner = db.session.scalar(sa.select(Partner).where(Partner.id == int(form.partner.data),
                                                             Partner.project_id == item.id))
        try:
            figures = budget.make_figures(form.raw_figures())
            annex = services.publish_annex(partner, figures, due_on=form.due_on.data, by=current_user,
                                           note=form.note.data or "", today=paris_today())
        except budget.BudgetError as error:
            for line, message in error.errors.items():
                form[line].errors = [*form[line].errors, message]
        except services.AnnexError as error:
            target = form._fields.get(error.field or "", form.partner)
            target.errors = [*target.errors, str(error)]
        else:
            flash(_("Version %(n)s de l'annexe publiée pour validation.", n=annex.current_version), "success")
            return redirect(url_for(".annex", annex_id=annex.id))
    return _project_page(item, form, 422)


@bp.post("/projets/<reference>/decision")
def mark_ready(reference: str):
    """Mark the project's funding decision ready to issue (refused while an annex is not approved)."""
    item = _project_or_404(reference)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        services.mark_decision_ready(item, by=current_user)
    except services.AnnexError as error:
        flash(str(error), "error")
        return _project_page(item, _publish_form(item), 409)
    flash(_("La décision de financement est marquée prête à émettre."), "success")
    return redirect(url_for(".project", reference=item.reference))


@bp.get("/<int:annex_id>")
def annex(annex_id: int):
    """One annex: every version with its differences, the reviews, the audit trail."""
    item = get_or_404(FinancialAnnex, annex_id)
    return render_template("annexes/agent_annex.html", annex=item, view=history.annex_view(item),
                           lines=budget.LINES, events=_events(item.project, item), today=paris_today())


@bp.get("/indicateurs")
def figures():
    """Annexes waiting now, median validation time by establishment, share approved at first pass."""
    rows = reports.by_establishment()
    return render_template("annexes/agent_figures.html", waiting=reports.waiting(paris_today()), rows=rows,
                           share=reports.first_pass_share(rows))


@bp.get("/indicateurs.<fmt>")
def export(fmt: str):
    """The figures by establishment as .xlsx or .csv."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    rows = reports.export_rows(reports.by_establishment())
    if fmt == "xlsx":
        body, mimetype = exports.to_xlsx("Annexes", reports.COLUMNS, rows), exports.XLSX_MIMETYPE
    else:
        body, mimetype = exports.to_csv(reports.COLUMNS, rows), "text/csv; charset=utf-8"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="guichet-annexes-{paris_today().isoformat()}.{fmt}"',
        "Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    from crm.core import registry

    app.register_blueprint(bp)
    registry.add_menu(app, 12, "Annexes financières", "annexes_agent.queue",
                      lambda u: getattr(u, "is_authenticated", False) and u.is_staff)

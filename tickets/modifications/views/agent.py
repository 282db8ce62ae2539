"""The agency's pages: the queue of modification requests (filters by kind, state, due date), a request with its
decision forms, the managers' figures with their exports, the import report and the export of accepted changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required, staff_required
from tickets.modifications import exports, forms, kinds, queries, services
from tickets.modifications.models import ChangeRequest
from tickets.modifications.services import ModificationError
from tickets.modifications.states import STATE_LABELS, Actor, State, actions_for
from tickets.modifications.views.portal import history

bp = Blueprint("modifications_agent", __name__, url_prefix="/agent/modifications", template_folder="../templates")
PER_PAGE = 50
PARIS = ZoneInfo("Europe/Paris")


@bp.before_request
@staff_required
def _staff_only():
    """Every page here needs a staff account."""


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/")
def queue():
    """Requests at the agency, earliest due first; filters: kind, state, due before a day."""
    kind = request.args.get("type") or None
    state = request.args.get("etat") or None
    due = _day(request.args.get("echeance"))
    errors = []
    if kind is not None and kind not in kinds.SPECS:
        errors.append(_("Type de demande inconnu."))
        kind = None
    if state is not None and state not in set(State):
        errors.append(_("État inconnu."))
        state = None
    if request.args.get("echeance") and due is None:
        errors.append(_("Date d'échéance invalide (format AAAA-MM-JJ)."))
    due_before = datetime.combine(due, time.max, PARIS).astimezone(UTC) if due else None
    query = queries.agent_queue(queries.QueueFilters(kind=kind, state=state, due_before=due_before))
    page_number = max(request.args.get("page", 1, int), 1)
    rows = db.session.execute(query.limit(PER_PAGE + 1).offset((page_number - 1) * PER_PAGE)).all()
    args = {k: v for k, v in (("type", kind), ("etat", state), ("echeance", due.isoformat() if due else None)) if v}
    return render_template("modifications/queue.html", rows=rows[:PER_PAGE], has_next=len(rows) > PER_PAGE,
                           page=page_number, count=queries.capped_count(query), cap=queries.COUNT_CAP,
                           kind=kind, state=state, due=due, args=args, errors=errors, kinds=kinds.KIND_ORDER,
                           kind_labels=kinds.KIND_LABELS, states=STATE_LABELS), 422 if errors else 200


def render_request(item: ChangeRequest, status: int = 200, form=None):
    return render_template("modifications/agent_request.html", item=item, spec=kinds.SPECS[item.kind],
                           labels=kinds.FIELD_LABELS, choices=kinds.CHOICE_LABELS, history=history(item),
                           form=form or forms.AgentActionForm(), actions=actions_for(item.state, Actor.AGENT)), status


@bp.get("/<int:request_id>")
def show(request_id: int):
    """A request as the agency works it: data, documents, history, decision."""
    return render_request(get_or_404(ChangeRequest, request_id))


@bp.post("/<int:request_id>/action")
def act(request_id: int):
    """Request information, or decide (accept, partly accept, refuse) with the reasons; or record, close."""
    item = get_or_404(ChangeRequest, request_id)
    form = forms.AgentActionForm()
    action = request.form.get("action", "")
    try:
        if action in ("record", "close"):
            (services.record_request if action == "record" else services.close_request)(item, by=current_user)
        elif not form.validate_on_submit():
            flash(_("Le formulaire contient des erreurs : rien n'a été modifié."), "error")
            return render_request(item, 422, form)
        elif action == "request_information":
            services.request_information(item, by=current_user, body=form.body.data)
        else:
            services.decide(item, action, by=current_user, reason=form.body.data)
    except ModificationError as error:
        db.session.rollback()
        flash(str(error), "error")
        return render_request(get_or_404(ChangeRequest, request_id), 422, form)
    flash(_("Demande mise à jour : %(state)s.", state=_(STATE_LABELS[State(item.state)])), "success")
    return redirect(url_for(".show", request_id=item.id))


def _period() -> tuple[date, date, list[str]]:
    """The period asked (du, au: at most a year), by default the last 90 days."""
    today = paris_today()
    start, end = _day(request.args.get("du")), _day(request.args.get("au"))
    errors = []
    if (request.args.get("du") and start is None) or (request.args.get("au") and end is None):
        errors.append(_("Date invalide (format AAAA-MM-JJ)."))
    start, end = start or today - timedelta(days=90), end or today
    if end < start or (end - start).days > 366:
        errors.append(_("La période doit aller d'une date à une date postérieure, sur un an au plus."))
        start, end = today - timedelta(days=90), today
    return start, end, errors


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time.min, PARIS).astimezone(UTC),
            datetime.combine(end + timedelta(days=1), time.min, PARIS).astimezone(UTC))


@bp.get("/indicateurs")
@roles_required(Role.MANAGER, Role.ADMIN)
def figures():
    """Volumes by kind and processing times (p50, p90) over a period."""
    start, end, errors = _period()
    rows = queries.figures(*_bounds(start, end))
    return render_template("modifications/figures.html", rows=rows, start=start, end=end, errors=errors,
                           kind_labels=kinds.KIND_LABELS), 422 if errors else 200


def _download(body: bytes, mimetype: str, name: str) -> Response:
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="guichet-{name}-{paris_today().isoformat()}"',
        "Cache-Control": "no-store"})


@bp.get("/indicateurs.<fmt>")
@roles_required(Role.MANAGER, Role.ADMIN)
def figures_export(fmt: str):
    """The figures as .xlsx or .csv."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    start, end, errors = _period()
    if errors:
        abort(422)
    rows = exports.figure_rows(queries.figures(*_bounds(start, end)))
    body, mimetype = exports.table(fmt, "Demandes de modification", exports.FIGURE_COLUMNS, rows)
    return _download(body, mimetype, f"modifications-indicateurs.{fmt}")


@bp.get("/rapprochement")
def reconciliation():
    """Accepted requests the nightly import has not brought back yet."""
    rows = db.session.scalars(queries.unreflected_decisions().limit(500)).all()
    return render_template("modifications/reconciliation.html", rows=rows, today=paris_today())


@bp.get("/acceptees.<fmt>")
def accepted_export(fmt: str):
    """The accepted changes for the business systems (docs/modification-requests.md): CSV or JSON."""
    if fmt not in ("csv", "json"):
        abort(404)
    since = _day(request.args.get("depuis"))
    if request.args.get("depuis") and since is None:
        abort(422)
    items = db.session.scalars(queries.accepted_changes(
        datetime.combine(since, time.min, PARIS).astimezone(UTC) if since else None)).all()
    if fmt == "json":
        return _download(exports.accepted_json(items), "application/json", "modifications-acceptees.json")
    return _download(exports.accepted_csv(items), "text/csv; charset=utf-8", "modifications-acceptees.csv")


def ticket_panel(ticket) -> Markup | None:
    """The side panel of a modification request's ticket: its kind, state and a link to work it."""
    if ticket.topic is None or not ticket.topic.slug.startswith("modification-"):
        return None
    item = db.session.scalar(sa.select(ChangeRequest).where(ChangeRequest.ticket_id == ticket.id))
    if item is None:
        return None
    return Markup(render_template("modifications/_ticket_panel.html", item=item))  # noqa: S704

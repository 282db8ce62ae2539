"""Manager pages: SLA at risk and breached now, met rates, response-time percentiles over a period."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, render_template, request, url_for

from crm.core import registry
from crm.core.extensions import utcnow
from crm.core.models import Role
from crm.core.security import roles_required
from tickets import reports
from tickets.forms import PeriodForm
from tickets.models import STATUS_LABELS, Status
from tickets.sla import format_business_duration
from tickets.sla_tracking import TARGET_LABELS, TARGETS

bp = Blueprint("tickets_manager", __name__, url_prefix="/responsable", template_folder="../templates")

DEFAULT_DAYS = 30
LIST_LIMIT = 50


def _today() -> date:
    return utcnow().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def _duration(seconds: float | None) -> str:
    """Business seconds in French hours and minutes; a dash when there is nothing to show."""
    return "—" if seconds is None else format_business_duration(timedelta(seconds=round(seconds)))


def _percentile_rows(percentiles: dict) -> list[tuple[int | None, str]]:
    """(queue id, name) of the queues with figures, by name, then the overall line (None)."""
    names = reports.queue_names()
    keys = {key for by_queue in percentiles.values() for key in by_queue if key is not None}
    return sorted(((key, names.get(key, str(key))) for key in keys), key=lambda row: row[1]) + [(None, "")]


def _ticket_url(ticket) -> str | None:
    if "tickets_agent.ticket" not in current_app.view_functions:
        return None
    return url_for("tickets_agent.ticket", reference=ticket.reference)


@bp.route("/sla")
@roles_required(Role.MANAGER)
def sla():
    """Tickets at risk and breached now; met rates and business-time percentiles over a period."""
    today = _today()
    form = PeriodForm(formdata=request.args if request.args else None,
                      data={"du": today - timedelta(days=DEFAULT_DAYS - 1), "au": today})
    now = utcnow()
    context = {
        "form": form, "now": now, "limit": LIST_LIMIT,
        "at_risk": reports.tickets_at_risk(now, limit=LIST_LIMIT), "at_risk_count": reports.count_at_risk(now),
        "breached": reports.tickets_breached(now, limit=LIST_LIMIT), "breached_count": reports.count_breached(now),
        "targets": TARGETS, "target_labels": TARGET_LABELS, "duration": _duration, "ticket_url": _ticket_url,
        "status_labels": STATUS_LABELS, "statuses": list(Status), "period": None,
    }
    if form.validate():
        start, end = form.bounds()
        percentiles = reports.duration_percentiles(start, end)
        context.update(
            period=(form.du.data, form.au.data),
            by_queue=reports.met_rates(start, end, by="queue"),
            by_tier=reports.met_rates(start, end, by="tier"),
            percentiles=percentiles,
            percentile_rows=_percentile_rows(percentiles),
            status_counts=reports.status_counts(start, end),
        )
    return render_template("tickets/manager_sla.html", **context)


def init_app(app: Flask) -> None:
    """Register the manager pages and their menu entry."""
    app.register_blueprint(bp)
    registry.add_menu(app, 20, "Délais (SLA)", "tickets_manager.sla",
                      lambda u: u.is_authenticated and u.has_role(Role.MANAGER))

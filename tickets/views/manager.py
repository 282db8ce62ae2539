"""Manager pages: SLA at risk and breached now, met rates, response-time percentiles and series over a period."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _

from crm.core import periods, registry
from crm.core.extensions import utcnow
from crm.core.i18n import day
from crm.core.models import Role
from crm.core.security import roles_required
from crm.organisations.models import SERVICE_TIER_LABELS
from tickets import exports, reports
from tickets.forms import SlaReportForm
from tickets.models import STATUS_LABELS, SlaState, Status
from tickets.sla import format_business_duration
from tickets.sla_tracking import TARGET_LABELS, TARGETS

bp = Blueprint("tickets_manager", __name__, url_prefix="/responsable", template_folder="../templates")

DEFAULT_DAYS = 30
LIST_LIMIT = 50


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _duration(seconds: float | timedelta | None) -> str:
    """Business time in French hours and minutes; a dash when there is nothing to show."""
    if seconds is None:
        return "—"
    if not isinstance(seconds, timedelta):
        seconds = timedelta(seconds=round(seconds))
    return format_business_duration(seconds)


def _percentile_rows(percentiles: dict) -> list[tuple[int | None, str]]:
    """(queue id, name) of the queues with figures, by name, then the overall line (None)."""
    names = reports.queue_names()
    keys = {key for by_queue in percentiles.values() for key in by_queue if key is not None}
    return sorted(((key, names.get(key, str(key))) for key in keys), key=lambda row: row[1]) + [(None, "")]


def _ticket_url(ticket) -> str | None:
    if "tickets_agent.ticket" not in current_app.view_functions:
        return None
    return url_for("tickets_agent.ticket", reference=ticket.reference)


def _form() -> SlaReportForm:
    """The period (last 30 days by default) and the queue or tier the series are drawn for."""
    form = SlaReportForm.from_query(request.args, DEFAULT_DAYS)
    names = sorted(reports.queue_names().items(), key=lambda item: item[1])
    form.file.choices = [("", _("Toutes les files"))] + [(str(key), name) for key, name in names]
    tiers = SERVICE_TIER_LABELS.items()
    form.niveau.choices = [("", _("Tous les niveaux"))] + [(key, _(label)) for key, label in tiers]
    return form


def _period(form: SlaReportForm, now) -> dict:
    """Every figure over the form's period (the form is valid)."""
    start, end = form.bounds()
    percentiles = reports.duration_percentiles(start, end)
    points = _series(form, now)
    return {
        "period": (form.du.data, form.au.data),
        "weekly": periods.is_weekly(form.du.data, form.au.data),
        "by_queue": reports.met_rates(start, end, by="queue", now=now),
        "by_tier": reports.met_rates(start, end, by="tier", now=now),
        "percentiles": percentiles, "percentile_rows": _percentile_rows(percentiles),
        "status_counts": reports.status_counts(start, end),
        "points": points, "charts": _charts(points),
        "series_scope": (_choice_label(form.file), _choice_label(form.niveau)),
    }


def _period_rows(report: str, form: SlaReportForm, now) -> list[list]:
    """The rows of one period table, computing that table only."""
    start, end = form.bounds()
    if report in ("taux-par-file", "taux-par-niveau"):
        return exports.rate_rows(reports.met_rates(start, end, by="queue" if report == "taux-par-file" else "tier",
                                                   now=now))
    if report == "temps":
        percentiles = reports.duration_percentiles(start, end)
        return exports.duration_rows(percentiles, _percentile_rows(percentiles))
    return exports.series_rows(_series(form, now))


def _series(form: SlaReportForm, now) -> list[reports.SeriesPoint]:
    steps = periods.buckets(form.du.data, form.au.data, _zone())
    return reports.series(steps, queue_id=int(form.file.data) if form.file.data else None,
                          tier=form.niveau.data or None, now=now)


def _charts(points: list[reports.SeriesPoint]) -> dict:
    """The series as the chart components read them: step labels, volumes, rates in %, times in hours."""
    def share(rate):
        return None if rate.rate is None else round(rate.rate * 100, 1)

    def hours(value):
        return None if value is None else round(value / 3600, 1)

    return {
        "labels": [day(p.bucket.first) for p in points],
        "submitted": [[p.submitted for p in points]],
        "rates": [[share(p.rates[t]) for p in points] for t in TARGETS],
        "durations": [[hours(getattr(p.durations[t], which)) for p in points]
                      for t in TARGETS for which in ("median", "p90")],
        "rate_names": [_(TARGET_LABELS[t]) for t in TARGETS],
        "duration_names": [name for t in TARGETS for name in (
            _("%(target)s — médiane", target=_(TARGET_LABELS[t])),
            _("%(target)s — 90e centile", target=_(TARGET_LABELS[t])))],
    }


def _choice_label(field) -> str:
    return dict(field.choices).get(field.data or "", "")


def _concerns(kind: str, now):
    return lambda ticket: reports.concerns(ticket, kind, now)


@bp.route("/sla")
@roles_required(Role.MANAGER)
def sla():
    """What can still be saved (at risk), then breached, now; met rates, percentiles and series over a period."""
    form = _form()
    now = utcnow()
    context = {
        "form": form, "now": now, "limit": LIST_LIMIT,
        # each ticket with the targets it is listed for (which, when due, how much business time left or late)
        "at_risk": [(t, reports.concerns(t, "at_risk", now)) for t in reports.tickets_at_risk(now, limit=LIST_LIMIT)],
        "at_risk_count": reports.count_at_risk(now),
        "breached": [(t, reports.concerns(t, "breached", now))
                     for t in reports.tickets_breached(now, limit=LIST_LIMIT)],
        "breached_count": reports.count_breached(now),
        "targets": TARGETS, "target_labels": TARGET_LABELS, "duration": _duration,
        "ticket_url": _ticket_url, "status_labels": STATUS_LABELS, "statuses": list(Status), "period": None,
        "export_args": {k: v for k, v in request.args.items() if k in ("du", "au", "file", "niveau") and v},
    }
    if form.validate():
        context.update(_period(form, now))
    return render_template("tickets/manager_sla.html", **context)


@bp.get("/sla/<report>.<fmt>")
@roles_required(Role.MANAGER)
def sla_export(report: str, fmt: str):
    """One table of the SLA page as .xlsx or .csv, over the same period (the lists in full)."""
    spec = exports.REPORTS.get(report)
    if spec is None or fmt not in ("xlsx", "csv"):
        abort(404)
    now = utcnow()
    if report in ("a-risque", "depassees"):
        kind = SlaState.AT_RISK if report == "a-risque" else SlaState.BREACHED
        listing = reports.tickets_at_risk if report == "a-risque" else reports.tickets_breached
        rows = exports.now_rows(listing(now, limit=None), _concerns(kind, now))
    else:
        form = _form()
        if not form.validate():
            abort(422)
        rows = _period_rows(report, form, now)
    return exports.attachment(fmt, spec, rows)


def init_app(app: Flask) -> None:
    """Register the manager pages and their menu entry."""
    app.register_blueprint(bp)
    registry.add_menu(app, 20, "Délais (SLA)", "tickets_manager.sla",
                      lambda u: u.is_authenticated and u.has_role(Role.MANAGER))

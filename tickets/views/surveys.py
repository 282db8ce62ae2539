"""Satisfaction: the requester's survey page, the manager's report, and the ticket's e-mails panel."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core import periods
from crm.core.extensions import db, limiter
from crm.core.forms import EmptyForm, PeriodForm
from crm.core.i18n import day
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required
from tickets import exports, surveys
from tickets.forms import SurveyForm
from tickets.models import FollowUp, Ticket

bp = Blueprint("tickets_surveys", __name__, template_folder="../templates")

#: The period shown when none is chosen: the last 30 days.
DEFAULT_DAYS = 30


@bp.route("/enquete/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute")
def survey(token: str):
    """The satisfaction survey: no login, the link is single-use and expires."""
    record = surveys.survey_by_token(token)
    if record is None:
        abort(404)
    state = surveys.survey_state(record)
    if state != "open":
        return render_template("tickets/survey_closed.html", state=state), 410 if state == "expired" else 200
    form = SurveyForm()
    if request.method == "GET" and request.args.get("note") in {"1", "2", "3", "4", "5"}:
        form.score.data = request.args["note"]
    if form.validate_on_submit():
        try:
            surveys.answer_survey(record, int(form.score.data), form.comment.data or "")
        except surveys.SurveyError as error:
            db.session.rollback()
            flash(str(error), "error")
            return render_template("tickets/survey_closed.html", state="answered"), 409
        return render_template("tickets/survey_thanks.html")
    return render_template("tickets/survey.html", form=form, ticket=record.ticket), \
        422 if form.errors else 200


def _period_form() -> PeriodForm:
    """The period from the query string, the last 30 days when none is given."""
    return PeriodForm.from_query(request.args, DEFAULT_DAYS)


def _series(form: PeriodForm) -> list[tuple]:
    steps = periods.buckets(form.du.data, form.au.data, ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    return list(zip(steps, surveys.satisfaction_by_step(steps), strict=True))


@bp.get("/responsable/satisfaction")
@roles_required(Role.MANAGER)
def satisfaction():
    """Open follow-ups; over a period: overall score, its evolution, per queue, agent, topic and establishment."""
    form = _period_form()
    context = {"follow_ups": surveys.open_follow_ups(current_user), "form": EmptyForm(), "period_choice": form,
               "period": None}
    if not form.validate():
        return render_template("tickets/satisfaction.html", **context), 422
    start, end = form.bounds()
    language = str(get_locale())
    series = _series(form)
    context.update(
        period=(form.du.data, form.au.data), weekly=periods.is_weekly(form.du.data, form.au.data), series=series,
        overall=surveys.satisfaction_overall(start, end),
        reports={dimension: surveys.satisfaction_report(dimension, since=start, until=end, language=language)
                 for dimension in surveys.DIMENSIONS},
        score_chart={"labels": [day(step.first) for step, _row in series],
                     "values": [[row.average if row.answers else None for _step, row in series]]},
        export_args={k: v for k, v in request.args.items() if k in ("du", "au") and v},
    )
    return render_template("tickets/satisfaction.html", **context)


@bp.get("/responsable/satisfaction/<report>.<fmt>")
@roles_required(Role.MANAGER)
def satisfaction_export(report: str, fmt: str):
    """One table of the satisfaction page as .xlsx or .csv, over the same period."""
    spec = exports.SATISFACTION_REPORTS.get(report)
    if spec is None or fmt not in ("xlsx", "csv"):
        abort(404)
    form = _period_form()
    if not form.validate():
        abort(422)
    if report == "evolution":
        return exports.attachment(fmt, spec, exports.satisfaction_series_rows(_series(form)))
    start, end = form.bounds()
    dimension, _header = exports.SATISFACTION_DIMENSIONS[report]
    rows = surveys.satisfaction_report(dimension, since=start, until=end, language=str(get_locale()))
    return exports.attachment(fmt, spec, exports.satisfaction_rows(rows))


@bp.post("/responsable/satisfaction/suivis/<int:follow_up_id>/traite")
@roles_required(Role.MANAGER)
def close_follow_up(follow_up_id: int):
    """Mark a follow-up done."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    follow_up = get_or_404(FollowUp, follow_up_id)
    if follow_up.manager_id not in (None, current_user.id) and not current_user.has_role(Role.ADMIN):
        abort(404)
    surveys.close_follow_up(follow_up, current_user)
    flash(_("Suivi marqué comme traité."), "success")
    return redirect(url_for(".satisfaction"))


def ticket_panel(ticket: Ticket) -> Markup | None:
    """Side panel of the agent's ticket page: e-mails sent about the ticket and the satisfaction answer."""
    mails = surveys.mails_of(ticket)
    answered = surveys.answered_surveys_of(ticket)
    if not mails and not answered:
        return None
    return Markup(render_template("tickets/_ticket_panel.html", mails=mails,  # noqa: S704
                                  surveys=answered))


def init_app(app: Flask) -> None:
    """The survey and satisfaction pages, the ticket's e-mails panel and the 360° satisfaction block."""
    from crm.core import registry

    app.register_blueprint(bp)
    registry.add_ticket_panel(app, 70, ticket_panel)
    registry.add_org_panel(app, 60, surveys.organisation_panel)
    registry.add_menu(app, 85, "Satisfaction", "tickets_surveys.satisfaction",
                      lambda u: u.is_authenticated and u.has_role(Role.MANAGER))

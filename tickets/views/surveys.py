"""Satisfaction: the requester's survey page, the manager's report, and the ticket's e-mails panel."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm.core.extensions import db, limiter
from crm.core.forms import EmptyForm
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required
from tickets import surveys
from tickets.forms import SurveyForm
from tickets.models import FollowUp, Ticket

bp = Blueprint("tickets_surveys", __name__, template_folder="../templates")


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


@bp.get("/responsable/satisfaction")
@roles_required(Role.MANAGER)
def satisfaction():
    """Satisfaction per queue, agent, topic and establishment, and the open follow-ups."""
    language = str(get_locale())
    reports = {dimension: surveys.satisfaction_report(dimension, language=language) for dimension in surveys.DIMENSIONS}
    return render_template("tickets/satisfaction.html", reports=reports,
                           follow_ups=surveys.open_follow_ups(current_user), form=EmptyForm())


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

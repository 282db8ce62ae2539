"""Web pages: notifications and preferences (staff), outbox and incoming mail (admin), survey, satisfaction."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.extensions import db, limiter
from crm.core.forms import EmptyForm
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required, staff_required
from notifications import services, surveys
from notifications.forms import PreferencesForm, SurveyForm
from notifications.models import (
    OUTBOX_STATUS_LABELS,
    FollowUp,
    InboundMail,
    InboundStatus,
    Notification,
    OutboxMessage,
    OutboxStatus,
)
from notifications.outbox import retry_now

bp = Blueprint("notifications", __name__, template_folder="templates")

PAGE_SIZE = 30


def staff_ticket_url(ticket_id: int | None) -> str:
    """The staff page of a ticket (home when the ticket is gone)."""
    tickets = sa.table("tickets", sa.column("id"), sa.column("reference"))  # read by name, not imported
    reference = db.session.scalar(sa.select(tickets.c.reference).where(tickets.c.id == ticket_id)) \
        if ticket_id else None
    if reference is None:
        return url_for("views.home")
    return url_for("tickets_agent.ticket", reference=reference)


# -- staff ----------------------------------------------------------------------------------------


@bp.get("/notifications")
@staff_required
def index():
    """The user's notifications, newest first."""
    page = db.paginate(services.notifications_of(current_user), per_page=PAGE_SIZE, error_out=False)
    return render_template("notifications/index.html", page=page, form=EmptyForm())


@bp.get("/notifications/<int:notification_id>")
@staff_required
def open_notification(notification_id: int):
    """Mark a notification read and open its ticket."""
    notification = get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        abort(404)
    services.mark_read(current_user, notification.id)
    return redirect(staff_ticket_url(notification.ticket_id))


@bp.post("/notifications/lues")
@staff_required
def mark_all_read():
    """Mark every notification of the user read."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    count = services.mark_read(current_user)
    flash(_("%(n)s notification(s) marquée(s) comme lue(s).", n=count), "success")
    return redirect(url_for(".index"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@staff_required
def preferences():
    """Choose immediate e-mails or a daily digest for non-urgent notifications."""
    form = PreferencesForm(mode=services.delivery_mode(current_user))
    if form.validate_on_submit():
        services.set_delivery_mode(current_user, form.mode.data)
        flash(_("Vos préférences sont enregistrées."), "success")
        return redirect(url_for(".preferences"))
    return render_template("notifications/preferences.html", form=form), 422 if form.errors else 200


# -- admin ----------------------------------------------------------------------------------------


@bp.get("/admin/envois")
@roles_required(Role.ADMIN)
def outbox():
    """Outgoing e-mails: failures first, filter by status."""
    status = request.args.get("statut", "")
    query = sa.select(OutboxMessage)
    if status in OUTBOX_STATUS_LABELS:
        query = query.where(OutboxMessage.status == status)
    query = query.order_by(sa.case((OutboxMessage.status == OutboxStatus.FAILED, 0), else_=1),
                           OutboxMessage.id.desc())
    counts = dict(db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all())
    page = db.paginate(query, per_page=PAGE_SIZE, error_out=False)
    return render_template("notifications/outbox.html", page=page, status=status, counts=counts,
                           labels=OUTBOX_STATUS_LABELS)


@bp.post("/admin/envois/<int:message_id>/reessayer")
@roles_required(Role.ADMIN)
def retry(message_id: int):
    """Put a failed e-mail back in the queue."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    row = get_or_404(OutboxMessage, message_id)
    retry_now(row)
    flash(_("Le courriel sera renvoyé au prochain passage."), "success")
    return redirect(url_for(".outbox", statut=OutboxStatus.FAILED))


@bp.get("/admin/courriels-recus")
@roles_required(Role.ADMIN)
def inbound():
    """Incoming e-mails and what became of them; quarantined ones first."""
    query = sa.select(InboundMail).order_by(
        sa.case((InboundMail.status == InboundStatus.QUARANTINED, 0), else_=1), InboundMail.id.desc())
    page = db.paginate(query, per_page=PAGE_SIZE, error_out=False)
    return render_template("notifications/inbound.html", page=page)


# -- satisfaction ---------------------------------------------------------------------------------


@bp.route("/enquete/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute")
def survey(token: str):
    """The satisfaction survey: no login, the link is single-use and expires."""
    record = surveys.survey_by_token(token)
    if record is None:
        abort(404)
    state = surveys.survey_state(record)
    if state != "open":
        return render_template("notifications/survey_closed.html", state=state), 410 if state == "expired" else 200
    form = SurveyForm()
    if request.method == "GET" and request.args.get("note") in {"1", "2", "3", "4", "5"}:
        form.score.data = request.args["note"]
    if form.validate_on_submit():
        try:
            surveys.answer_survey(record, int(form.score.data), form.comment.data or "")
        except surveys.SurveyError as error:
            db.session.rollback()
            flash(str(error), "error")
            return render_template("notifications/survey_closed.html", state="answered"), 409
        return render_template("notifications/survey_thanks.html")
    return render_template("notifications/survey.html", form=form, ticket=record.ticket), \
        422 if form.errors else 200


@bp.get("/responsable/satisfaction")
@roles_required(Role.MANAGER)
def satisfaction():
    """Satisfaction per queue, agent, topic and establishment, and the open follow-ups."""
    reports = {dimension: surveys.satisfaction_report(dimension) for dimension in surveys.DIMENSIONS}
    return render_template("notifications/satisfaction.html", reports=reports,
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


def ticket_panel(ticket):
    """Side panel of the agent's ticket page: e-mails sent about the ticket and the satisfaction answer."""
    from markupsafe import Markup

    from notifications.models import Survey

    mails = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id)
    ).all()
    answered = db.session.scalars(
        sa.select(Survey).where(Survey.ticket_id == ticket.id, Survey.answered_at.is_not(None)).order_by(Survey.id)
    ).all()
    if not mails and not answered:
        return None
    return Markup(render_template("notifications/_ticket_panel.html", mails=mails,  # noqa: S704
                                  surveys=answered))


def init_app(app: Flask) -> None:
    """Blueprint, menu entries and the header's unread count."""
    from crm.core import registry

    app.register_blueprint(bp)
    if hasattr(registry, "add_ticket_panel"):
        registry.add_ticket_panel(app, 70, ticket_panel)
    registry.add_menu(app, 80, "Notifications", "notifications.index", lambda u: u.is_authenticated and u.is_staff)
    registry.add_menu(app, 85, "Satisfaction", "notifications.satisfaction",
                      lambda u: u.is_authenticated and u.has_role(Role.MANAGER))
    registry.add_menu(app, 95, "Envois", "notifications.outbox",
                      lambda u: u.is_authenticated and u.has_role(Role.ADMIN))

    def unread_notifications() -> int:
        if not (current_user.is_authenticated and current_user.is_staff):
            return 0
        return services.unread_count(current_user)

    app.add_template_global(unread_notifications, "unread_notifications")

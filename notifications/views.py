"""Web pages: notifications and preferences (staff), outbox and incoming mail (admin)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.auth import safe_next
from crm.core.extensions import db
from crm.core.forms import EmptyForm
from crm.core.models import Role
from crm.core.security import get_or_404, roles_required, staff_required
from notifications import queries, services
from notifications.forms import PreferencesForm
from notifications.models import (
    OUTBOX_STATUS_LABELS,
    Notification,
    OutboxMessage,
    OutboxStatus,
)
from notifications.outbox import retry_now
from notifications.smtp import error_reason

bp = Blueprint("notifications", __name__, template_folder="templates")

PAGE_SIZE = 30


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
    """Mark a notification read and open what it is about (home when it names no page)."""
    notification = get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        abort(404)
    services.mark_read(current_user, notification.id)
    return redirect(safe_next(notification.url, url_for("views.home")))


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
    page = db.paginate(queries.outbox_messages(status), per_page=PAGE_SIZE, error_out=False)
    return render_template("notifications/outbox.html", page=page, status=status, counts=queries.outbox_counts(),
                           labels=OUTBOX_STATUS_LABELS, error_reason=error_reason)


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
    page = db.paginate(queries.inbound_mails(), per_page=PAGE_SIZE, error_out=False)
    return render_template("notifications/inbound.html", page=page)


def init_app(app: Flask) -> None:
    """Blueprint, menu entries and the header's unread count."""
    from crm.core import registry

    app.register_blueprint(bp)
    registry.add_menu(app, 80, "Notifications", "notifications.index", lambda u: u.is_authenticated and u.is_staff)
    registry.add_menu(app, 95, "Envois", "notifications.outbox",
                      lambda u: u.is_authenticated and u.has_role(Role.ADMIN))

    def unread_notifications() -> int:
        if not (current_user.is_authenticated and current_user.is_staff):
            return 0
        return services.unread_count(current_user)

    app.add_template_global(unread_notifications, "unread_notifications")

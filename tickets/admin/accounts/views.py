"""Account pages (administrators): the list, a creation form, one account's roles, queues, state and history."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.core import registry
from crm.core.changes import history
from crm.core.extensions import db
from crm.core.forms import EmptyForm
from crm.core.models import ROLE_LABELS, Role, User
from crm.core.security import get_or_404, roles_required
from tickets.admin.accounts import services
from tickets.admin.accounts.forms import AccountForm, AccountSearchForm
from tickets.admin.views import ACTION_LABELS, _show_value
from tickets.models import Queue

bp = Blueprint("accounts_admin", __name__, url_prefix="/admin/comptes", template_folder="../../templates")

PER_PAGE = 50
ACCOUNT_ACTION_LABELS = {**ACTION_LABELS, "password_link": "Envoi d'un lien de mot de passe"}
FIELD_LABELS = {"name": "Nom", "email": "Adresse électronique", "roles": "Rôles", "queues": "Files",
                "active": "Actif"}
ACTIVE_OF_STATE = {"actifs": True, "desactives": False, "tous": None}


def _show(value) -> str:
    """A recorded value as shown: roles by their label."""
    if isinstance(value, list):
        value = [_(ROLE_LABELS[Role(v)]) if v in ROLE_LABELS else v for v in value]
    return _show_value(value)


def _queue_choices(form: AccountForm) -> None:
    form.queues.choices = [(q.id, q.name) for q in db.session.scalars(sa.select(Queue).order_by(Queue.name))]


@bp.get("")
@roles_required(Role.ADMIN)
def list_accounts():
    """Accounts by name, filtered by text, role and state."""
    form = AccountSearchForm(request.args)
    criteria = services.AccountCriteria()
    if form.validate():
        criteria = services.AccountCriteria(text=form.q.data or "", role=form.role.data or None,
                                            active=ACTIVE_OF_STATE.get(form.etat.data or "actifs", True))
    page = db.paginate(services.search_accounts(criteria), page=request.args.get("page", 1, int),
                       per_page=PER_PAGE, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("tickets/admin/accounts.html", form=form, page=page, args=args, labels=ROLE_LABELS,
                           kind=None, here=_("Comptes"))


@bp.route("/nouveau", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create():
    """Create an account; its holder receives a single-use link to choose a password."""
    form = AccountForm()
    _queue_choices(form)
    if form.validate_on_submit():
        try:
            user = services.create_account(form.email.data, form.name.data, form.roles.data, form.queues.data,
                                           by=current_user)
        except services.AccountError as error:
            db.session.rollback()
            form.email.errors = [*form.email.errors, str(error)]
        else:
            flash(_("Compte créé : %(email)s a reçu un lien pour choisir son mot de passe.", email=user.email),
                  "success")
            return redirect(url_for(".edit", user_id=user.id))
    return render_template("tickets/admin/account.html", form=form, account=None, kind=None,
                           here=_("Créer un compte")), 422 if form.errors else 200


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(user_id: int):
    """One account: name, roles and queues, state, password link, history."""
    account = get_or_404(User, user_id)
    form = AccountForm()
    del form.email  # fixed: it identifies the person at login and in the business systems
    _queue_choices(form)
    if request.method == "GET":
        form.name.data, form.roles.data = account.name, sorted(account.role_names)
        form.queues.data = services.queue_ids(account)
    elif form.validate_on_submit():
        try:
            services.update_account(account, form.name.data, form.roles.data, form.queues.data, by=current_user)
        except services.AccountError as error:
            db.session.rollback()
            form.roles.errors = [*form.roles.errors, str(error)]
        else:
            flash(_("Compte « %(name)s » enregistré.", name=account.name), "success")
            return redirect(url_for(".edit", user_id=account.id))
    return render_template("tickets/admin/account.html", form=form, account=account, kind=None, here=account.name,
                           history=history(services.OBJECT_TYPE, account.id), action_labels=ACCOUNT_ACTION_LABELS,
                           show_value=_show, field_labels=FIELD_LABELS), 422 if form.errors else 200


OPERATIONS = {"desactiver", "activer", "lien"}


@bp.post("/<int:user_id>/<operation>")
@roles_required(Role.ADMIN)
def operation(user_id: int, operation: str):
    """Deactivate, reactivate, or send a new password link."""
    account = get_or_404(User, user_id)
    if operation not in OPERATIONS:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        if operation == "lien":
            services.send_password_reset(account, by=current_user)
            flash(_("Un lien pour choisir un mot de passe a été envoyé à %(email)s.", email=account.email), "success")
        else:
            services.set_account_active(account, operation == "activer", by=current_user)
            flash(_("Compte réactivé.") if operation == "activer"
                  else _("Compte désactivé : ses sessions sont fermées et il ne peut plus se connecter."), "success")
    except services.AccountError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for(".edit", user_id=account.id))


def init_app(app: Flask) -> None:
    """Register the account pages and their menu entry (administrators)."""
    app.register_blueprint(bp)
    registry.add_menu(app, 91, "Comptes", "accounts_admin.list_accounts",
                      lambda u: u.is_authenticated and u.has_role(Role.ADMIN))

"""Log in, log out (ending every session of the account), change one's password, choose the language, API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from crm.core import registry, services
from crm.core.extensions import db, limiter, login_manager, utcnow
from crm.core.forms import ApiTokenForm, ChangePasswordForm, EmptyForm, LanguageForm, LoginForm
from crm.core.i18n import LANG_KEY
from crm.core.models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The active user of a session identifier "id:version" (User.get_id) whose version is still current."""
    user_id, _sep, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def safe_next(target: str | None, default: str) -> str:
    """Only follow relative redirect targets on this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return default


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("views.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            flash(_("Adresse électronique ou mot de passe incorrect."), "error")
            return _login_page(form)
        _start_session(user)
        return redirect(safe_next(form.next.data, url_for("views.home")))
    return _login_page(form)


def _login_page(form: LoginForm):
    return render_template("crm/login.html", form=form, links=registry.login_links(current_app))


def _start_session(user: User) -> None:
    """A new session for the user; a language chosen before logging in is kept, and becomes their preference."""
    lang = session.get(LANG_KEY)
    session.clear()
    if lang in current_app.config["LANGUAGES"]:
        session[LANG_KEY] = lang
        user.locale = lang
    login_user(user)


@bp.post("/deconnexion")
@login_required
def logout():
    """End this session and every other one of the account: a copied session cookie stops working too."""
    services.end_sessions(current_user)
    logout_user()
    lang = session.get(LANG_KEY)
    session.clear()
    if lang:
        session[LANG_KEY] = lang
    flash(_("Vous êtes déconnecté."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/langue")
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session[LANG_KEY] = form.lang.data
        if current_user.is_authenticated:
            current_user.locale = form.lang.data
    return redirect(safe_next(form.next.data or request.referrer and urlsplit(request.referrer).path,
                              url_for("views.home")))


@bp.route("/compte", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def account():
    """Change one's password: the other sessions of the account end, this one goes on."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.password.data)
        except services.AccountError as error:
            form.current.errors.append(str(error))
        else:
            login_user(current_user._get_current_object())  # this session carries the new session version
            flash(_("Mot de passe changé. Vos autres sessions ont été fermées."), "success")
            return redirect(url_for("auth.account"))
    return render_template("crm/account.html", form=form), 422 if form.errors else 200


@bp.route("/compte/jetons", methods=["GET", "POST"])
@login_required
def api_tokens():
    form = ApiTokenForm()
    clear = None
    if form.validate_on_submit():
        expires_at = None
        if form.expires_on.data is not None:
            expires_at = services.token_expiry(form.expires_on.data, current_app.config["BABEL_DEFAULT_TIMEZONE"])
        try:
            _token, clear = services.create_api_token(current_user, form.name.data, expires_at=expires_at)
        except services.AccountError as error:
            form.expires_on.errors.append(str(error))
        else:
            flash(_("Jeton créé. Copiez-le maintenant : il ne sera plus affiché."), "success")
    tokens = services.user_api_tokens(current_user)
    return render_template("crm/api_tokens.html", form=form, tokens=tokens, clear=clear, now=utcnow(),
                           revoke_form=EmptyForm()), 422 if form.errors else 200


@bp.post("/compte/jetons/<int:token_id>/revoquer")
@login_required
def revoke_api_token(token_id: int):
    token = services.user_api_token(current_user, token_id)
    if token is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        services.revoke_api_token(token)
        flash(_("Jeton révoqué."), "success")
    return redirect(url_for("auth.api_tokens"))

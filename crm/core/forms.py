"""Forms of the shell: login, language, password change, API tokens."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from crm.core.services import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse électronique"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()
    submit = SubmitField(_l("Se connecter"))


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Langue"), choices=[("fr", "Français"), ("en", "English")])
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Mot de passe actuel"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Nouveau mot de passe"),
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])
    confirm = PasswordField(_l("Confirmation du nouveau mot de passe"),
                            validators=[DataRequired(), EqualTo("password", _l("Les deux saisies diffèrent."))])
    submit = SubmitField(_l("Changer le mot de passe"))


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Nom du jeton"), validators=[DataRequired(), Length(max=100)])
    expires_on = DateField(_l("Valable jusqu'au (inclus)"), validators=[Optional()])
    submit = SubmitField(_l("Créer un jeton"))


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST buttons."""

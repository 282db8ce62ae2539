"""Forms of the shell: login, language, API tokens."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse électronique"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()
    submit = SubmitField(_l("Se connecter"))


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Langue"), choices=[("fr", "Français"), ("en", "English")])
    next = HiddenField()


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Nom du jeton"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Créer un jeton"))


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST buttons."""

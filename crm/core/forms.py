"""Forms of the shell: login, language, password change, API tokens, a reporting period."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from crm.core.i18n import paris_today
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


#: The longest reporting period, in days, and the dates a period may span.
PERIOD_MAX_DAYS = 366
PERIOD_EARLIEST, PERIOD_LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _period_bounds(_form, field) -> None:
    """Keep dates where time-zone arithmetic is safe."""
    if field.data is not None and not PERIOD_EARLIEST <= field.data <= PERIOD_LATEST:
        raise ValidationError(_l("Date hors de la plage acceptée (de 2000 à 2100)."))


class PeriodForm(FlaskForm):
    """A reporting period of at most a year, read from the query string (GET, changes nothing: no CSRF token).

    The managers' pages (tickets), the assistant's follow-up and the portal's figures all use this one.
    """

    class Meta:
        csrf = False

    du = DateField(_l("Du"), validators=[DataRequired(message=_l("Indiquez une date de début valide.")),
                                         _period_bounds])
    au = DateField(_l("Au (inclus)"), validators=[DataRequired(message=_l("Indiquez une date de fin valide.")),
                                                  _period_bounds])
    submit = SubmitField(_l("Afficher"))

    def validate_au(self, field) -> None:
        if self.du.data is None or field.data is None:
            return
        if field.data < self.du.data:
            raise ValidationError(_l("La date de fin doit être postérieure ou égale à la date de début."))
        if (field.data - self.du.data).days + 1 > PERIOD_MAX_DAYS:
            raise ValidationError(_l("La période ne peut pas dépasser un an."))

    @classmethod
    def from_query(cls, args: Mapping[str, str], days: int, **kwargs):
        """The period the query string gives (du, au); the ``days`` days up to today (Paris) for what it leaves out."""
        today = paris_today()
        return cls(formdata=args or None, data={"du": today - timedelta(days=days - 1), "au": today}, **kwargs)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: from the first day's midnight to the day after the last, in Paris time."""
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        start = datetime.combine(self.du.data, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.au.data + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return start, end

"""Forms of the account pages: the list's filters (GET) and the account form (roles and queues as checkboxes)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from crm.core.models import ROLE_LABELS

ROLE_CHOICES = [(str(role), _l(label)) for role, label in ROLE_LABELS.items()]
STATE_CHOICES = [("actifs", _l("Actifs")), ("desactives", _l("Désactivés")), ("tous", _l("Tous"))]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AccountSearchForm(FlaskForm):
    """Filters of the account list (GET, no side effect: no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Nom ou adresse électronique"), filters=[_strip], validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Rôle"), choices=[("", _l("Tous"))] + ROLE_CHOICES, validators=[Optional()])
    etat = SelectField(_l("État"), choices=STATE_CHOICES, default="actifs", validators=[Optional()])


class AccountForm(FlaskForm):
    email = EmailField(_l("Adresse électronique"), filters=[_strip],
                       validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Nom et prénom"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    roles = CheckboxesField(_l("Rôles"), choices=ROLE_CHOICES,
                            validators=[DataRequired(_l("Choisissez au moins un rôle."))])
    queues = CheckboxesField(_l("Files et groupes de référents"), coerce=int, choices=[], validators=[Optional()])

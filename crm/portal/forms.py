"""Forms of the portal and of its administration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from crm.core.services import MIN_PASSWORD_LENGTH
from crm.portal.models import GRANTED_PROFILES, PROFILE_LABELS
from crm.projects.models import PORTAL_STATES, PROJECT_STATE_LABELS


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ProjectSearchForm(FlaskForm):
    """Multi-criteria search of the projects (GET, no side effect: no CSRF token)."""

    class Meta:
        csrf = False

    call = SelectField(_l("Appel à projets"), choices=[], validators=[Optional()])
    acronym = StringField(_l("Acronyme"), validators=[Optional(), Length(max=60)])
    reference = StringField(_l("Référence"), validators=[Optional(), Length(max=40)])
    state = SelectField(_l("État"), validators=[Optional()],
                        choices=[("", _l("Tous"))] + [(str(s), _l(PROJECT_STATE_LABELS[s])) for s in PORTAL_STATES])
    partner = StringField(_l("Partenaire (nom, SIRET ou RNSR)"), validators=[Optional(), Length(max=120)])
    start_from = DateField(_l("Début à partir du"), validators=[Optional()])
    end_before = DateField(_l("Fin scientifique avant le"), validators=[Optional()])


class RegistrationForm(FlaskForm):
    email = EmailField(_l("Adresse électronique connue de l'agence"), filters=[_strip],
                       validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField(_l("Recevoir le lien"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Adresse électronique de votre compte"), filters=[_strip],
                       validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField(_l("Recevoir le lien"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("Nouveau mot de passe"),
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])
    confirm = PasswordField(_l("Confirmation du mot de passe"),
                            validators=[DataRequired(), EqualTo("password", _l("Les deux saisies diffèrent."))])
    submit = SubmitField(_l("Enregistrer le mot de passe"))


_PROFILE_CHOICES = [(str(kind), _l(PROFILE_LABELS[kind])) for kind in GRANTED_PROFILES]


class ProfileRequestForm(FlaskForm):
    kind = RadioField(_l("Profil demandé"), choices=_PROFILE_CHOICES, validators=[DataRequired()])
    identifier = StringField(_l("SIREN, SIRET ou numéro RNSR"), validators=[DataRequired(), Length(max=20)])
    message = TextAreaField(_l("Votre fonction dans l'établissement"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Envoyer la demande"))


class GrantProfileForm(FlaskForm):
    email = EmailField(_l("Adresse électronique du compte"), filters=[_strip],
                       validators=[DataRequired(), Email(), Length(max=254)])
    kind = SelectField(_l("Profil"), choices=_PROFILE_CHOICES, validators=[DataRequired()])
    identifier = StringField(_l("SIREN, SIRET ou numéro RNSR"), validators=[DataRequired(), Length(max=20)])
    submit = SubmitField(_l("Attribuer le profil"))

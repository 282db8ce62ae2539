"""Forms of the expert module: rules (as a form or as YAML), the « try it » question, référent profiles."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from crm.projects.models import PROJECT_STATE_LABELS
from expert.rules import PROJECT_STATES


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class RuleForm(FlaskForm):
    """One rule; conditions and actions are written in YAML (see the help next to them)."""

    code = StringField(_l("Code"), filters=[_strip], validators=[
        DataRequired(), Length(max=20), Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Lettres, chiffres, - ou _."))])
    name = StringField(_l("Nom"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    enabled = BooleanField(_l("Active"), default=True)
    stop = BooleanField(_l("Arrêter l'évaluation quand cette règle s'applique"))
    conditions = TextAreaField(_l("Conditions (YAML)"), validators=[Length(max=20000)])
    actions = TextAreaField(_l("Actions (YAML)"), validators=[DataRequired(), Length(max=20000)])
    submit = SubmitField(_l("Enregistrer la règle"))


class RuleSetYamlForm(FlaskForm):
    """The whole rule set as one YAML document."""

    document = TextAreaField(_l("Règles (YAML)"), validators=[DataRequired(), Length(max=200000)])
    comment = StringField(_l("Commentaire de version"), filters=[_strip], validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Enregistrer une nouvelle version"))


PROFILE_CHOICES = [
    ("anonymous", _l("Anonyme (non connecté)")), ("requester", _l("Demandeur connecté")),
    ("headquarters", _l("Siège (SIREN)")), ("entity", _l("Entité (SIRET)")),
    ("lab_director", _l("Directeur de laboratoire (RNSR)")), ("coordinator", _l("Coordinateur")),
    ("scientific_lead", _l("Responsable scientifique")), ("administrative_lead", _l("Responsable administratif")),
    ("staff", _l("Membre de l'équipe")),
]
STATE_CHOICES = [("", _l("Non précisé"))] + [(s, _l(PROJECT_STATE_LABELS[s])) for s in PROJECT_STATES]


class TryForm(FlaskForm):
    """A sample question, sent by GET: trying has no side effect."""

    class Meta:
        csrf = False

    subject = StringField(_l("Objet"), filters=[_strip], validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Message"), filters=[_strip], validators=[Optional(), Length(max=20000)])
    topic = SelectField(_l("Thème choisi par le demandeur"), validators=[Optional()])
    call = StringField(_l("Appel à projets (code)"), filters=[_strip], validators=[Optional(), Length(max=40)])
    profile = SelectField(_l("Profil du demandeur"), choices=PROFILE_CHOICES, default="anonymous")
    project_state = SelectField(_l("État du projet"), choices=STATE_CHOICES, validators=[Optional()])


class ReferentForm(FlaskForm):
    """A référent's group, expertise and availability."""

    group = SelectField(_l("Groupe de référents"), coerce=int)
    topics = StringField(_l("Thèmes d'expertise"), filters=[_strip], validators=[Optional(), Length(max=500)],
                         description=_l("Identifiants séparés par des virgules, par exemple : avenant, versements"))
    calls = StringField(_l("Appels à projets"), filters=[_strip], validators=[Optional(), Length(max=500)],
                        description=_l("Codes séparés par des virgules, par exemple : AAPG2025"))
    available = BooleanField(_l("Disponible pour recevoir de nouvelles demandes"))
    max_load = IntegerField(_l("Charge maximale (demandes actives, 0 : sans limite)"),
                            validators=[NumberRange(min=0, max=1000)], default=20)
    submit = SubmitField(_l("Enregistrer"))


class AbsenceForm(FlaskForm):
    """A period during which the référent receives no new request (inclusive dates)."""

    starts_on = DateField(_l("Absent du"), validators=[DataRequired(_l("Indiquez le premier jour d'absence."))])
    ends_on = DateField(_l("au (inclus)"), validators=[DataRequired(_l("Indiquez le dernier jour d'absence."))])
    reason = StringField(_l("Motif (facultatif)"), filters=[_strip], validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Ajouter l'absence"))

    def validate_ends_on(self, field) -> None:
        from wtforms.validators import ValidationError

        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("La date de fin de l'absence précède sa date de début."))


class DeleteForm(FlaskForm):
    """A button that deletes one item (CSRF only)."""

    submit = SubmitField(_l("Supprimer"))

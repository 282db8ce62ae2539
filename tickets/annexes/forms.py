"""Forms of the annexes: the agency's publication, the référent's answer, designations, the queue filters."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from tickets.annexes.budget import LINES

COMMENT_MAX = 2000


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class PublishForm(FlaskForm):
    """A version of a partner's annex, entered by an agent; figures are checked by tickets.annexes.budget."""

    partner = SelectField(_l("Partenaire"), choices=[], validators=[DataRequired()])
    staff = StringField(_l("Frais de personnel (€)"), filters=[_strip], validators=[DataRequired(), Length(max=20)])
    equipment = StringField(_l("Équipement (€)"), filters=[_strip], validators=[DataRequired(), Length(max=20)])
    missions = StringField(_l("Missions (€)"), filters=[_strip], validators=[DataRequired(), Length(max=20)])
    subcontracting = StringField(_l("Prestations de service et sous-traitance (€)"), filters=[_strip],
                                 validators=[DataRequired(), Length(max=20)])
    overheads = StringField(_l("Frais de gestion et de structure (€)"), filters=[_strip],
                            validators=[DataRequired(), Length(max=20)])
    requested_aid = StringField(_l("Aide demandée (€)"), filters=[_strip], validators=[DataRequired(), Length(max=20)])
    rate = StringField(_l("Taux d'aide applicable (%)"), filters=[_strip], validators=[DataRequired(), Length(max=8)])
    due_on = DateField(_l("Date limite de réponse de l'établissement"), validators=[DataRequired()])
    note = TextAreaField(_l("Note pour l'établissement (ce qui change)"), filters=[_strip],
                         validators=[Optional(), Length(max=COMMENT_MAX)])

    def raw_figures(self) -> dict:
        return {line: self[line].data for line in LINES}


class ReviewForm(FlaskForm):
    """The référent's answer: approve the version read (its digest), or ask for corrections line by line."""

    decision = RadioField(_l("Votre réponse"), choices=[("approve", _l("J'approuve cette version")),
                                                        ("corrections", _l("Je demande des corrections"))],
                          validators=[DataRequired(_l("Choisissez une réponse."))])
    digest = HiddenField(validators=[DataRequired(), Length(min=64, max=64)])
    comment_staff = TextAreaField(_l("Frais de personnel"), filters=[_strip], validators=[Length(max=COMMENT_MAX)])
    comment_equipment = TextAreaField(_l("Équipement"), filters=[_strip], validators=[Length(max=COMMENT_MAX)])
    comment_missions = TextAreaField(_l("Missions"), filters=[_strip], validators=[Length(max=COMMENT_MAX)])
    comment_subcontracting = TextAreaField(_l("Prestations de service et sous-traitance"), filters=[_strip],
                                           validators=[Length(max=COMMENT_MAX)])
    comment_overheads = TextAreaField(_l("Frais de gestion et de structure"), filters=[_strip],
                                      validators=[Length(max=COMMENT_MAX)])
    comment_requested_aid = TextAreaField(_l("Aide demandée"), filters=[_strip], validators=[Length(max=COMMENT_MAX)])
    comment_rate = TextAreaField(_l("Taux d'aide applicable"), filters=[_strip], validators=[Length(max=COMMENT_MAX)])
    comment = TextAreaField(_l("Commentaire général (facultatif)"), filters=[_strip],
                            validators=[Optional(), Length(max=COMMENT_MAX)])

    def line_comments(self) -> dict[str, str]:
        return {line: self[f"comment_{line}"].data or "" for line in LINES}


class DesignateForm(FlaskForm):
    """Designate an annex référent for one of the user's establishment profiles."""

    establishment = SelectField(_l("Établissement"), choices=[], validators=[DataRequired()])
    user = SelectField(_l("Personne désignée"), choices=[], validators=[DataRequired()])


class QueueFilterForm(FlaskForm):
    """Filters of the agency's annex queue (GET, no CSRF token)."""

    class Meta:
        csrf = False

    etat = SelectField(_l("État"), choices=[], validators=[Optional()])
    en_retard = BooleanField(_l("Date limite dépassée seulement"), validators=[Optional()])
    projet = StringField(_l("Référence du projet"), filters=[_strip], validators=[Optional(), Length(max=40)])

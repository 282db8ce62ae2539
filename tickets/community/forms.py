"""Forms of the community space: consent, an answer, a moderation, a designation, the topic filter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from tickets.community.services import ANSWER_MAX, ANSWER_MIN, REASON_MAX

CONSENT_LABEL = _l("J'accepte que ma question soit ouverte à la communauté des experts des établissements "
                   "(anonymisée)")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ConsentForm(FlaskForm):
    """The requester's consent on the follow page: ticked, the question opens; unticked, it leaves the space."""

    consent = BooleanField(CONSENT_LABEL)


class AnswerForm(FlaskForm):
    body = TextAreaField(_l("Votre réponse"), filters=[_strip],
                         validators=[DataRequired(), Length(min=ANSWER_MIN, max=ANSWER_MAX, message=_l(
                             "La réponse doit compter entre %(min)d et %(max)d caractères."))])


class ModerationForm(FlaskForm):
    decision = RadioField(_l("Décision"), choices=[("accept", _l("Accepter et transmettre au demandeur")),
                                                   ("reject", _l("Refuser"))], validators=[DataRequired()])
    reason = TextAreaField(_l("Raison du refus (lue par l'auteur)"), filters=[_strip],
                           validators=[Optional(), Length(max=REASON_MAX)])


class DesignateExpertForm(FlaskForm):
    email = StringField(_l("Adresse électronique du compte"), filters=[_strip],
                        validators=[DataRequired(), Email(), Length(max=254)])
    establishment = StringField(_l("Établissement (SIRET, SIREN, RNSR ou code)"), filters=[_strip],
                                validators=[DataRequired(), Length(max=40)])


class TopicFilterForm(FlaskForm):
    class Meta:
        csrf = False

    theme = SelectField(_l("Thème"), choices=[], validators=[Optional()])

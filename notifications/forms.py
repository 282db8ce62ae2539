"""Forms: notification preferences and the satisfaction survey."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from notifications.models import DeliveryMode


class PreferencesForm(FlaskForm):
    mode = RadioField(
        _l("Notifications non urgentes par courriel"),
        choices=[(DeliveryMode.IMMEDIATE.value, _l("Un courriel à chaque notification")),
                 (DeliveryMode.DIGEST.value, _l("Un récapitulatif par jour"))],
        validators=[DataRequired()],
    )


class SurveyForm(FlaskForm):
    score = RadioField(
        _l("Votre note (1 : pas du tout satisfait, 5 : très satisfait)"),
        choices=[(str(n), str(n)) for n in range(1, 6)],
        validators=[DataRequired(message=_l("Choisissez une note de 1 à 5."))],
    )
    comment = TextAreaField(_l("Commentaire (facultatif)"), validators=[Optional(), Length(max=2000)])

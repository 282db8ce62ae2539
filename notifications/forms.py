"""Forms: notification preferences."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.validators import DataRequired

from notifications.models import DeliveryMode


class PreferencesForm(FlaskForm):
    mode = RadioField(
        _l("Notifications non urgentes par courriel"),
        choices=[(DeliveryMode.IMMEDIATE.value, _l("Un courriel à chaque notification")),
                 (DeliveryMode.DIGEST.value, _l("Un récapitulatif par jour"))],
        validators=[DataRequired()],
    )

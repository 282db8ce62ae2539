"""Forms of the staff pages on organisations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.organisations.models import INTERACTION_KIND_LABELS


class InteractionForm(FlaskForm):
    kind = SelectField(_l("Type"), choices=[(str(k), _l(v)) for k, v in INTERACTION_KIND_LABELS.items()])
    occurred_at = DateTimeLocalField(_l("Date et heure"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    subject = StringField(_l("Objet"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Compte rendu"), validators=[Optional(), Length(max=10000)])
    submit = SubmitField(_l("Enregistrer la note"))


class OrganisationSearchForm(FlaskForm):
    """Search by name, code, SIREN, SIRET or RNSR (GET)."""

    class Meta:
        csrf = False

    q = StringField(_l("Nom, SIREN, SIRET ou RNSR"), validators=[Optional(), Length(max=120)])


class ServiceForm(FlaskForm):
    """An organisation's service tier and the agency's named contact (managers and administrators)."""

    service_tier = SelectField(_l("Niveau de service"), choices=[])
    agency_contact = SelectField(_l("Interlocuteur privilégié à l'agence"), choices=[])
    submit = SubmitField(_l("Enregistrer le niveau de service"))

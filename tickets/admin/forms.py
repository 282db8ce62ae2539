"""Forms of the configuration pages; each gives the services' data dict (``values()``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.organisations.models import SERVICE_TIER_LABELS
from tickets.admin.services import (
    DAY_LABELS,
    ESCALATION_LABELS,
    escalation_of,
    format_day_ranges,
    parse_closed_days,
    parse_day_ranges,
)
from tickets.models import PRIORITY_LABELS
from tickets.sla import DAY_KEYS

ANY = ("", _l("Toutes"))


class QueueForm(FlaskForm):
    groups = [(None, ["slug", "name", "description", "manager", "is_referent_group", "active"])]
    slug = StringField(_l("Identifiant"), validators=[DataRequired(), Length(max=50)])
    name = StringField(_l("Nom"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    manager = StringField(_l("Responsable (adresse électronique d'un membre de l'équipe)"),
                          validators=[Optional(), Length(max=254)])
    is_referent_group = BooleanField(_l("Groupe de référents métier"))
    active = BooleanField(_l("Active"), default=True)

    def fill(self, queue) -> None:
        self.process(obj=queue)
        self.manager.data = queue.manager.email if queue.manager else ""

    def values(self) -> dict:
        return {k: self[k].data for k in ("slug", "name", "description", "manager", "is_referent_group", "active")}


class TopicForm(FlaskForm):
    groups = [(None, ["slug", "label", "label_en", "default_queue", "position", "active"])]
    slug = StringField(_l("Identifiant"), validators=[DataRequired(), Length(max=50)])
    label = StringField(_l("Libellé"), validators=[DataRequired(), Length(max=120)])
    label_en = StringField(_l("Libellé en anglais"), validators=[Optional(), Length(max=120)])
    default_queue = SelectField(_l("File qui reçoit les demandes de ce thème"), choices=[])
    position = IntegerField(_l("Ordre d'affichage"), default=0, validators=[Optional(), NumberRange(0, 10_000)])
    active = BooleanField(_l("Actif (proposé aux demandeurs)"), default=True)

    def fill(self, topic) -> None:
        self.process(obj=topic)
        self.default_queue.data = topic.default_queue.slug if topic.default_queue else ""

    def values(self) -> dict:
        return {k: self[k].data for k in ("slug", "label", "label_en", "default_queue", "position", "active")}


class CalendarForm(FlaskForm):
    groups = [(None, ["name", "timezone", "region"]),
              (_l("Heures d'ouverture (plusieurs plages séparées par des virgules, ex. 09:00-12:30, 13:30-17:30)"),
               [f"hours_{day}" for day in DAY_KEYS]),
              (None, ["closed_days"])]
    name = StringField(_l("Nom"), validators=[DataRequired(), Length(max=120)])
    timezone = StringField(_l("Fuseau horaire"), default="Europe/Paris", validators=[DataRequired(), Length(max=60)])
    region = SelectField(_l("Jours fériés"), choices=[])
    closed_days = TextAreaField(_l("Jours de fermeture (une date par ligne, AAAA-MM-JJ, suivie d'un commentaire "
                                   "si besoin)"), validators=[Optional(), Length(max=20_000)])

    def fill(self, calendar) -> None:
        self.name.data, self.timezone.data = calendar.name, calendar.timezone
        self.region.data = ("/".join(p for p in (calendar.country, calendar.subdivision) if p)
                            if calendar.country else "")
        for day in DAY_KEYS:
            self[f"hours_{day}"].data = format_day_ranges((calendar.hours or {}).get(day))
        self.closed_days.data = "\n".join(calendar.closed_days or [])

    def values(self) -> dict:
        return {"name": self.name.data, "timezone": self.timezone.data, "region": self.region.data,
                "hours": {day: parse_day_ranges(day, self[f"hours_{day}"].data or "") for day in DAY_KEYS},
                "closed_days": parse_closed_days(self.closed_days.data or "")}


for _day in DAY_KEYS:
    setattr(CalendarForm, f"hours_{_day}", StringField(_l(DAY_LABELS[_day]), validators=[Optional(), Length(max=200)]))


class PolicyForm(FlaskForm):
    groups = [(None, ["name", "active"]),
              (_l("Critères (laisser « Toutes » pour ne pas filtrer)"), ["service_tier", "priority", "topic", "queue"]),
              (_l("Engagements, en minutes ouvrées du calendrier (450 = une journée de 7 h 30)"),
               ["first_response_minutes", "resolution_minutes", "calendar_id", "at_risk_percent"]),
              (_l("Escalade"), [f"escalation_{key}" for key in ESCALATION_LABELS])]
    name = StringField(_l("Nom"), validators=[DataRequired(), Length(max=120)])
    active = BooleanField(_l("Active"), default=True)
    service_tier = SelectField(_l("Niveau de service de l'établissement"),
                               choices=[ANY, *((k, _l(v)) for k, v in SERVICE_TIER_LABELS.items())])
    priority = SelectField(_l("Priorité"), choices=[ANY, *((str(k), _l(v)) for k, v in PRIORITY_LABELS.items())])
    topic = SelectField(_l("Thème"), choices=[])
    queue = SelectField(_l("File"), choices=[])
    first_response_minutes = IntegerField(_l("Délai de première réponse (minutes)"),
                                          validators=[DataRequired(_l("Un nombre de minutes est attendu."))])
    resolution_minutes = IntegerField(_l("Délai de résolution (minutes)"),
                                      validators=[DataRequired(_l("Un nombre de minutes est attendu."))])
    calendar_id = SelectField(_l("Calendrier"), coerce=int, choices=[])
    at_risk_percent = IntegerField(
        _l("Seuil « à risque » (part du délai écoulée, en pourcentage ; vide : réglage général)"),
        validators=[Optional(), NumberRange(1, 99)])

    def fill(self, policy) -> None:
        self.name.data, self.active.data = policy.name, policy.active
        self.service_tier.data, self.priority.data = policy.service_tier or "", policy.priority or ""
        self.topic.data, self.queue.data = policy.topic_slug or "", policy.queue.slug if policy.queue else ""
        self.first_response_minutes.data = policy.first_response_minutes
        self.resolution_minutes.data = policy.resolution_minutes
        self.calendar_id.data = policy.calendar_id
        self.at_risk_percent.data = round(policy.at_risk_share * 100) if policy.at_risk_share else None
        for key, value in escalation_of(policy).items():
            self[f"escalation_{key}"].data = value

    def values(self) -> dict:
        percent = self.at_risk_percent.data
        return {"name": self.name.data, "active": self.active.data, "service_tier": self.service_tier.data,
                "priority": self.priority.data, "topic": self.topic.data, "queue": self.queue.data,
                "first_response_minutes": self.first_response_minutes.data,
                "resolution_minutes": self.resolution_minutes.data, "calendar_id": self.calendar_id.data,
                "at_risk_share": percent / 100 if percent else None,
                "escalation": {key: self[f"escalation_{key}"].data for key in ESCALATION_LABELS}}


for _key, _label in ESCALATION_LABELS.items():
    setattr(PolicyForm, f"escalation_{_key}", BooleanField(_l(_label)))


class ReplyForm(FlaskForm):
    groups = [(None, ["title", "queue", "body"])]
    title = StringField(_l("Titre"), validators=[DataRequired(), Length(max=120)])
    queue = SelectField(_l("File"), choices=[])
    body = TextAreaField(_l("Texte"), validators=[DataRequired(), Length(max=20_000)])

    def fill(self, reply) -> None:
        self.process(obj=reply)
        self.queue.data = reply.queue.slug if reply.queue else ""

    def values(self) -> dict:
        return {"title": self.title.data, "queue": self.queue.data, "body": self.body.data}

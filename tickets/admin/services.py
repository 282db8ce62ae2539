"""Edit the service's commitments: queues, topics, business calendars, SLA policies and saved replies.

Every save validates, applies, flushes and records the change (crm.core.changes: who, when, before/after); the
caller commits. Queues, topics, calendars and policies are reference data cached per process: the flush writes
their namespace's new version in the same transaction (crm.core.refcache watches these models), so every
instance reads the edit. Something in use is never deleted (deactivate it instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import holidays
import sqlalchemy as sa
from flask_babel import gettext as _

from crm.core.changes import record_change
from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.organisations.models import SERVICE_TIER_LABELS
from expert.models import ReferentProfile
from knowledge_base.models import Article
from tickets.models import (
    ACTIVE_STATUSES,
    CannedResponse,
    Priority,
    Queue,
    SlaCalendar,
    SlaPolicy,
    Ticket,
    Topic,
)
from tickets.services import apply_sla_policy
from tickets.sla import DAY_KEYS, BusinessCalendar
from tickets.sla_tracking import DEFAULT_ESCALATION, choose_sla_policy, ticket_clocks

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TIME_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
DAY_LABELS = {"mon": "Lundi", "tue": "Mardi", "wed": "Mercredi", "thu": "Jeudi", "fri": "Vendredi",
              "sat": "Samedi", "sun": "Dimanche"}
ESCALATION_LABELS = {
    "warn_assignee": "Avertir la personne chargée de la demande à l'approche de l'échéance",
    "notify_manager_on_breach": "Prévenir le ou la responsable de la file en cas de dépassement",
    "raise_priority_on_breach": "Relever la priorité en cas de dépassement",
    "reassign_to_queue_on_breach": "Remettre la demande dans la file en cas de dépassement",
}
#: The queue that receives what nothing routes elsewhere (tickets.services.default_queue): never deactivated.
DEFAULT_QUEUE = "support"
#: Open tickets examined by a preview at most (the rest are counted, not projected).
PREVIEW_LIMIT = 2000

#: Object types of the change log.
QUEUE, TOPIC, CALENDAR, POLICY, REPLY = "queue", "topic", "sla_calendar", "sla_policy", "saved_reply"


class ConfigError(ValueError):
    """A configuration change was refused; ``field`` names the form field at fault, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- snapshots (what the change log compares) ------------------------------------------------------------


def snapshot(obj) -> dict:
    """The editable fields of a configuration row, as JSON values."""
    if isinstance(obj, Queue):
        return {"slug": obj.slug, "name": obj.name, "description": obj.description or "",
                "is_referent_group": bool(obj.is_referent_group), "manager": obj.manager.email if obj.manager else None,
                "active": bool(obj.active)}
    if isinstance(obj, Topic):
        return {"slug": obj.slug, "label": obj.label, "label_en": obj.label_en or "",
                "default_queue": obj.default_queue.slug if obj.default_queue else None,
                "position": obj.position, "active": bool(obj.active)}
    if isinstance(obj, SlaCalendar):
        return {"name": obj.name, "timezone": obj.timezone, "country": obj.country, "subdivision": obj.subdivision,
                "hours": {day: [list(r) for r in ranges] for day, ranges in sorted((obj.hours or {}).items())},
                "closed_days": sorted(obj.closed_days or [])}
    if isinstance(obj, SlaPolicy):
        return {"name": obj.name, "service_tier": obj.service_tier, "priority": obj.priority,
                "topic": obj.topic_slug, "queue": obj.queue.slug if obj.queue else None,
                "first_response_minutes": obj.first_response_minutes,
                "resolution_minutes": obj.resolution_minutes,
                "calendar": obj.calendar.name if obj.calendar else None, "at_risk_share": obj.at_risk_share,
                "escalation": escalation_of(obj), "active": bool(obj.active)}
    if isinstance(obj, CannedResponse):
        return {"title": obj.title, "body": obj.body, "queue": obj.queue.slug if obj.queue else None}
    raise TypeError(type(obj).__name__)


def object_type(obj) -> str:
    return {Queue: QUEUE, Topic: TOPIC, SlaCalendar: CALENDAR, SlaPolicy: POLICY, CannedResponse: REPLY}[type(obj)]


def escalation_of(policy: SlaPolicy) -> dict[str, bool]:
    """The policy's escalation settings over the defaults (every step named)."""
    return {key: bool((policy.escalation or {}).get(key, default)) for key, default in DEFAULT_ESCALATION.items()}


def data_from_document(obj, item: dict) -> dict:
    """The save functions' data from a document in the snapshot's shape (CLI import, API), over ``obj``'s current
    values when it exists: calendars by name, holiday region from country and subdivision."""
    data = {**(snapshot(obj) if obj is not None else {}), **item}
    if "region" not in item and ("country" in data or "subdivision" in data):
        data["region"] = "/".join(p for p in (data.get("country"), data.get("subdivision")) if p)
    if "calendar_id" not in item and "calendar" in data:
        data["calendar_id"] = db.session.scalar(sa.select(SlaCalendar.id).where(SlaCalendar.name == data["calendar"]))
    return data


def _save(obj, before: dict | None, by: User | None, comment: str = ""):
    db.session.add(obj)
    db.session.flush()
    record_change(object_type(obj), obj.id, "created" if before is None else "updated", by=by,
                  before=before, after=snapshot(obj), comment=comment)
    db.session.flush()
    return obj


def _text(data: dict, key: str, label: str, *, max_length: int, required: bool = True) -> str:
    value = (data.get(key) or "").strip()
    if required and not value:
        raise ConfigError(_("%(field)s : ce champ est obligatoire.", field=label), key)
    if len(value) > max_length:
        raise ConfigError(_("%(field)s : %(n)s caractères au plus.", field=label, n=max_length), key)
    return value


def _slug(data: dict, model, current) -> str:
    if current is not None:
        return current.slug  # referenced by rules, policies and articles: never renamed
    slug = _text(data, "slug", _("Identifiant"), max_length=50)
    if not SLUG_RE.match(slug):
        raise ConfigError(_("Identifiant : lettres minuscules sans accent, chiffres et tirets (ex. « avenant »)."),
                          "slug")
    if db.session.scalar(sa.select(model.id).where(model.slug == slug)) is not None:
        raise ConfigError(_("L'identifiant « %(slug)s » est déjà pris.", slug=slug), "slug")
    return slug


def _unique(model, column, value: str, current, key: str, label: str) -> None:
    query = sa.select(model.id).where(sa.func.lower(column) == value.lower())
    if current is not None:
        query = query.where(model.id != current.id)
    if db.session.scalar(query.limit(1)) is not None:
        raise ConfigError(_("%(field)s : « %(value)s » existe déjà.", field=label, value=value), key)


def _queue(slug: str | None, key: str = "queue") -> Queue | None:
    if not slug:
        return None
    queue = db.session.scalar(sa.select(Queue).where(Queue.slug == slug))
    if queue is None:
        raise ConfigError(_("File inconnue : %(slug)s.", slug=slug), key)
    return queue


# -- queues -----------------------------------------------------------------------------------------------


def save_queue(current: Queue | None, data: dict, *, by: User | None) -> Queue:
    """Create (current None) or edit a queue: slug (fixed once created), name, description, manager, active."""
    slug = _slug(data, Queue, current)
    name = _text(data, "name", _("Nom"), max_length=120)
    _unique(Queue, Queue.name, name, current, "name", _("Nom"))
    description = _text(data, "description", _("Description"), max_length=2000, required=False)
    manager_email = (data.get("manager") or "").strip().lower()
    manager = None
    if manager_email:
        manager = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == manager_email))
        if manager is None or not manager.is_staff:
            raise ConfigError(_("Responsable : aucun membre de l'équipe avec l'adresse %(email)s.",
                                email=manager_email), "manager")
    active = bool(data.get("active", True))
    if not active and slug == DEFAULT_QUEUE:
        raise ConfigError(_("La file « %(slug)s » reçoit les demandes qu'aucun thème n'oriente : elle reste active.",
                            slug=DEFAULT_QUEUE), "active")
    before = snapshot(current) if current is not None else None
    queue = current or Queue()
    queue.slug, queue.name, queue.description, queue.manager = slug, name, description, manager
    queue.is_referent_group, queue.active = bool(data.get("is_referent_group")), active
    return _save(queue, before, by)


# -- topics -----------------------------------------------------------------------------------------------


def save_topic(current: Topic | None, data: dict, *, by: User | None) -> Topic:
    """Create or edit a topic: slug (fixed once created), labels, default queue, position, active."""
    slug = _slug(data, Topic, current)
    label = _text(data, "label", _("Libellé"), max_length=120)
    _unique(Topic, Topic.label, label, current, "label", _("Libellé"))
    label_en = _text(data, "label_en", _("Libellé en anglais"), max_length=120, required=False)
    queue = _queue(data.get("default_queue"), "default_queue")
    position = data.get("position") or 0
    if not isinstance(position, int) or not 0 <= position <= 10_000:
        raise ConfigError(_("Ordre d'affichage : un nombre entre 0 et 10 000."), "position")
    before = snapshot(current) if current is not None else None
    topic = current or Topic()
    topic.slug, topic.label, topic.label_en, topic.default_queue = slug, label, label_en, queue
    topic.position, topic.active = position, bool(data.get("active", True))
    return _save(topic, before, by)


# -- calendars --------------------------------------------------------------------------------------------


def parse_day_ranges(day: str, text: str) -> list[list[str]]:
    """« 09:00-12:30, 13:30-17:30 » -> [["09:00", "12:30"], ["13:30", "17:30"]]; well-formed, ordered, disjoint."""
    ranges: list[tuple[int, int]] = []
    label = _(DAY_LABELS[day])
    for part in (p.strip() for p in re.split(r"[,;]", text or "")):
        if not part:
            continue
        match = TIME_RANGE_RE.match(part)
        if match is None:
            raise ConfigError(_("%(day)s : « %(range)s » n'est pas une plage horaire (ex. 09:00-12:30).",
                                day=label, range=part), f"hours_{day}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ConfigError(_("%(day)s : heure invalide dans « %(range)s ».", day=label, range=part),
                              f"hours_{day}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ConfigError(_("%(day)s : la plage « %(range)s » doit finir après son début.",
                                day=label, range=part), f"hours_{day}")
        ranges.append((start, end))
    ranges.sort()
    for (_s1, e1), (s2, _e2) in zip(ranges, ranges[1:], strict=False):
        if s2 < e1:
            raise ConfigError(_("%(day)s : les plages se chevauchent.", day=label), f"hours_{day}")
    return [[f"{s // 60:02d}:{s % 60:02d}", f"{e // 60:02d}:{e % 60:02d}"] for s, e in ranges]


def format_day_ranges(ranges) -> str:
    return ", ".join(f"{start}-{end}" for start, end in ranges or [])


def parse_closed_days(text: str) -> list[str]:
    """One date a line (AAAA-MM-JJ or JJ/MM/AAAA), anything after the date is a comment; sorted, unique."""
    days: set[str] = set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        token = line.strip().split(" ")[0] if line.strip() else ""
        if not token:
            continue
        try:
            day = (datetime.strptime(token, "%d/%m/%Y").date() if "/" in token else date.fromisoformat(token))
        except ValueError:
            raise ConfigError(_("Jours de fermeture, ligne %(n)s : « %(value)s » n'est pas une date (AAAA-MM-JJ).",
                                n=number, value=token), "closed_days") from None
        days.add(day.isoformat())
    return sorted(days)


def holiday_regions() -> list[tuple[str, str]]:
    """(value, label) of the public-holiday choices: France, its subdivisions, or none (24/7 calendars)."""
    choices = [("FR", _("France (jours fériés nationaux)"))]
    for code in holidays.France.subdivisions:
        choices.append((f"FR/{code}", _("France — %(code)s", code=code)))
    return [*choices, ("", _("Aucun jour férié"))]


def save_calendar(current: SlaCalendar | None, data: dict, *, by: User | None) -> SlaCalendar:
    """Create or edit a calendar: name, time zone, public-holiday region, weekly hours, closure days.

    ``data["hours"]`` maps day keys to lists of ["HH:MM", "HH:MM"] (see :func:`parse_day_ranges`), ``region``
    is "FR", "FR/<subdivision>" or "", ``closed_days`` a list of ISO dates."""
    name = _text(data, "name", _("Nom"), max_length=120)
    _unique(SlaCalendar, SlaCalendar.name, name, current, "name", _("Nom"))
    timezone = (data.get("timezone") or "Europe/Paris").strip()
    region = (data.get("region") or "").strip()
    country, _slash, subdivision = region.partition("/")
    hours = data.get("hours") or {}
    if set(hours) - set(DAY_KEYS):
        unknown = ", ".join(sorted(set(hours) - set(DAY_KEYS)))
        raise ConfigError(_("Horaires : jours inconnus (%(days)s).", days=unknown), "hours")
    hours = {day: parse_day_ranges(day, format_day_ranges(hours[day])) for day in DAY_KEYS if hours.get(day)}
    hours = {day: ranges for day, ranges in hours.items() if ranges}
    if not hours:
        raise ConfigError(_("Horaires : le calendrier doit être ouvert au moins une plage dans la semaine."), "hours")
    closed = sorted({str(d) for d in data.get("closed_days") or []})
    for day in closed:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ConfigError(_("Jours de fermeture : « %(value)s » n'est pas une date (AAAA-MM-JJ).", value=day),
                              "closed_days") from None
    try:
        BusinessCalendar(hours, timezone=timezone, country=country or None, subdivision=subdivision or None,
                         closed=[date.fromisoformat(d) for d in closed])
    except ValueError as error:
        field_name = "timezone" if "zone" in str(error) else "region" if "holiday" in str(error) else "hours"
        raise ConfigError(_("Calendrier invalide : %(error)s", error=str(error)), field_name) from None
    before = snapshot(current) if current is not None else None
    calendar = current or SlaCalendar()
    calendar.name, calendar.timezone = name, timezone
    calendar.country, calendar.subdivision = country or None, subdivision or None
    calendar.hours, calendar.closed_days = hours, closed
    return _save(calendar, before, by)


# -- SLA policies -----------------------------------------------------------------------------------------


def save_policy(current: SlaPolicy | None, data: dict, *, by: User | None) -> SlaPolicy:
    """Create or edit a policy: name, criteria (tier, priority, topic, queue), targets, calendar, escalation."""
    name = _text(data, "name", _("Nom"), max_length=120)
    _unique(SlaPolicy, SlaPolicy.name, name, current, "name", _("Nom"))
    tier = data.get("service_tier") or None
    if tier is not None and tier not in SERVICE_TIER_LABELS:
        raise ConfigError(_("Niveau de service inconnu : %(value)s.", value=tier), "service_tier")
    priority = data.get("priority") or None
    if priority is not None and priority not in set(Priority):
        raise ConfigError(_("Priorité inconnue : %(priority)s.", priority=priority), "priority")
    topic = data.get("topic") or None
    if topic is not None and db.session.scalar(sa.select(Topic.id).where(Topic.slug == topic)) is None:
        raise ConfigError(_("Thème inconnu : %(slug)s.", slug=topic), "topic")
    queue = _queue(data.get("queue"))
    for key, label in (("first_response_minutes", _("Première réponse")),
                       ("resolution_minutes", _("Résolution"))):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 525_600:
            raise ConfigError(_("%(field)s : un nombre de minutes supérieur à 0 (un an au plus).", field=label), key)
    if data["resolution_minutes"] < data["first_response_minutes"]:
        raise ConfigError(_("Le délai de résolution ne peut pas être plus court que celui de première réponse."),
                          "resolution_minutes")
    calendar = db.session.get(SlaCalendar, data.get("calendar_id") or 0)
    if calendar is None:
        raise ConfigError(_("Calendrier : choisissez un calendrier existant."), "calendar_id")
    share = data.get("at_risk_share")
    if share is not None and not 0 < share < 1:
        raise ConfigError(_("Seuil « à risque » : un pourcentage du délai entre 1 et 99."), "at_risk_share")
    escalation = data.get("escalation") or {}
    unknown = set(escalation) - set(DEFAULT_ESCALATION)
    if unknown:
        raise ConfigError(_("Escalade : réglages inconnus (%(keys)s).", keys=", ".join(sorted(unknown))), "escalation")
    active = bool(data.get("active", True))
    if active:
        same = sa.select(SlaPolicy.name).where(
            SlaPolicy.active.is_(True), _same(SlaPolicy.service_tier, tier), _same(SlaPolicy.priority, priority),
            _same(SlaPolicy.topic_slug, topic), _same(SlaPolicy.queue_id, queue.id if queue else None))
        if current is not None:
            same = same.where(SlaPolicy.id != current.id)
        twin = db.session.scalar(same.limit(1))
        if twin is not None:
            raise ConfigError(_("La politique active « %(name)s » a déjà exactement ces critères : modifiez-la, ou "
                                "changez les critères.", name=twin), "service_tier")
    before = snapshot(current) if current is not None else None
    policy = current or SlaPolicy()
    policy.name, policy.service_tier, policy.priority, policy.topic_slug, policy.queue = (
        name, tier, priority, topic, queue)
    policy.first_response_minutes = data["first_response_minutes"]
    policy.resolution_minutes = data["resolution_minutes"]
    policy.calendar, policy.at_risk_share, policy.active = calendar, share, active
    policy.escalation = {key: bool(escalation.get(key, False)) for key in DEFAULT_ESCALATION}
    return _save(policy, before, by)


def _same(column, value):
    return column.is_(None) if value is None else column == value


# -- saved replies ----------------------------------------------------------------------------------------


def save_reply(current: CannedResponse | None, data: dict, *, by: User | None) -> CannedResponse:
    """Create or edit a saved reply: title, body, queue (None: every queue)."""
    title = _text(data, "title", _("Titre"), max_length=120)
    body = _text(data, "body", _("Texte"), max_length=20_000)
    queue = _queue(data.get("queue"))
    before = snapshot(current) if current is not None else None
    reply = current or CannedResponse(created_by_id=by.id if by else None)
    reply.title, reply.body, reply.queue = title, body, queue
    return _save(reply, before, by)


# -- activate, deactivate, delete ---------------------------------------------------------------------------


def usage(obj) -> list[str]:
    """What still uses a configuration row, in French (empty: it may be deleted)."""
    count = lambda query: db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))  # noqa: E731
    found: list[tuple[int, str]] = []
    if isinstance(obj, Queue):
        found = [
            (count(sa.select(Ticket.id).where(Ticket.queue_id == obj.id)), _("demande(s)")),
            (count(sa.select(Topic.id).where(Topic.default_queue_id == obj.id)), _("thème(s)")),
            (count(sa.select(SlaPolicy.id).where(SlaPolicy.queue_id == obj.id)), _("politique(s) de délai")),
            (count(sa.select(CannedResponse.id).where(CannedResponse.queue_id == obj.id)), _("réponse(s) type")),
            (count(sa.select(ReferentProfile.id).where(ReferentProfile.group_id == obj.id)), _("référent(s)")),
        ]
    elif isinstance(obj, Topic):
        found = [
            (count(sa.select(Ticket.id).where(Ticket.topic_id == obj.id)), _("demande(s)")),
            (count(sa.select(SlaPolicy.id).where(SlaPolicy.topic_slug == obj.slug)), _("politique(s) de délai")),
            (count(sa.select(Article.id).where(Article.topic == obj.slug)),
             _("article(s) de la base de connaissances")),
        ]
    elif isinstance(obj, SlaCalendar):
        found = [(count(sa.select(SlaPolicy.id).where(SlaPolicy.calendar_id == obj.id)), _("politique(s) de délai"))]
    elif isinstance(obj, SlaPolicy):
        found = [(count(sa.select(Ticket.id).where(Ticket.sla_policy_id == obj.id)), _("demande(s)"))]
    return [f"{n} {label}" for n, label in found if n]


def delete_item(obj, *, by: User | None) -> None:
    """Delete a row nothing uses; otherwise ConfigError naming what uses it (deactivate it instead)."""
    used = usage(obj)
    if used:
        hint = (_(" Désactivez-le plutôt.") if isinstance(obj, Queue | Topic | SlaPolicy)
                else _(" Rattachez d'abord ces politiques à un autre calendrier."))
        raise ConfigError(_("Suppression impossible : encore utilisé par %(what)s.", what=", ".join(used)) + hint)
    record_change(object_type(obj), obj.id, "deleted", by=by, before=snapshot(obj))
    db.session.delete(obj)
    db.session.flush()


def set_active(obj, active: bool, *, by: User | None):
    """Activate or deactivate a queue, topic or policy (kept for the tickets that use it)."""
    if not isinstance(obj, Queue | Topic | SlaPolicy):
        raise ConfigError(_("Cet élément ne se désactive pas."))
    if obj.active == active:
        return obj
    if not active and isinstance(obj, Queue) and obj.slug == DEFAULT_QUEUE:
        raise ConfigError(_("La file « %(slug)s » reçoit les demandes qu'aucun thème n'oriente : elle reste active.",
                            slug=DEFAULT_QUEUE))
    before = snapshot(obj)
    obj.active = active
    db.session.flush()
    record_change(object_type(obj), obj.id, "activated" if active else "deactivated", by=by, before=before,
                  after=snapshot(obj))
    db.session.flush()
    return obj


# -- which open tickets a policy or calendar change affects, and their due times recomputed ------------------


@dataclass
class Impact:
    """An open ticket whose stored policy or due times differ from what the configuration now gives."""

    ticket: Ticket
    policy_before: str | None
    policy_after: str | None
    due_before: dict[str, datetime | None]
    due_after: dict[str, datetime | None]


@dataclass
class Preview:
    impacts: list[Impact] = field(default_factory=list)
    examined: int = 0
    candidates: int = 0

    @property
    def count(self) -> int:
        return len(self.impacts)

    @property
    def truncated(self) -> bool:
        return self.candidates > self.examined

    @property
    def ticket_ids(self) -> list[int]:
        return [i.ticket.id for i in self.impacts]


def _candidates(obj):
    """Open tickets a change of this policy or calendar may concern (its own, and those its criteria match)."""
    active = sa.select(Ticket).where(Ticket.status.in_(ACTIVE_STATUSES))
    if isinstance(obj, SlaCalendar):
        return active.where(Ticket.sla_policy_id.in_(sa.select(SlaPolicy.id).where(SlaPolicy.calendar_id == obj.id)))
    topic_ids = sa.select(Topic.id).where(Topic.slug == obj.topic_slug)
    criteria = [Ticket.service_tier == obj.service_tier if obj.service_tier else None,
                Ticket.priority == obj.priority if obj.priority else None,
                Ticket.topic_id.in_(topic_ids) if obj.topic_slug else None,
                Ticket.queue_id == obj.queue_id if obj.queue_id else None]
    matching = sa.and_(sa.true(), *[c for c in criteria if c is not None]) if obj.active else sa.false()
    return active.where(sa.or_(Ticket.sla_policy_id == obj.id, matching))


def preview_impact(obj: SlaPolicy | SlaCalendar, *, now: datetime | None = None) -> Preview:
    """The open tickets whose policy or due times the current configuration of ``obj`` changes (read only)."""
    now = now or utcnow()
    query = _candidates(obj)
    preview = Preview(candidates=db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())))
    for ticket in db.session.scalars(query.order_by(Ticket.id).limit(PREVIEW_LIMIT)).unique():
        preview.examined += 1
        policy, _reason = choose_sla_policy(ticket)
        view = ticket_clocks(ticket, now, policy=policy)
        after = {t: (c.due_at if (c := view.clocks.get(t)) is not None else None)
                 for t in ("first_response", "resolution")}
        before = {"first_response": ticket.first_response_due_at, "resolution": ticket.resolution_due_at}
        if (policy.id if policy else None) != ticket.sla_policy_id or before != after:
            preview.impacts.append(Impact(ticket, ticket.sla_policy.name if ticket.sla_policy else None,
                                          policy.name if policy else None, before, after))
    return preview


def recompute_tickets(tickets, *, by: User | None = None, now: datetime | None = None) -> int:
    """Choose the policy again and recompute the due times of these tickets (as `guichet sla recompute`);
    return how many changed."""
    now = now or utcnow()
    changed = 0
    for ticket in tickets:
        before = (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at)
        apply_sla_policy(ticket, by=by, now=now)
        db.session.flush()
        if (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at) != before:
            changed += 1
    return changed


def recompute_impact(obj: SlaPolicy | SlaCalendar, *, by: User | None, now: datetime | None = None) -> int:
    """Recompute the tickets the preview of ``obj`` lists now; the count is recorded in its history."""
    now = now or utcnow()
    preview = preview_impact(obj, now=now)
    changed = recompute_tickets([i.ticket for i in preview.impacts], by=by, now=now)
    record_change(object_type(obj), obj.id, "recomputed", by=by,
                  comment=_("Échéances recalculées : %(n)s demande(s) ouverte(s).", n=changed))
    db.session.flush()
    return changed

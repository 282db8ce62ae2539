"""Marshmallow schemas of the tickets API: request bodies, query arguments and documents."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, ValidationError, fields, validate

from crm.core.api import ProblemSchema  # noqa: F401  (re-exported: moved to the shell)
from tickets.models import Message, Priority, Status, Ticket
from tickets.queries import SLA_FILTERS
from tickets.sla_tracking import TARGETS, SlaView

MAX_PER_PAGE = 100
MAX_PAGE = 100_000


class Text(fields.String):
    """A string the database can store: valid UTF-8, no NUL character."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("Le texte contient des caractères invalides.") from None
        if "\x00" in text:
            raise ValidationError("Le texte contient un caractère nul.")
        return text


def _choice(values) -> validate.OneOf:
    choices = [str(v) for v in values]
    return validate.OneOf(choices, error="Valeur inconnue « {input} » ; valeurs possibles : {choices}.")


# -- requests ------------------------------------------------------------------------------------


class TicketCreateSchema(Schema):
    """A new request; requester tokens file in their own name."""

    subject = Text(required=True, validate=validate.Length(min=1, max=200))
    body = Text(required=True, validate=validate.Length(min=1, max=20_000))
    requester_email = fields.Email(load_default=None, validate=validate.Length(max=254))
    requester_name = Text(load_default="", validate=validate.Length(max=200))
    topic = Text(load_default=None, allow_none=True, validate=validate.Length(max=50),
                 metadata={"description": "Identifiant du thème (depot, avenant, …)"})
    priority = fields.String(load_default=Priority.NORMAL.value, validate=_choice(Priority),
                             metadata={"description": "Réservé à l'équipe (un demandeur garde « normal »)"})
    project_reference = Text(load_default=None, allow_none=True, validate=validate.Length(max=40))


class TicketListArgsSchema(Schema):
    """Filters and pagination of the ticket list (active tickets by default, sorted by SLA due time)."""

    status = fields.String(validate=_choice([*Status, "active", "all"]),
                           metadata={"description": "Statut, ou « active » (par défaut) ou « all »"})
    queue = Text(validate=validate.Length(max=50), metadata={"description": "Identifiant de la file"})
    priority = fields.String(validate=_choice(Priority))
    topic = Text(validate=validate.Length(max=50), metadata={"description": "Identifiant du thème"})
    assignee = fields.String(validate=validate.Regexp(r"^(me|none|\d{1,9})$", error="« me », « none » ou un nombre."),
                             metadata={"description": "« me », « none » (non attribuées) ou l'identifiant d'un agent"})
    sla_state = fields.String(validate=_choice(SLA_FILTERS))
    q = Text(validate=validate.Length(max=200), metadata={"description": (
        "Une référence (DEM-…) ou le début d'une adresse du demandeur ; sinon des mots cherchés en plein texte "
        "dans l'objet, le nom du demandeur et les messages, sans tenir compte des accents (\"expression exacte\", "
        "OR, -mot exclu), les demandes les plus pertinentes d'abord")})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1),
                              metadata={"description": f"Taille de page, plafonnée à {MAX_PER_PAGE}"})


class ReplySchema(Schema):
    """A public reply, or for staff an internal note (internal: true)."""

    body = Text(required=True, validate=validate.Length(min=1, max=20_000))
    internal = fields.Boolean(load_default=False)
    status = fields.String(load_default=None, allow_none=True, validate=_choice(Status),
                           metadata={"description": "Statut après une réponse publique de l'équipe"})


class StatusChangeSchema(Schema):
    """A status change, checked against the allowed transitions."""

    status = fields.String(required=True, validate=_choice(Status))
    reason = Text(load_default="", validate=validate.Length(max=500))


# -- documents -----------------------------------------------------------------------------------


class UserRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PolicySchema(Schema):
    name = fields.String()
    first_response_minutes = fields.Integer()
    resolution_minutes = fields.Integer()
    calendar = fields.Function(lambda p: p.calendar.name)


class TicketSchema(Schema):
    """A ticket as listed: identity, routing and the stored SLA due times and states."""

    reference = fields.String()
    subject = fields.String()
    status = fields.String()
    status_label = fields.String()
    priority = fields.String()
    channel = fields.String()
    topic = fields.Function(lambda t: t.topic.slug if t.topic else None)
    queue = fields.Function(lambda t: t.queue.slug)
    queue_name = fields.Function(lambda t: t.queue.name)
    assignee = fields.Nested(UserRefSchema, allow_none=True)
    requester_email = fields.String()
    requester_name = fields.String()
    project_reference = fields.String(allow_none=True)
    service_tier = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    first_responded_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    sla_policy = fields.Nested(PolicySchema, allow_none=True)
    sla_reason = fields.String()
    sla_state = fields.String(attribute="live_sla_state", metadata={"description": "État du délai à cet instant"})
    sla_paused = fields.Boolean()
    first_response_due_at = fields.AwareDateTime(allow_none=True)
    first_response_state = fields.String(attribute="live_first_response_state")
    resolution_due_at = fields.AwareDateTime(allow_none=True)
    resolution_state = fields.String(attribute="live_resolution_state")
    next_due_at = fields.AwareDateTime(allow_none=True)


class IntervalSchema(Schema):
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()


class SlaTargetSchema(Schema):
    """One SLA clock now: due and warning instants, state, business time elapsed and remaining."""

    target_seconds = fields.Integer()
    due_at = fields.AwareDateTime(allow_none=True)
    warn_at = fields.AwareDateTime(allow_none=True)
    state = fields.String(metadata={"description": "on_track, at_risk, breached, paused, met ou missed"})
    recorded_state = fields.String(metadata={"description": "État enregistré par le balayage"})
    elapsed_seconds = fields.Integer(metadata={"description": "Temps ouvré écoulé"})
    remaining_seconds = fields.Integer(metadata={"description": "Temps ouvré restant"})
    paused = fields.Boolean()
    stopped_at = fields.AwareDateTime(allow_none=True)
    reason = fields.String()
    paused_intervals = fields.List(fields.Nested(IntervalSchema))


class SlaDetailSchema(Schema):
    policy = fields.Nested(PolicySchema, allow_none=True)
    reason = fields.String()
    paused = fields.Boolean()
    first_response = fields.Nested(SlaTargetSchema, allow_none=True)
    resolution = fields.Nested(SlaTargetSchema, allow_none=True)


class MessageSchema(Schema):
    id = fields.Integer()
    author_kind = fields.String()
    author_name = fields.String()
    body = fields.String()
    internal = fields.Boolean()
    channel = fields.String()
    created_at = fields.AwareDateTime()


def _org_ref(org) -> dict | None:
    return {"id": org.id, "code": org.code, "name": org.name} if org is not None else None


class LinksSchema(Schema):
    """What the ticket is linked to (tickets.linking): project, establishment, laboratory, candidates."""

    project = fields.Function(lambda t: t.project.reference if t.project else None)
    organisation = fields.Function(lambda t: _org_ref(t.organisation))
    laboratory = fields.Function(lambda t: _org_ref(t.laboratory))
    person_known = fields.Function(lambda t: t.person_id is not None,
                                   metadata={"description": "Le demandeur est connu des systèmes métier"})
    tier_origin = fields.String(metadata={"description": "Niveau de service et d'où il vient"})
    candidates = fields.Raw(attribute="link_candidates", allow_none=True,
                            metadata={"description": "Projets et établissements à départager (identifiants)"})


class TicketDetailSchema(TicketSchema):
    """A ticket with its messages visible to the caller and both SLA clocks computed now."""

    sla = fields.Nested(SlaDetailSchema)
    links = fields.Nested(LinksSchema, attribute="ticket")
    messages = fields.List(fields.Nested(MessageSchema))


class PaginationSchema(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "Nombre de demandes (compté jusqu'à un plafond)"})
    total_capped = fields.Boolean(metadata={"description": "Vrai si le total dépasse le plafond de comptage"})
    pages = fields.Integer()
    next_page = fields.Integer(allow_none=True)
    prev_page = fields.Integer(allow_none=True)


class TicketPageSchema(Schema):
    items = fields.List(fields.Nested(TicketSchema))
    pagination = fields.Nested(PaginationSchema)


# -- what the views hand to the schemas ------------------------------------------------------------


def _clock_document(clock, recorded_state: str) -> dict:
    target, elapsed = int(clock.target.total_seconds()), int(clock.elapsed.total_seconds())
    return {
        "target_seconds": target,
        "due_at": clock.due_at, "warn_at": clock.warn_at, "state": clock.state, "recorded_state": recorded_state,
        "elapsed_seconds": elapsed,
        "remaining_seconds": max(target - elapsed, 0),  # whole seconds that add up to the target
        "paused": clock.paused, "stopped_at": clock.stopped_at, "reason": clock.reason(),
        "paused_intervals": [{"start": a, "end": b} for a, b in clock.paused_intervals],
    }


@dataclass
class TicketDocument:
    """A ticket with the messages its reader may see and its SLA clocks (attributes fall through)."""

    ticket: Ticket
    messages: list[Message]
    clocks: SlaView

    def __getattr__(self, name: str):
        return getattr(self.ticket, name)

    @property
    def sla(self) -> dict:
        document = {"policy": self.clocks.policy, "reason": self.ticket.sla_reason,
                    "paused": self.ticket.sla_paused}
        for target in TARGETS:
            clock = self.clocks.clocks.get(target)
            recorded = getattr(self.ticket, f"{target}_state")
            document[target] = _clock_document(clock, recorded) if clock is not None else None
        return document

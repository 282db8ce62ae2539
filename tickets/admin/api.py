"""JSON API under /api/v1/configuration: SLA policies, calendars, queues, topics and saved replies.

Staff tokens read; manager and administrator tokens create and update (PATCH: the fields given, over the current
values; ``active: false`` deactivates). A policy's or calendar's ``impact`` lists the open tickets its current
configuration changes, ``recompute`` recomputes their due times. Every change is versioned as on the pages.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, g
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from crm.core.api import problem_responses, register_api_blueprint, token_required
from crm.core.extensions import db
from crm.core.models import STAFF_ROLES, Role
from tickets.admin import services
from tickets.models import CannedResponse, Queue, SlaCalendar, SlaPolicy, Topic
from tickets.schemas import Text
from tickets.sla import DAY_KEYS

bp = Blueprint("tickets_admin_api", __name__, url_prefix="/configuration",
               description="Configuration : politiques de délai, calendriers, files, thèmes, réponses types.")

EDITORS = (Role.MANAGER, Role.ADMIN)
MAX_ITEMS = 1000


def _problems(*codes: int):
    return problem_responses(bp, *codes)


# -- schemas ----------------------------------------------------------------------------------------------------

_range = fields.List(Text(validate=validate.Length(max=5)), validate=validate.Length(equal=2))
_hours = fields.Dict(keys=fields.String(validate=validate.OneOf(DAY_KEYS)),
                     values=fields.List(_range, validate=validate.Length(max=12)),
                     metadata={"description": "Plages par jour : {\"mon\": [[\"09:00\", \"12:30\"], …]}"})


class ConfigQueueSchema(Schema):
    id = fields.Integer(dump_only=True)
    slug = Text(required=True, validate=validate.Length(min=1, max=50))
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    description = Text(load_default="", validate=validate.Length(max=2000))
    is_referent_group = fields.Boolean(load_default=False)
    manager = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    active = fields.Boolean(load_default=True)


class ConfigTopicSchema(Schema):
    id = fields.Integer(dump_only=True)
    slug = Text(required=True, validate=validate.Length(min=1, max=50))
    label = Text(required=True, validate=validate.Length(min=1, max=120))
    label_en = Text(load_default="", validate=validate.Length(max=120))
    default_queue = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))
    position = fields.Integer(load_default=0, validate=validate.Range(0, 10_000))
    active = fields.Boolean(load_default=True)


class ConfigCalendarSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    timezone = Text(load_default="Europe/Paris", validate=validate.Length(min=1, max=60))
    country = Text(load_default="FR", allow_none=True, validate=validate.OneOf(["FR"]),
                   metadata={"description": "Pays des jours fériés (FR), ou null : aucun"})
    subdivision = Text(load_default=None, allow_none=True, validate=validate.Length(max=10))
    hours = _hours
    closed_days = fields.List(Text(validate=validate.Length(equal=10)), load_default=list,
                              validate=validate.Length(max=2000), metadata={"description": "Dates AAAA-MM-JJ"})


class ConfigPolicySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    service_tier = Text(load_default=None, allow_none=True, validate=validate.Length(max=30))
    priority = Text(load_default=None, allow_none=True, validate=validate.Length(max=10))
    topic = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))
    queue = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))
    first_response_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(1, 525_600))
    resolution_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(1, 525_600))
    calendar = Text(required=True, validate=validate.Length(min=1, max=120),
                    metadata={"description": "Nom du calendrier"})
    at_risk_share = fields.Float(load_default=None, allow_none=True,
                                 validate=validate.Range(0, 1, min_inclusive=False, max_inclusive=False))
    escalation = fields.Dict(keys=fields.String(validate=validate.OneOf(list(services.ESCALATION_LABELS))),
                             values=fields.Boolean(), load_default=dict)
    active = fields.Boolean(load_default=True)


class SavedReplySchema(Schema):
    id = fields.Integer(dump_only=True)
    title = Text(required=True, validate=validate.Length(min=1, max=120))
    body = Text(required=True, validate=validate.Length(min=1, max=20_000))
    queue = Text(load_default=None, allow_none=True, validate=validate.Length(max=50))


class ConfigImpactSchema(Schema):
    reference = fields.String()
    subject = fields.String()
    policy_before = fields.String(allow_none=True)
    policy_after = fields.String(allow_none=True)
    first_response_due_before = fields.DateTime(allow_none=True)
    first_response_due_after = fields.DateTime(allow_none=True)
    resolution_due_before = fields.DateTime(allow_none=True)
    resolution_due_after = fields.DateTime(allow_none=True)


class ConfigPreviewSchema(Schema):
    count = fields.Integer(metadata={"description": "Demandes ouvertes dont la politique ou les échéances changent"})
    examined = fields.Integer()
    candidates = fields.Integer()
    items = fields.List(fields.Nested(ConfigImpactSchema))


class ConfigRecomputeSchema(Schema):
    recomputed = fields.Integer(metadata={"description": "Demandes ouvertes dont les échéances ont changé"})


class ConfigQueuePatchSchema(ConfigQueueSchema):
    """The fields to change (the others keep their current value)."""


class ConfigTopicPatchSchema(ConfigTopicSchema):
    """The fields to change (the others keep their current value)."""


class ConfigCalendarPatchSchema(ConfigCalendarSchema):
    """The fields to change (the others keep their current value)."""


class ConfigPolicyPatchSchema(ConfigPolicySchema):
    """The fields to change (the others keep their current value)."""


class SavedReplyPatchSchema(SavedReplySchema):
    """The fields to change (the others keep their current value)."""


# -- helpers ----------------------------------------------------------------------------------------------------


def _document(row) -> dict:
    return {"id": row.id, **services.snapshot(row)}


def _list(model, order):
    return [_document(r) for r in db.session.scalars(sa.select(model).order_by(order, model.id).limit(MAX_ITEMS))]


def _load(model, row_id: int):
    row = db.session.get(model, row_id)
    if row is None:
        abort(404, message="Élément introuvable.")
    return row


def _save(save, current, data: dict):
    try:
        return _document(save(current, services.data_from_document(current, data), by=g.api_user))
    except services.ConfigError as error:
        db.session.rollback()
        field = error.field if error.field else "_schema"
        abort(422, message=str(error), messages={"json": {field: [str(error)]}})


def _preview(row) -> dict:
    preview = services.preview_impact(row)
    return {"count": preview.count, "examined": preview.examined, "candidates": preview.candidates,
            "items": [{"reference": i.ticket.reference, "subject": i.ticket.subject,
                       "policy_before": i.policy_before, "policy_after": i.policy_after,
                       "first_response_due_before": i.due_before["first_response"],
                       "first_response_due_after": i.due_after["first_response"],
                       "resolution_due_before": i.due_before["resolution"],
                       "resolution_due_after": i.due_after["resolution"]} for i in preview.impacts[:MAX_ITEMS]]}


# -- SLA policies -------------------------------------------------------------------------------------------------


@bp.route("/policies", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.response(200, ConfigPolicySchema(many=True))
@_problems(401, 403)
def list_policies():
    """Lister les politiques de délai (actives ou non)."""
    return _list(SlaPolicy, SlaPolicy.name)


@bp.route("/policies", methods=["POST"])
@token_required(*EDITORS)
@bp.arguments(ConfigPolicySchema)
@bp.response(201, ConfigPolicySchema)
@_problems(400, 401, 403, 413, 422)
def create_policy(data: dict):
    """Créer une politique de délai (critères, délais en minutes ouvrées, calendrier, escalade)."""
    return _save(services.save_policy, None, data)


@bp.route("/policies/<int:row_id>", methods=["PATCH"])
@token_required(*EDITORS)
@bp.arguments(ConfigPolicyPatchSchema(partial=True))
@bp.response(200, ConfigPolicySchema)
@_problems(400, 401, 403, 404, 413, 422)
def update_policy(data: dict, row_id: int):
    """Modifier une politique de délai (les champs donnés) ; « active: false » la désactive."""
    return _save(services.save_policy, _load(SlaPolicy, row_id), data)


@bp.route("/policies/<int:row_id>/impact", methods=["GET"])
@token_required(*EDITORS)
@bp.response(200, ConfigPreviewSchema)
@_problems(401, 403, 404)
def policy_impact(row_id: int):
    """Demandes ouvertes dont la politique ou les échéances changent avec la configuration actuelle."""
    return _preview(_load(SlaPolicy, row_id))


@bp.route("/policies/<int:row_id>/recompute", methods=["POST"])
@token_required(*EDITORS)
@bp.response(200, ConfigRecomputeSchema)
@_problems(401, 403, 404)
def recompute_policy(row_id: int):
    """Recalculer les échéances des demandes ouvertes concernées (celles de « impact »)."""
    return {"recomputed": services.recompute_impact(_load(SlaPolicy, row_id), by=g.api_user)}


# -- calendars ------------------------------------------------------------------------------------------------------


@bp.route("/calendars", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.response(200, ConfigCalendarSchema(many=True))
@_problems(401, 403)
def list_calendars():
    """Lister les calendriers ouvrés."""
    return _list(SlaCalendar, SlaCalendar.name)


@bp.route("/calendars", methods=["POST"])
@token_required(*EDITORS)
@bp.arguments(ConfigCalendarSchema)
@bp.response(201, ConfigCalendarSchema)
@_problems(400, 401, 403, 413, 422)
def create_calendar(data: dict):
    """Créer un calendrier (heures par jour, jours fériés, jours de fermeture)."""
    return _save(services.save_calendar, None, data)


@bp.route("/calendars/<int:row_id>", methods=["PATCH"])
@token_required(*EDITORS)
@bp.arguments(ConfigCalendarPatchSchema(partial=True))
@bp.response(200, ConfigCalendarSchema)
@_problems(400, 401, 403, 404, 413, 422)
def update_calendar(data: dict, row_id: int):
    """Modifier un calendrier (les champs donnés)."""
    return _save(services.save_calendar, _load(SlaCalendar, row_id), data)


@bp.route("/calendars/<int:row_id>/impact", methods=["GET"])
@token_required(*EDITORS)
@bp.response(200, ConfigPreviewSchema)
@_problems(401, 403, 404)
def calendar_impact(row_id: int):
    """Demandes ouvertes dont les échéances changent avec ce calendrier."""
    return _preview(_load(SlaCalendar, row_id))


@bp.route("/calendars/<int:row_id>/recompute", methods=["POST"])
@token_required(*EDITORS)
@bp.response(200, ConfigRecomputeSchema)
@_problems(401, 403, 404)
def recompute_calendar(row_id: int):
    """Recalculer les échéances des demandes ouvertes concernées."""
    return {"recomputed": services.recompute_impact(_load(SlaCalendar, row_id), by=g.api_user)}


# -- queues, topics, saved replies ----------------------------------------------------------------------------------


@bp.route("/queues", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.response(200, ConfigQueueSchema(many=True))
@_problems(401, 403)
def list_queues():
    """Lister les files d'attente."""
    return _list(Queue, Queue.name)


@bp.route("/queues", methods=["POST"])
@token_required(*EDITORS)
@bp.arguments(ConfigQueueSchema)
@bp.response(201, ConfigQueueSchema)
@_problems(400, 401, 403, 413, 422)
def create_queue(data: dict):
    """Créer une file d'attente."""
    return _save(services.save_queue, None, data)


@bp.route("/queues/<int:row_id>", methods=["PATCH"])
@token_required(*EDITORS)
@bp.arguments(ConfigQueuePatchSchema(partial=True))
@bp.response(200, ConfigQueueSchema)
@_problems(400, 401, 403, 404, 413, 422)
def update_queue(data: dict, row_id: int):
    """Modifier une file (l'identifiant ne change pas)."""
    return _save(services.save_queue, _load(Queue, row_id), data)


@bp.route("/topics", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.response(200, ConfigTopicSchema(many=True))
@_problems(401, 403)
def list_topics():
    """Lister les thèmes."""
    return _list(Topic, Topic.position)


@bp.route("/topics", methods=["POST"])
@token_required(*EDITORS)
@bp.arguments(ConfigTopicSchema)
@bp.response(201, ConfigTopicSchema)
@_problems(400, 401, 403, 413, 422)
def create_topic(data: dict):
    """Créer un thème."""
    return _save(services.save_topic, None, data)


@bp.route("/topics/<int:row_id>", methods=["PATCH"])
@token_required(*EDITORS)
@bp.arguments(ConfigTopicPatchSchema(partial=True))
@bp.response(200, ConfigTopicSchema)
@_problems(400, 401, 403, 404, 413, 422)
def update_topic(data: dict, row_id: int):
    """Modifier un thème (l'identifiant ne change pas)."""
    return _save(services.save_topic, _load(Topic, row_id), data)


@bp.route("/saved-replies", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.response(200, SavedReplySchema(many=True))
@_problems(401, 403)
def list_replies():
    """Lister les réponses types."""
    return _list(CannedResponse, CannedResponse.title)


@bp.route("/saved-replies", methods=["POST"])
@token_required(*EDITORS)
@bp.arguments(SavedReplySchema)
@bp.response(201, SavedReplySchema)
@_problems(400, 401, 403, 413, 422)
def create_reply(data: dict):
    """Créer une réponse type (pour une file, ou toutes si queue est null)."""
    return _save(services.save_reply, None, data)


@bp.route("/saved-replies/<int:row_id>", methods=["PATCH"])
@token_required(*EDITORS)
@bp.arguments(SavedReplyPatchSchema(partial=True))
@bp.response(200, SavedReplySchema)
@_problems(400, 401, 403, 404, 413, 422)
def update_reply(data: dict, row_id: int):
    """Modifier une réponse type."""
    return _save(services.save_reply, _load(CannedResponse, row_id), data)


def init_app(app: Flask) -> None:
    """Register the configuration API under /api/v1/configuration."""
    register_api_blueprint(bp)

"""JSON API under /api/v1/annexes: list and read annexes, approve or ask for corrections, publish (agency).

A référent's token reaches only the annexes of their scope (404 otherwise, as the portal); staff tokens reach all.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from flask import Flask, g
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from crm.core.api import problem_responses, register_api_blueprint, token_required
from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.core.models import STAFF_ROLES
from crm.portal.scope import profiles_of
from crm.projects.models import Partner, Project
from tickets.annexes import budget, deadlines, history, queries, services
from tickets.annexes.models import AnnexState, FinancialAnnex

bp = Blueprint("annexes_api", __name__, url_prefix="/annexes",
               description="Annexes financières : liste, lecture avec versions, approbation ou demande de "
                           "corrections par le référent de l'établissement, publication par l'agence.")

LINE_NAMES = list(budget.LINES)
Amount = fields.Decimal(as_string=True, places=2)


def _problems(*codes: int):
    return problem_responses(bp, *codes)


class ListArgsSchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in AnnexState]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class FiguresSchema(Schema):
    staff = fields.Decimal(as_string=True)
    equipment = fields.Decimal(as_string=True)
    missions = fields.Decimal(as_string=True)
    subcontracting = fields.Decimal(as_string=True)
    overheads = fields.Decimal(as_string=True)
    requested_aid = fields.Decimal(as_string=True)
    rate = fields.Decimal(as_string=True)


class ChangeSchema(Schema):
    line = fields.String()
    before = fields.Decimal(as_string=True, allow_none=True)
    after = fields.Decimal(as_string=True)


class ReviewSchema(Schema):
    version = fields.Integer()
    decision = fields.String()
    reviewer = fields.Function(lambda r: r.reviewer.name if r.reviewer else None, allow_none=True)
    reviewed_at = fields.DateTime()
    digest = fields.String()
    comments = fields.Dict(keys=fields.String(), values=fields.String())
    comment = fields.String()


class VersionSchema(Schema):
    number = fields.Function(lambda v: v.version.number)
    published_at = fields.Function(lambda v: v.version.published_at.isoformat())
    digest = fields.Function(lambda v: v.version.digest)
    note = fields.Function(lambda v: v.version.note)
    figures = fields.Function(lambda v: FiguresSchema().dump(_figures(v.version)))
    changes = fields.List(fields.Nested(ChangeSchema))
    reviews = fields.List(fields.Nested(ReviewSchema))


def _figures(version) -> dict:
    return {line: getattr(version, line) for line in budget.LINES}


class AnnexSchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    project = fields.Function(lambda a: a.project.reference)
    partner_number = fields.Function(lambda a: a.partner.number)
    establishment = fields.Function(lambda a: a.partner.organisation.name)
    siret = fields.Function(lambda a: a.partner.organisation.siret, allow_none=True)
    state = fields.String()
    current_version = fields.Integer()
    due_on = fields.Date()
    digest = fields.Function(lambda a: a.version.digest)
    approved_at = fields.DateTime(allow_none=True)
    approved_version = fields.Integer(allow_none=True)
    approved_digest = fields.String(allow_none=True)


class AnnexPageSchema(Schema):
    items = fields.List(fields.Nested(AnnexSchema))
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()


class AnnexDetailSchema(AnnexSchema):
    figures = fields.Function(lambda a: FiguresSchema().dump(_figures(a.version)))
    versions = fields.Function(lambda a: VersionSchema(many=True).dump(history.annex_view(a).versions))


class ApprovalSchema(Schema):
    digest = fields.String(required=True, validate=validate.Length(equal=64),
                           metadata={"description": "Empreinte SHA-256 de la version lue (champ digest de l'annexe)"})


class CorrectionsSchema(ApprovalSchema):
    comments = fields.Dict(keys=fields.String(validate=validate.OneOf(LINE_NAMES)),
                           values=fields.String(validate=validate.Length(min=1, max=2000)), required=True,
                           metadata={"description": "Commentaire par ligne à corriger"})
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class PublishSchema(Schema):
    project = fields.String(required=True, validate=validate.Length(min=1, max=40))
    partner_number = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))
    staff = fields.Decimal(required=True, places=2, allow_nan=False)
    equipment = fields.Decimal(required=True, places=2, allow_nan=False)
    missions = fields.Decimal(required=True, places=2, allow_nan=False)
    subcontracting = fields.Decimal(required=True, places=2, allow_nan=False)
    overheads = fields.Decimal(required=True, places=2, allow_nan=False)
    requested_aid = fields.Decimal(required=True, places=2, allow_nan=False)
    rate = fields.Decimal(required=True, places=2, allow_nan=False)
    due_on = fields.Date(load_default=None, metadata={
        "description": "Date limite de réponse, un jour ouvré ; absente : dans 10 jours ouvrés"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))


def _is_staff() -> bool:
    return g.api_user.has_role(*STAFF_ROLES)


def _scoped(query: sa.Select) -> sa.Select:
    if _is_staff():
        return query
    profiles = profiles_of(g.api_user)
    return query.where(queries.referent_scope(queries.designations_of(g.api_user, profiles), profiles))


def _load(annex_id: int) -> FinancialAnnex:
    annex = db.session.scalar(_scoped(sa.select(FinancialAnnex).where(FinancialAnnex.id == annex_id)))
    if annex is None:
        abort(404, message="Annexe introuvable.")
    return annex


def _refused(error: services.AnnexError):
    location = {"json": {error.field: [str(error)]}} if error.field else None
    abort(error.status, message=str(error), **({"messages": location} if location else {}))


@bp.route("", methods=["GET"])
@token_required()
@bp.arguments(ListArgsSchema, location="query")
@bp.response(200, AnnexPageSchema)
@_problems(401, 422)
def list_annexes(args: dict):
    """Lister les annexes de votre périmètre, la date limite la plus proche en premier."""
    query = sa.select(FinancialAnnex).order_by(FinancialAnnex.due_on, FinancialAnnex.id)
    if args["state"]:
        query = query.where(FinancialAnnex.state == args["state"])
    page = db.paginate(_scoped(query), page=args["page"], per_page=args["per_page"], error_out=False)
    return {"items": page.items, "total": page.total, "page": page.page,
            "pages": max(math.ceil(page.total / args["per_page"]), 1)}


@bp.route("/<int:annex_id>", methods=["GET"])
@token_required()
@bp.response(200, AnnexDetailSchema)
@_problems(401, 404)
def get_annex(annex_id: int):
    """Lire une annexe : version en cours, empreinte, versions avec leurs différences et réponses."""
    return _load(annex_id)


@bp.route("/<int:annex_id>/approval", methods=["POST"])
@token_required()
@bp.arguments(ApprovalSchema)
@bp.response(200, AnnexDetailSchema)
@_problems(400, 401, 403, 404, 409, 413, 422)
def approve(data: dict, annex_id: int):
    """Approuver la version lue (son empreinte) ; 409 si l'annexe a changé ou n'attend pas de réponse."""
    if _is_staff():
        abort(403, message="Seul le référent désigné par l'établissement approuve une annexe.")
    annex = _load(annex_id)
    try:
        services.approve_annex(annex, by=g.api_user, digest=data["digest"])
    except services.AnnexError as error:
        _refused(error)
    return annex


@bp.route("/<int:annex_id>/corrections", methods=["POST"])
@token_required()
@bp.arguments(CorrectionsSchema)
@bp.response(200, AnnexDetailSchema)
@_problems(400, 401, 403, 404, 409, 413, 422)
def corrections(data: dict, annex_id: int):
    """Demander des corrections, avec un commentaire par ligne concernée."""
    if _is_staff():
        abort(403, message="Seul le référent désigné par l'établissement demande des corrections.")
    annex = _load(annex_id)
    try:
        services.request_corrections(annex, by=g.api_user, digest=data["digest"], comments=data["comments"],
                                     comment=data["comment"])
    except services.AnnexError as error:
        _refused(error)
    return annex


@bp.route("", methods=["POST"])
@token_required(*STAFF_ROLES)
@bp.arguments(PublishSchema)
@bp.response(201, AnnexDetailSchema)
@_problems(400, 401, 403, 404, 409, 413, 422)
def publish(data: dict):
    """Publier l'annexe d'un partenaire pour validation (première version ou nouvelle version) — agence."""
    partner = db.session.scalar(
        sa.select(Partner).join(Project, Project.id == Partner.project_id)
        .where(Project.reference == data["project"], Partner.number == data["partner_number"]))
    if partner is None:
        abort(404, message="Projet ou partenaire introuvable.")
    try:
        figures = budget.make_figures({line: data[line] for line in budget.LINES})
        today = paris_today()
        return services.publish_annex(partner, figures, due_on=data["due_on"] or deadlines.default_deadline(today),
                                      by=g.api_user, note=data["note"], today=today)
    except budget.BudgetError as error:
        abort(422, message="Montants invalides.", messages={"json": {k: [v] for k, v in error.errors.items()}})
    except services.AnnexError as error:
        _refused(error)


def init_app(app: Flask) -> None:
    register_api_blueprint(bp)

"""Portal API under /api/v1/portal: projects and indicators, limited to the token owner's scope."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from crm.core.api import problem_responses, token_required
from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.portal.queries import ZERO, ProjectCriteria, indicators, payment_totals, search_projects, visible_partners
from crm.portal.scope import partner_scope, profiles_of, project_in_scope
from crm.projects.models import PORTAL_STATES
from crm.projects.queries import project_amounts

bp = Blueprint("portal_api", __name__, url_prefix="/portal",
               description="Portail de suivi des projets : projets et indicateurs de votre périmètre.")


def _problems(*codes: int):
    """Document problem-details error responses (401 and 422 always) and Bearer security."""
    return problem_responses(bp, *codes)


class ProjectArgsSchema(Schema):
    call = fields.String(load_default=None, validate=validate.Length(max=40))
    acronym = fields.String(load_default=None, validate=validate.Length(max=60))
    reference = fields.String(load_default=None, validate=validate.Length(max=40))
    state = fields.String(load_default=None, validate=validate.OneOf([str(s) for s in PORTAL_STATES]))
    partner = fields.String(load_default=None, validate=validate.Length(max=120))
    start_from = fields.Date(load_default=None)
    end_before = fields.Date(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class ProjectSchema(Schema):
    reference = fields.String()
    acronym = fields.String()
    title = fields.String()
    call_code = fields.String()
    call_name = fields.String()
    call_year = fields.Integer(allow_none=True)
    state = fields.String()
    state_label = fields.String()
    decision_number = fields.String(allow_none=True)
    aid_granted = fields.Decimal(as_string=True, allow_none=True)
    paid = fields.Decimal(as_string=True)
    remaining = fields.Decimal(as_string=True)
    start_date = fields.Date(allow_none=True)
    scientific_end_date = fields.Date(allow_none=True)
    duration_months = fields.Integer(allow_none=True)


class ProjectPageSchema(Schema):
    items = fields.List(fields.Nested(ProjectSchema))
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()


class PaymentLineSchema(Schema):
    number = fields.Integer()
    label = fields.String()
    due_date = fields.Date(allow_none=True)
    amount = fields.Decimal(as_string=True)
    paid_amount = fields.Decimal(as_string=True)
    paid_on = fields.Date(allow_none=True)


class PartnerSchema(Schema):
    number = fields.Integer()
    is_coordinator = fields.Boolean()
    organisation = fields.Function(lambda p: p.organisation.name)
    siret = fields.Function(lambda p: p.organisation.siret)
    laboratory = fields.Function(lambda p: p.laboratory.name if p.laboratory else None)
    rnsr = fields.Function(lambda p: p.laboratory.rnsr if p.laboratory else None)
    payment_lines = fields.Method("_lines")

    def _lines(self, partner):
        if partner.id not in self.context_visible:
            return None
        return PaymentLineSchema(many=True).dump(partner.payment_lines)


class DeliverableSchema(Schema):
    code = fields.String()
    title = fields.String()
    due_date = fields.Date()
    submitted_on = fields.Date(allow_none=True)
    conditions_payment = fields.Boolean()


class ModificationSchema(Schema):
    number = fields.String()
    kind = fields.String()
    state = fields.String()
    submitted_on = fields.Date(allow_none=True)
    decided_on = fields.Date(allow_none=True)


class TeamMemberSchema(Schema):
    name = fields.Function(lambda m: m.person.full_name)
    role = fields.String()
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)


class AmountsSchema(Schema):
    """Aid granted, paid, and remaining = granted − paid."""

    granted = fields.Decimal(as_string=True)
    paid = fields.Decimal(as_string=True)
    remaining = fields.Decimal(as_string=True)


class ProjectAmountsSchema(Schema):
    project = fields.Nested(AmountsSchema, metadata={"description": "Ensemble du projet"})
    partners = fields.Nested(AmountsSchema, metadata={"description": "Partenaires de votre périmètre"})


class ProjectDetailSchema(ProjectSchema):
    amounts = fields.Nested(ProjectAmountsSchema)
    partners = fields.Method("_partners")
    team = fields.List(fields.Nested(TeamMemberSchema))
    deliverables = fields.List(fields.Nested(DeliverableSchema))
    modification_requests = fields.List(fields.Nested(ModificationSchema))

    def _partners(self, document):
        schema = PartnerSchema(many=True)
        schema.context_visible = document.visible
        return schema.dump(document.partners)


class IndicatorsSchema(Schema):
    projects = fields.Integer()
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer())
    late_deliverables = fields.Integer()
    submitted_deliverables = fields.Integer()
    aid_granted = fields.Decimal(as_string=True)
    paid = fields.Decimal(as_string=True)
    remaining = fields.Decimal(as_string=True)


class _Document:
    """A project with the amounts and partner visibility of the current user."""

    def __init__(self, project, paid, remaining, visible=frozenset()):
        self._project, self.paid, self.remaining, self.visible = project, paid, remaining, visible

    def __getattr__(self, name):
        return getattr(self._project, name)


@bp.route("/projects", methods=["GET"])
@token_required()
@bp.arguments(ProjectArgsSchema, location="query")
@bp.response(200, ProjectPageSchema)
@_problems()
def list_projects(args: dict):
    """Rechercher les projets de votre périmètre (hors projets clos et abandonnés)."""
    profiles = profiles_of(g.api_user)
    criteria = ProjectCriteria(call_code=args["call"], acronym=args["acronym"], reference=args["reference"],
                               state=args["state"], partner=args["partner"], start_from=args["start_from"],
                               end_before=args["end_before"])
    page = db.paginate(search_projects(profiles, criteria), page=args["page"], per_page=args["per_page"],
                       error_out=False)
    totals = payment_totals(profiles, [p.id for p in page.items])
    items = [_Document(p, *totals.get(p.id, (ZERO, ZERO))) for p in page.items]
    return {"items": items, "total": page.total, "page": page.page, "pages": page.pages}


@bp.route("/projects/<reference>", methods=["GET"])
@token_required()
@bp.response(200, ProjectDetailSchema)
@_problems(404)
def get_project(reference: str):
    """Lire la fiche d'un projet de votre périmètre (404 sinon)."""
    profiles = profiles_of(g.api_user)
    project = project_in_scope(profiles, reference)
    if project is None:
        abort(404, message="Projet introuvable dans votre périmètre.")
    paid, remaining = payment_totals(profiles, [project.id]).get(project.id, (ZERO, ZERO))
    document = _Document(project, paid, remaining, visible_partners(profiles, project))
    document.amounts = {"project": project_amounts(project),
                        "partners": project_amounts(project, partner_scope(profiles))}
    return document


@bp.route("/indicators", methods=["GET"])
@token_required()
@bp.response(200, IndicatorsSchema)
@_problems()
def get_indicators():
    """Indicateurs d'activité de votre périmètre : projets par état, livrables en retard et remis."""
    return indicators(profiles_of(g.api_user), paris_today())

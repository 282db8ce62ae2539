"""JSON API under /api/v1/organisations: an organisation's service tier and agency contact (managers, admins)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from crm.core.api import problem_responses, register_api_blueprint, token_required
from crm.core.extensions import db
from crm.core.models import STAFF_ROLES, Role, User
from crm.organisations import services
from crm.organisations.models import SERVICE_TIER_LABELS, Organisation

bp = Blueprint("crm_orgs_api", __name__, url_prefix="/organisations",
               description="Établissements : niveau de service et interlocuteur privilégié à l'agence.")


class OrganisationServiceSchema(Schema):
    service_tier = fields.String(allow_none=True, validate=validate.OneOf(list(SERVICE_TIER_LABELS)),
                                 metadata={"description": "Niveau propre (null : celui de l'établissement parent)"})
    effective_service_tier = fields.String(dump_only=True)
    agency_contact = fields.Email(allow_none=True, validate=validate.Length(max=254),
                                  metadata={"description": "Adresse d'un membre de l'équipe, ou null"})


class OrganisationServicePatchSchema(OrganisationServiceSchema):
    """The fields to change."""


def _document(org: Organisation) -> dict:
    return {**services.service_snapshot(org), "effective_service_tier": org.effective_service_tier}


def _load(org_id: int) -> Organisation:
    org = db.session.get(Organisation, org_id)
    if org is None:
        abort(404, message="Établissement introuvable.")
    return org


@bp.route("/<int:org_id>/service")
class OrganisationService(MethodView):
    """One rule for both methods: an out-of-range id is a 404 for each (not a 405 for the second rule)."""

    @token_required(*STAFF_ROLES)
    @bp.response(200, OrganisationServiceSchema)
    @problem_responses(bp, 401, 403, 404)
    def get(self, org_id: int):
        """Lire le niveau de service et l'interlocuteur privilégié d'un établissement."""
        return _document(_load(org_id))

    @token_required(Role.MANAGER, Role.ADMIN)
    @bp.arguments(OrganisationServicePatchSchema(partial=True))
    @bp.response(200, OrganisationServiceSchema)
    @problem_responses(bp, 400, 401, 403, 404, 413, 422)
    def patch(self, data: dict, org_id: int):
        """Changer le niveau de service ou l'interlocuteur privilégié (modification historisée)."""
        return _update(_load(org_id), data)


def _update(org: Organisation, data: dict) -> dict:
    tier = data.get("service_tier", org.service_tier)
    contact = org.agency_contact
    if "agency_contact" in data:
        email = data["agency_contact"]
        contact = (db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
                   if email else None)
        if email and contact is None:
            abort(422, message="Aucun compte pour cette adresse.",
                  messages={"json": {"agency_contact": ["Aucun compte pour cette adresse."]}})
    try:
        services.set_organisation_service(org, tier=tier, contact=contact, by=g.api_user)
    except services.ServiceError as error:
        db.session.rollback()
        abort(422, message=str(error), messages={"json": {error.field or "_schema": [str(error)]}})
    return _document(org)


def init_app(app: Flask) -> None:
    register_api_blueprint(bp)

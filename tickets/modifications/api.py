"""JSON API under /api/v1/modifications: list, draft, file, co-validate, the filer's messages, decide, export the
accepted changes.

Portal accounts see and act within their portal scope (404 outside it); staff see every request and decide.
Every refusal is a problem detail; a refused step writes nothing."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint, abort

from crm.core.api import problem_responses, token_required
from crm.core.extensions import db
from crm.core.models import STAFF_ROLES
from crm.portal.scope import profiles_of, project_in_scope
from tickets.attachments import AttachmentError, IncomingFile
from tickets.modifications import exports, queries, services
from tickets.modifications.models import ChangeRequest
from tickets.modifications.schemas import (
    AcceptedSchema,
    AgentActionSchema,
    CoValidationSchema,
    DraftSchema,
    FilerMessageSchema,
    ListArgsSchema,
    RequestPageSchema,
    RequestSchema,
    SubmitSchema,
    decode_document,
)
from tickets.modifications.services import ModificationError

bp = Blueprint("modifications_api", __name__, url_prefix="/modifications",
               description="Demandes de modification : brouillon, dépôt, co-validation, décision, export.")


def _problems(*codes: int):
    return problem_responses(bp, *codes)


def _staff() -> bool:
    return g.api_user.has_role(*STAFF_ROLES)


def _load(request_id: int) -> ChangeRequest:
    """The request the caller may see, else 404."""
    if _staff():
        item = db.session.get(ChangeRequest, request_id) if 0 < request_id < 2**31 else None
    else:
        item = queries.request_in_scope(profiles_of(g.api_user), g.api_user.id, request_id) \
            if 0 < request_id < 2**31 else None
    if item is None:
        abort(404, message="Demande de modification introuvable.")
    return item


def _refused(error: ModificationError | AttachmentError, status: int = 409):
    """A refusal as a problem detail, the errors by field under json (nothing was written)."""
    db.session.rollback()
    errors = getattr(error, "errors", {})
    abort(422 if errors else status, message=str(error), **({"messages": {"json": errors}} if errors else {}))


@bp.route("", methods=["GET"])
@token_required()
@bp.arguments(ListArgsSchema, location="query")
@bp.response(200, RequestPageSchema)
@_problems(401, 422)
def list_requests(args: dict):
    """Les demandes visibles (périmètre du portail, ou toutes pour l'équipe), les plus récentes d'abord."""
    user = g.api_user
    query = queries.all_requests() if _staff() else queries.portal_requests(profiles_of(user), user.id)
    if args.get("kind"):
        query = query.where(ChangeRequest.kind == args["kind"])
    if args.get("state"):
        query = query.where(ChangeRequest.state == args["state"])
    page, per_page = args["page"], args["per_page"]
    items = db.session.scalars(query.limit(per_page + 1).offset((page - 1) * per_page)).unique().all()
    return {"items": items[:per_page], "page": page, "per_page": per_page, "has_next": len(items) > per_page}


@bp.route("", methods=["POST"])
@token_required()
@bp.arguments(DraftSchema)
@bp.response(201, RequestSchema)
@_problems(400, 401, 403, 404, 413, 422)
def create_draft(data: dict):
    """Ouvrir un brouillon sur un projet du périmètre (responsable scientifique, coordinateur ou responsable
    administratif) ; les valeurs qui se lisent sont gardées."""
    profiles = profiles_of(g.api_user)
    project = project_in_scope(profiles, data["project_reference"])
    if project is None:
        abort(404, message="Projet introuvable (ou hors de votre périmètre).")
    try:
        item = services.start_draft(project, data["kind"], filer=g.api_user, person_id=profiles.person_id)
        services.save_draft(item, data["data"], by=g.api_user)
    except ModificationError as error:
        _refused(error, 403)
    return item


@bp.route("/<int:request_id>", methods=["GET"])
@token_required()
@bp.response(200, RequestSchema)
@_problems(401, 404)
def get_request(request_id: int):
    """Lire une demande de modification."""
    return _load(request_id)


@bp.route("/<int:request_id>/submit", methods=["POST"])
@token_required()
@bp.arguments(SubmitSchema)
@bp.response(200, RequestSchema)
@_problems(400, 401, 404, 409, 413, 422)
def submit(data: dict, request_id: int):
    """Déposer un brouillon avec ses documents (PDF en base 64, par type de document)."""
    item = _load(request_id)
    try:
        files = {slug: IncomingFile(d["filename"], decode_document(d), "application/pdf")
                 for slug, d in data["documents"].items()}
    except Exception as error:  # noqa: BLE001 - a bad base 64 body is the caller's error
        abort(422, message=str(error), messages={"json": {"documents": [str(error)]}})
    try:
        services.submit_request(item, data["data"] if data["data"] is not None else item.data, files,
                                by=g.api_user)
    except (ModificationError, AttachmentError) as error:
        _refused(error)
    return item


@bp.route("/<int:request_id>/co-validation", methods=["POST"])
@token_required()
@bp.arguments(CoValidationSchema)
@bp.response(200, RequestSchema)
@_problems(400, 401, 404, 409, 413, 422)
def co_validation(data: dict, request_id: int):
    """Co-valider (approve) ou renvoyer à son auteur (decline, avec un motif) : la personne désignée seulement."""
    item = _load(request_id)
    person_id = profiles_of(g.api_user).person_id
    try:
        if data["decision"] == "approve":
            services.co_validate(item, by=g.api_user, person_id=person_id)
        else:
            services.decline_co_validation(item, by=g.api_user, person_id=person_id, reason=data["reason"])
    except ModificationError as error:
        _refused(error)
    return item


@bp.route("/<int:request_id>/messages", methods=["POST"])
@token_required()
@bp.arguments(FilerMessageSchema)
@bp.response(200, RequestSchema)
@_problems(400, 401, 404, 409, 413, 422)
def filer_message(data: dict, request_id: int):
    """Écrire à l'agence (l'auteur de la demande) : répondre à une demande de compléments (le délai reprend), ou
    au sujet de la décision rendue (la demande est rouverte à l'agence, la décision reste acquise)."""
    item = _load(request_id)
    try:
        files = [IncomingFile(d["filename"], decode_document(d), "application/pdf") for d in data["documents"]]
    except Exception as error:  # noqa: BLE001 - a bad base 64 body is the caller's error
        abort(422, message=str(error), messages={"json": {"documents": [str(error)]}})
    try:
        services.write_to_agency(item, by=g.api_user, body=data["body"], files=files)
    except (ModificationError, AttachmentError) as error:
        _refused(error)
    return item


@bp.route("/<int:request_id>/actions", methods=["POST"])
@token_required(*STAFF_ROLES)
@bp.arguments(AgentActionSchema)
@bp.response(200, RequestSchema)
@_problems(400, 401, 403, 404, 409, 413, 422)
def agent_action(data: dict, request_id: int):
    """Instruire : demander des compléments, décider (motif obligatoire), enregistrer, clôturer."""
    item = _load(request_id)
    action, body = data["action"], data["body"]
    try:
        if action == "request_information":
            services.request_information(item, by=g.api_user, body=body)
        elif action == "record":
            services.record_request(item, by=g.api_user)
        elif action == "close":
            services.close_request(item, by=g.api_user)
        else:
            services.decide(item, action, by=g.api_user, reason=body)
    except ModificationError as error:
        _refused(error)
    return item


@bp.route("/accepted", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.response(200, AcceptedSchema)
@_problems(401, 403)
def accepted():
    """Exporter les modifications acceptées pour les systèmes de gestion (format décrit dans
    docs/modification-requests.md)."""
    items = db.session.scalars(queries.accepted_changes()).all()
    return {"format": exports.FORMAT, "items": [exports.accepted_record(i) for i in items]}

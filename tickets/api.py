"""JSON API under /api/v1: tickets (create, list, read with SLA, reply, change status, claim)."""

from __future__ import annotations

import math
import re

import sqlalchemy as sa
from flask import Flask, g
from flask_smorest import Blueprint, abort

from crm.core.api import problem_responses, register_api_blueprint, token_required
from crm.core.extensions import db
from crm.core.models import STAFF_ROLES, User
from crm.core.services import is_own_email
from tickets import queries, search, services, workflow
from tickets.models import ACTIVE_STATUSES, Channel, Priority, Queue, Status, Ticket, Topic
from tickets.schemas import (
    MAX_PER_PAGE,
    MessageSchema,
    ReplySchema,
    StatusChangeSchema,
    TicketCreateSchema,
    TicketDetailSchema,
    TicketDocument,
    TicketListArgsSchema,
    TicketPageSchema,
    TicketSchema,
)
from tickets.sla_tracking import ticket_clocks

bp = Blueprint("tickets_api", __name__, url_prefix="/tickets",
               description="Demandes : dépôt, liste, lecture avec délais (SLA), réponses, statut, prise en charge.")

REFERENCE_RE = re.compile(r"^DEM-\d{4}-\d{6,9}$", re.IGNORECASE)


def _problems(*codes: int):
    """Document problem-details error responses."""
    return problem_responses(bp, *codes)


def _is_staff(user: User) -> bool:
    return user.has_role(*STAFF_ROLES)


def _load(reference: str) -> Ticket:
    """The ticket the caller may see, or 404 (also for other requesters' tickets)."""
    ticket = services.ticket_by_reference(reference) if REFERENCE_RE.match(reference) else None
    user = g.api_user
    if ticket is None or not (_is_staff(user) or queries.requester_owns(user, ticket)):
        abort(404, message="Demande introuvable.")
    return ticket


def _document(ticket: Ticket) -> TicketDocument:
    messages = ticket.messages if _is_staff(g.api_user) else ticket.public_messages
    return TicketDocument(ticket=ticket, messages=list(messages), clocks=ticket_clocks(ticket))


def _field_error(field: str, message: str, status: int = 422):
    abort(status, message=message, messages={"json": {field: [message]}})


@bp.route("", methods=["POST"])
@token_required()
@bp.arguments(TicketCreateSchema)
@bp.response(201, TicketDetailSchema)
@_problems(400, 401, 403, 413, 422)
def create_ticket(data: dict):
    """Déposer une demande (canal « api »)."""
    user = g.api_user
    staff = _is_staff(user)
    if staff and not data["requester_email"]:
        _field_error("requester_email", "L'adresse du demandeur est obligatoire.")
    if not staff:
        if data["requester_email"] and not is_own_email(user, data["requester_email"]):
            _field_error("requester_email", "Un demandeur ne peut déposer une demande qu'en son nom.")
        if data["priority"] != Priority.NORMAL:
            _field_error("priority", "La priorité est fixée par l'équipe.")
    try:
        ticket, _key = workflow.create_ticket(
            subject=data["subject"], body=data["body"], requester=None if staff else user,
            requester_email=data["requester_email"] if staff else user.email,
            requester_name=data["requester_name"], topic=data["topic"], priority=data["priority"],
            project_reference=data["project_reference"], channel=Channel.API, actor=user,
        )
    except services.TicketError as error:
        abort(422, message=str(error))
    return _document(ticket)


@bp.route("", methods=["GET"])
@token_required(*STAFF_ROLES)
@bp.arguments(TicketListArgsSchema, location="query")
@bp.response(200, TicketPageSchema)
@_problems(401, 403, 422)
def list_tickets(args: dict):
    """Lister les demandes (actives par défaut), filtrées et triées par échéance."""
    filters = queries.QueueFilters(
        statuses=_statuses(args.get("status")),
        priorities=(args["priority"],) if args.get("priority") else (),
        queue_ids=_ids(Queue, "queue", args.get("queue")),
        topic_ids=_ids(Topic, "topic", args.get("topic")),
        assignee=args.get("assignee"), viewer_id=g.api_user.id,
        sla_state=args.get("sla_state"), search=args.get("q", ""),
    )
    per_page = min(args["per_page"], MAX_PER_PAGE)
    if _full_text(filters.search):
        return _search_page(filters, args["page"], per_page)
    page = queries.list_tickets(filters, page=args["page"], per_page=per_page, count=True)
    pages = max(math.ceil(page.total / per_page), 1)
    return {
        "items": page.items,
        "pagination": {"page": page.page, "per_page": per_page, "total": page.total, "pages": pages,
                       "total_capped": page.total_capped,
                       "next_page": page.next_num if page.has_next else None,
                       "prev_page": page.prev_num if page.has_prev else None},
    }


def _full_text(text: str) -> bool:
    """Words are searched in full text; a reference (DEM-…) or an address keeps its exact match."""
    text = text.strip()
    return bool(text) and not text.upper().startswith("DEM-") and "@" not in text


def _search_page(filters: queries.QueueFilters, number: int, per_page: int) -> dict:
    """The full-text search's page, best match first; total is the matches counted up to the ranked window."""
    try:
        page = search.search_tickets(filters.search, filters.with_(statuses=filters.statuses or ACTIVE_STATUSES),
                                     page=number, per_page=per_page)
    except search.SearchError as error:
        abort(422, message=str(error), messages={"query": {"q": [str(error)]}})
    return {
        "items": [hit.ticket for hit in page.hits],
        "pagination": {"page": page.page, "per_page": per_page, "total": page.matches,
                       "pages": max(math.ceil(page.matches / per_page), 1), "total_capped": page.window_full,
                       "next_page": page.page + 1 if page.has_next else None,
                       "prev_page": page.page - 1 if page.has_prev else None},
    }


def _statuses(value: str | None) -> tuple[str, ...]:
    if value is None or value == "active":
        return ()
    if value == "all":
        return tuple(Status)
    return (value,)


def _ids(model, field: str, slug: str | None) -> tuple[int, ...]:
    if not slug:
        return ()
    row_id = db.session.scalar(sa.select(model.id).where(model.slug == slug))
    if row_id is None:
        abort(422, message=f"Valeur inconnue pour {field} : {slug}.", messages={"query": {field: ["Inconnu."]}})
    return (row_id,)


@bp.route("/<reference>", methods=["GET"])
@token_required()
@bp.response(200, TicketDetailSchema)
@_problems(401, 404)
def get_ticket(reference: str):
    """Lire une demande avec ses messages et ses délais (échéances, temps ouvré écoulé et restant)."""
    return _document(_load(reference))


@bp.route("/<reference>/replies", methods=["POST"])
@token_required()
@bp.arguments(ReplySchema)
@bp.response(201, MessageSchema)
@_problems(400, 401, 403, 404, 409, 413, 422)
def reply(data: dict, reference: str):
    """Répondre (ou, pour l'équipe, ajouter une note interne avec internal: true)."""
    ticket = _load(reference)
    user = g.api_user
    try:
        if not _is_staff(user):
            if data["internal"] or data["status"]:
                abort(403, message="Les notes internes et les changements de statut sont réservés à l'équipe.")
            return workflow.add_requester_reply(ticket, body=data["body"], author=user, channel=Channel.API)
        if data["internal"]:
            return services.add_internal_note(ticket, author=user, body=data["body"])
        return services.reply_to_ticket(ticket, author=user, body=data["body"], next_status=data["status"],
                                        channel=Channel.API)
    except services.TicketError as error:
        abort(409, message=str(error))


@bp.route("/<reference>/status", methods=["POST"])
@token_required(*STAFF_ROLES)
@bp.arguments(StatusChangeSchema)
@bp.response(200, TicketDetailSchema)
@_problems(400, 401, 403, 404, 409, 413, 422)
def change_status(data: dict, reference: str):
    """Changer le statut selon les transitions permises (l'horloge SLA se suspend ou reprend)."""
    ticket = _load(reference)
    try:
        services.change_status(ticket, data["status"], by=g.api_user, reason=data["reason"])
    except services.TicketError as error:
        abort(409, message=str(error))
    return _document(ticket)


@bp.route("/<reference>/claim", methods=["POST"])
@token_required(*STAFF_ROLES)
@bp.response(200, TicketSchema)
@_problems(401, 403, 404, 409)
def claim(reference: str):
    """Prendre en charge une demande non attribuée ; si un autre agent l'a déjà prise : 409."""
    ticket = _load(reference)
    user = g.api_user
    if ticket.assignee_id == user.id:
        return ticket
    if not services.claim_ticket(ticket, user):
        abort(409, message="Cette demande est déjà prise en charge par un autre membre de l'équipe.")
    return ticket


def init_app(app: Flask) -> None:
    """Register the tickets API blueprint under /api/v1."""
    register_api_blueprint(bp)

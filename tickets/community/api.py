"""JSON API under /api/v1/community: the experts' questions (anonymised), proposing an answer, endorsing one.

The same scope as the pages (tickets.community.queries): a token whose user is no expert gets 403, a question out of
the space 404. Moderation stays on the pages (a référent reads the request there).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

from flask import Flask, g
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from crm.core.api import problem_responses, register_api_blueprint, token_required
from crm.core.extensions import db
from tickets.community import queries, services
from tickets.community.models import CommunityAnswer
from tickets.services import topic_with_slug

bp = Blueprint("community_api", __name__, url_prefix="/community",
               description="Communauté d'experts des établissements : questions ouvertes (anonymisées), réponses "
                           "proposées et soutiens. Réservé aux experts désignés et aux référents.")


def _problems(*codes: int):
    return problem_responses(bp, *codes)


class ListArgsSchema(Schema):
    topic = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                          metadata={"description": "Thème (son identifiant, ex. « soumission »)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class QuestionSchema(Schema):
    id = fields.Integer()
    subject = fields.String()
    topic = fields.Function(lambda q: q.topic.slug if q.topic else None, allow_none=True)
    opened_at = fields.DateTime(allow_none=True)
    answers = fields.Integer(metadata={"description": "Nombre de réponses proposées"})


class QuestionPageSchema(Schema):
    items = fields.List(fields.Nested(QuestionSchema))
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()


class AnswerSchema(Schema):
    id = fields.Integer()
    author = fields.String(attribute="author_name")
    establishment = fields.String(attribute="establishment_name")
    state = fields.String()
    body = fields.String()
    endorsements = fields.Function(lambda a: len(a.endorsements))
    created_at = fields.DateTime()


class QuestionDetailSchema(QuestionSchema):
    body = fields.String()
    proposed = fields.List(fields.Nested(AnswerSchema))


class NewAnswerSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=services.ANSWER_MIN, max=services.ANSWER_MAX))


def _expert() -> None:
    if not queries.is_expert(g.api_user):
        abort(403, message="Réservé aux experts de la communauté.")


def _question(question_id: int):
    question = queries.visible_question(question_id)
    if question is None:
        abort(404, message="Question introuvable ou plus ouverte à la communauté.")
    return question


def _detail(question) -> SimpleNamespace:
    view = queries.anonymous(question, queries.question_text(question))
    return SimpleNamespace(**vars(view), proposed=list(question.answers))


@bp.route("/questions", methods=["GET"])
@token_required()
@bp.arguments(ListArgsSchema, location="query")
@bp.response(200, QuestionPageSchema)
@_problems(401, 403, 422)
def list_questions(args: dict):
    """Lister les questions ouvertes à la communauté, anonymisées, la plus récente en premier."""
    _expert()
    topic = topic_with_slug(args["topic"]) if args["topic"] else None
    if args["topic"] and topic is None:
        abort(422, message="Thème inconnu.", messages={"query": {"topic": ["Thème inconnu."]}})
    page = db.paginate(queries.open_questions(topic.id if topic else None), page=args["page"],
                       per_page=args["per_page"], error_out=False)
    return {"items": [queries.anonymous(q) for q in page.items], "total": page.total, "page": page.page,
            "pages": max(math.ceil(page.total / args["per_page"]), 1)}


@bp.route("/questions/<int:question_id>", methods=["GET"])
@token_required()
@bp.response(200, QuestionDetailSchema)
@_problems(401, 403, 404, 422)
def get_question(question_id: int):
    """Lire une question anonymisée et les réponses proposées."""
    _expert()
    return _detail(_question(question_id))


@bp.route("/questions/<int:question_id>/answers", methods=["POST"])
@token_required()
@bp.arguments(NewAnswerSchema)
@bp.response(201, AnswerSchema)
@_problems(400, 401, 403, 404, 413, 422)
def propose(data: dict, question_id: int):
    """Proposer une réponse ; un référent la relit avant de la transmettre au demandeur."""
    _expert()
    question = _question(question_id)
    try:
        return services.propose_answer(question, author=g.api_user, body=data["body"])
    except services.CommunityError as error:
        abort(422, message=str(error), messages={"json": {"body": [str(error)]}})


@bp.route("/answers/<int:answer_id>/endorsement", methods=["POST"])
@token_required()
@bp.response(200, AnswerSchema)
@_problems(401, 403, 404, 409, 422)
def endorse(answer_id: int):
    """Soutenir (+1) la réponse d'un autre expert ; 409 pour sa propre réponse ou une réponse déjà modérée."""
    _expert()
    answer = db.session.get(CommunityAnswer, answer_id)
    if answer is None or queries.visible_question(answer.question_id) is None:
        abort(404, message="Réponse introuvable ou question plus ouverte à la communauté.")
    try:
        services.endorse_answer(answer, by=g.api_user)
    except services.CommunityError as error:
        abort(409, message=str(error))
    return answer


def init_app(app: Flask) -> None:
    register_api_blueprint(bp)

"""JSON API under /api/v1: search the knowledge base, get a triage decision for a text (nothing is created)."""

from __future__ import annotations

from flask import Flask, url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from crm.core.api import problem_responses, register_api_blueprint, token_required
from crm.core.models import STAFF_ROLES
from expert import services
from expert.rules import PROFILES, PROJECT_STATES

bp = Blueprint("expert_api", __name__, description="Module expert : recherche dans la base de connaissances, tri.")


def _problems(*codes: int):
    """Document problem-details error responses."""
    return problem_responses(bp, *codes)


class SearchArgsSchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=500),
                      metadata={"description": "Texte de la question"})
    k = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))
    call = fields.String(load_default=None, validate=validate.Length(max=40),
                         metadata={"description": "Code de l'appel à projets"})


class ArticleHitSchema(Schema):
    id = fields.String(metadata={"description": "Identifiant externe de l'article"})
    question = fields.String()
    answer = fields.String(metadata={"description": "Réponse (Markdown)"})
    topic = fields.String(allow_none=True)
    calls = fields.List(fields.String())
    url = fields.String()
    score = fields.Float()
    confidence = fields.Float()


class SearchResultSchema(Schema):
    query = fields.String()
    results = fields.List(fields.Nested(ArticleHitSchema))


class TriageInputSchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(load_default="", validate=validate.Length(max=20000))
    topic = fields.String(load_default=None, validate=validate.Length(max=50))
    call = fields.String(load_default=None, validate=validate.Length(max=40))
    profile = fields.String(load_default="anonymous", validate=validate.OneOf(PROFILES))
    project_state = fields.String(load_default=None, validate=validate.OneOf(PROJECT_STATES))


class RuleHitSchema(Schema):
    code = fields.String()
    name = fields.String()
    reasons = fields.List(fields.String())
    actions = fields.Dict()
    stop = fields.Boolean()
    explanation = fields.String()


class CandidateSchema(Schema):
    article_id = fields.Raw(attribute="external_id", metadata={"description": "Identifiant externe de l'article"})
    title = fields.String()
    score = fields.Float()
    confidence = fields.Float()


class DecisionSchema(Schema):
    action = fields.String(metadata={"description": "auto_answered, routed ou human"})
    route_to = fields.String(allow_none=True)
    priority = fields.String(allow_none=True)
    topic = fields.String(allow_none=True)
    require_human = fields.Boolean()
    article_id = fields.Function(
        lambda d: next((c.external_id for c in d.candidates if c.article_id == d.article_id), None),
        metadata={"description": "Article de la réponse automatique (identifiant externe)"})
    confidence = fields.Float()
    rules = fields.List(fields.Nested(RuleHitSchema), attribute="hits")
    explanations = fields.List(fields.String())
    candidates = fields.List(fields.Nested(CandidateSchema))


@bp.route("/kb/search", methods=["GET"])
@token_required()
@bp.arguments(SearchArgsSchema, location="query")
@bp.response(200, SearchResultSchema)
@_problems(401, 422)
def search(args):
    """Search the published articles; the best first, with a confidence in [0, 1]."""
    candidates, articles = services.search_candidates(args["q"], call=args["call"], k=args["k"])
    results = []
    for c in candidates:
        article = articles[c.article_id]
        results.append({"id": article.external_id, "question": article.question, "answer": article.answer,
                        "topic": article.topic, "calls": list(article.calls or ()), "score": c.score,
                        "confidence": c.confidence,
                        "url": url_for("kb.article", external_id=article.external_id, _external=True)})
    return {"query": args["q"], "results": results}


@bp.route("/triage", methods=["POST"])
@token_required(*STAFF_ROLES)
@bp.arguments(TriageInputSchema)
@bp.response(200, DecisionSchema)
@_problems(400, 401, 403, 413, 422)
def triage(data):
    """The decision the rules would take for this text: rules fired and why, candidates, action. Creates nothing."""
    return services.try_question(data["subject"], data["body"], topic=data["topic"], call=data["call"],
                                 profile=data["profile"], project_state=data["project_state"])


def init_app(app: Flask) -> None:
    """Register the expert API blueprint under /api/v1."""
    register_api_blueprint(bp)

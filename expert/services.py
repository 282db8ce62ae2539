"""Triage of new tickets: candidate articles, rules, the stored decision, its actions and the requester's answer."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from crm.extensions import db, utcnow
from crm.models import User
from expert import rules as rules_engine
from expert import signals
from expert.models import Outcome, ReferentProfile, TriageDecision
from expert.ruleset import compiled_rules
from tickets import services as tickets
from tickets.models import (
    ACTIVE_STATUSES,
    PRIORITY_LABELS,
    AuthorKind,
    Message,
    Queue,
    QueueMember,
    Status,
    Ticket,
    Topic,
)

log = logging.getLogger(__name__)

AUTO_ANSWER_AUTHOR = "Guichet — réponse automatique"


# --- Candidates and questions --------------------------------------------------------------------


def search_candidates(text: str, *, call: str | None = None, k: int = 5) -> tuple[list[rules_engine.Candidate], dict]:
    """The best articles for a text as rule candidates, and the articles by id; empty if the base is unavailable."""
    from knowledge_base.index import search_articles

    try:
        results = search_articles(text, k=k, call=call)
    except Exception:  # the knowledge base must never stop a request from being filed
        log.exception("knowledge-base search failed during triage")
        return [], {}
    candidates = [
        rules_engine.Candidate(article_id=article.id, title=article.question, score=round(float(match.score), 4),
                               confidence=round(float(match.confidence), 4), matched_text=match.matched_text,
                               external_id=article.external_id)
        for article, match in results
    ]
    return candidates, {article.id: article for article, _match in results}


def requester_profiles(user: User | None) -> frozenset[str]:
    """The profile names rules test: anonymous or requester (and staff), plus the portal profiles held."""
    if user is None:
        return frozenset({"anonymous"})
    from crm.models_projects import Partner, Project
    from crm.scope import load_profiles

    names = {"requester"}
    if user.is_staff:
        names.add("staff")
    profiles = load_profiles(user)
    for flag, name in ((profiles.sirens, "headquarters"), (profiles.sirets, "entity"),
                       (profiles.rnsrs, "lab_director")):
        if flag:
            names.add(name)
    if profiles.person_id is not None:
        person = profiles.person_id
        checks = {
            "coordinator": sa.select(Project.id).where(Project.coordinator_id == person),
            "scientific_lead": sa.select(Partner.id).where(Partner.scientific_lead_id == person),
            "administrative_lead": sa.select(Partner.id).where(Partner.administrative_lead_id == person),
        }
        for name, query in checks.items():
            if db.session.scalar(query.limit(1)) is not None:
                names.add(name)
    return frozenset(names)


def project_context(reference: str | None) -> tuple[str | None, str | None]:
    """(call code, project state) of the project a ticket is about, when known."""
    if not reference:
        return None, None
    from crm.models_projects import Project

    row = db.session.execute(
        sa.select(Project.call_code, Project.state).where(Project.reference == reference.strip())
    ).first()
    return (row.call_code, row.state) if row else (None, None)


def labels() -> dict[str, str]:
    """Names shown in explanations for queue, topic and priority slugs."""
    names = {str(k): v.lower() for k, v in PRIORITY_LABELS.items()}
    names.update({slug: label for slug, label in db.session.execute(sa.select(Topic.slug, Topic.label))})
    names.update({slug: name for slug, name in db.session.execute(sa.select(Queue.slug, Queue.name))})
    return names


def evaluate_question(question: rules_engine.Question) -> tuple[int | None, rules_engine.Decision]:
    """Run the current rule set on a question; returns the rule-set version and the decision."""
    version, rule_set = compiled_rules()
    threshold = float(current_app.config["KB_AUTO_ANSWER_CONFIDENCE"])
    return version, rules_engine.evaluate(rule_set, question, threshold=threshold, labels=labels())


def try_question(subject: str, body: str = "", *, topic: str | None = None, call: str | None = None,
                 profile: str | None = None, project_state: str | None = None,
                 channel: str | None = None) -> rules_engine.Decision:
    """Triage a sample question without creating anything (admin « try it » page and API)."""
    question = rules_engine.Question(subject=subject, body=body, topic=topic or None, call=call or None,
                                     profiles=frozenset({profile or "anonymous"}),
                                     project_state=project_state or None, channel=channel or None)
    question.candidates, _articles = search_candidates(question.text, call=question.call)
    return evaluate_question(question)[1]


# --- Triage of a new ticket -----------------------------------------------------------------------


def triage_ticket(ticket: Ticket, message: Message | None = None, *, now: datetime | None = None) -> TriageDecision:
    """Decide what to do with a new ticket, store the decision and apply its actions."""
    now = now or ticket.created_at or utcnow()
    body = message.body if message is not None else ""
    call, state = project_context(ticket.project_reference)
    question = rules_engine.Question(
        subject=ticket.subject, body=body, topic=ticket.topic.slug if ticket.topic else None, call=call,
        profiles=requester_profiles(ticket.requester), project_state=state, channel=ticket.channel,
        today=now.date(),
    )
    question.candidates, articles = search_candidates(question.text, call=call)
    version, decision = evaluate_question(question)
    record = TriageDecision(
        ticket=ticket, question=question.text[:4000], rule_set_version=version,
        rules_matched=decision.to_dict()["rules"], notes=list(decision.notes),
        candidates=[asdict(c) for c in decision.candidates][:5], action=decision.action,
        route_to=decision.route_to, confidence=decision.confidence, decided_at=now, outcome=decision.action,
    )
    db.session.add(record)
    _apply(ticket, decision, record, articles, now)
    if decision.hits:  # the decision row is the full record; the audit trail notes only rules that fired
        tickets.record_event(ticket, "triage", None, at=now, action=record.action, rules=decision.rules_matched,
                             article=record.article_id, confidence=record.confidence)
    db.session.flush()
    return record


def _apply(ticket: Ticket, decision: rules_engine.Decision, record: TriageDecision, articles: dict,
           now: datetime) -> None:
    topic = db.session.scalar(sa.select(Topic).where(Topic.slug == decision.topic)) if decision.topic else None
    queue = db.session.scalar(sa.select(Queue).where(Queue.slug == decision.route_to)) if decision.route_to else None
    if decision.topic and topic is None:
        record.notes = [*record.notes, f"thème « {decision.topic} » inconnu : ignoré"]
    if decision.route_to and queue is None:
        record.notes = [*record.notes, f"file « {decision.route_to} » inconnue : orientation ignorée"]
        record.action = record.outcome = Outcome.HUMAN if record.action == Outcome.ROUTED else record.action
    if queue is None and topic is not None and topic.default_queue is not None:
        queue = topic.default_queue
    tickets.update_ticket(ticket, by=None, priority=decision.priority, topic=topic, queue=queue, now=now)
    article = articles.get(decision.article_id) if decision.action == Outcome.AUTO_ANSWERED else None
    if article is not None:
        record.article_id = article.id
        auto_answer(ticket, article, now=now)
    elif decision.action == Outcome.AUTO_ANSWERED:
        record.action = record.outcome = Outcome.HUMAN
    if record.action == Outcome.ROUTED and ticket.queue.is_referent_group:
        referent = pick_referent(ticket.queue)
        if referent is not None:
            tickets.assign_ticket(ticket, referent, by=None, now=now)


def markdown_to_text(markdown: str) -> str:
    """Readable plain text from an article's Markdown (links kept as « text (url) »)."""
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", r"\1", markdown)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1 (\2)", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])", r"\1", text)
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*[*+]\s+", "- ", text, flags=re.MULTILINE)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    return text.strip()


def auto_answer_body(article) -> str:
    """The public message that answers the requester from an article."""
    return "\n\n".join([
        "Bonjour,",
        "Votre question correspond à un article de notre base de connaissances :",
        f"« {article.question} »",
        markdown_to_text(article.answer),
        "Si cette réponse vous convient, indiquez-le depuis la page de suivi de votre demande "
        "(« Cela répond à ma question »). Sinon, choisissez « J'ai besoin d'un conseiller » : "
        "un conseiller prendra votre demande en charge.",
        "Le service d'accompagnement de l'agence",
    ])


def auto_answer(ticket: Ticket, article, *, now: datetime) -> Message:
    """Answer the ticket from an article: a public system message and the « auto_answered » status."""
    message = Message(ticket=ticket, author_kind=AuthorKind.SYSTEM, author_name=AUTO_ANSWER_AUTHOR,
                      body=auto_answer_body(article), internal=False, created_at=now)
    db.session.add(message)
    tickets.record_event(ticket, "auto_answer", None, at=now, article=article.external_id)
    tickets.change_status(ticket, Status.AUTO_ANSWERED, by=None, now=now, reason="réponse automatique")
    return message


def latest_decision(ticket: Ticket) -> TriageDecision | None:
    return db.session.scalar(
        sa.select(TriageDecision).where(TriageDecision.ticket_id == ticket.id)
        .order_by(TriageDecision.id.desc()).limit(1)
    )


def pick_referent(queue: Queue) -> User | None:
    """The available référent of the group with the fewest active tickets (ties: lowest id), under max load."""
    load = (
        sa.select(sa.func.count(Ticket.id))
        .where(Ticket.assignee_id == User.id, Ticket.status.in_(ACTIVE_STATUSES))
        .correlate(User).scalar_subquery()
    )
    profiles = db.session.execute(
        sa.select(ReferentProfile, load).join(User, User.id == ReferentProfile.user_id)
        .where(ReferentProfile.group_id == queue.id, User.active.is_(True))
        .order_by(load, User.id)
    ).all()
    if profiles:
        for profile, active in profiles:
            if profile.available and (not profile.max_load or active < profile.max_load):
                return profile.user
        return None
    members = db.session.scalars(
        sa.select(User).join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue.id, User.active.is_(True)).order_by(load, User.id).limit(1)
    ).first()
    return members


# --- Référents and agents' suggestions ---------------------------------------------------------------


def active_loads() -> dict[int, int]:
    """Active tickets per assignee."""
    rows = db.session.execute(
        sa.select(Ticket.assignee_id, sa.func.count()).where(Ticket.assignee_id.is_not(None),
                                                              Ticket.status.in_(ACTIVE_STATUSES))
        .group_by(Ticket.assignee_id)
    )
    return {user_id: n for user_id, n in rows}


def save_referent_profile(user: User, *, group_id: int | None, topics: list[str], calls: list[str],
                          available: bool, max_load: int) -> ReferentProfile:
    """Create or update a référent's group, expertise and availability."""
    profile = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == user.id))
    if profile is None:
        profile = ReferentProfile(user=user)
        db.session.add(profile)
    group = db.session.get(Queue, group_id) if group_id else None
    if group is not None and not group.is_referent_group:
        raise tickets.TicketError("Cette file n'est pas un groupe de référents.")
    profile.group = group
    profile.topics = sorted({t.strip().lower() for t in topics if t.strip()})
    profile.calls = sorted({c.strip().upper() for c in calls if c.strip()})
    profile.available = available
    profile.max_load = max_load
    db.session.flush()
    return profile


def suggested_articles(ticket: Ticket, decision: TriageDecision | None = None, k: int = 3) -> list[tuple]:
    """(article, candidate) pairs for the agent: a fresh search on the ticket's first message."""
    first = next((m for m in ticket.messages if not m.internal), None)
    text = f"{ticket.subject}\n{first.body if first else ''}"
    call, _state = project_context(ticket.project_reference)
    candidates, articles = search_candidates(text, call=call, k=k)
    return [(articles[c.article_id], c) for c in candidates if c.article_id in articles]


# --- The requester's answer to an automatic reply ---------------------------------------------------


def _waiting_decision(ticket: Ticket) -> TriageDecision:
    decision = latest_decision(ticket)
    if ticket.status != Status.AUTO_ANSWERED or decision is None or decision.outcome != Outcome.AUTO_ANSWERED:
        raise tickets.TicketError("Cette demande n'attend plus de réponse sur la proposition automatique.")
    return decision


def confirm_answer(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> TriageDecision:
    """The requester says the automatic answer solved it: resolved, counted as deflected."""
    now = now or utcnow()
    decision = _waiting_decision(ticket)
    tickets.record_event(ticket, "auto_answer_confirmed", by, at=now)
    tickets.resolve_ticket(ticket, by=by, now=now)
    decision.outcome, decision.outcome_at = Outcome.DEFLECTED, now
    db.session.flush()
    signals.answer_confirmed.send(ticket, decision=decision)
    return decision


def ask_advisor(ticket: Ticket, *, by: User | None, now: datetime | None = None) -> TriageDecision:
    """The requester wants a person: open, routed to the rule's group or the topic's queue; SLA from submission."""
    now = now or utcnow()
    decision = _waiting_decision(ticket)
    queue = None
    if decision.route_to:
        queue = db.session.scalar(sa.select(Queue).where(Queue.slug == decision.route_to))
    if queue is None and ticket.topic is not None:
        queue = ticket.topic.default_queue
    tickets.record_event(ticket, "advisor_requested", by, at=now)
    tickets.change_status(ticket, Status.OPEN, by=by, now=now, reason="conseiller demandé")
    tickets.update_ticket(ticket, by=by, queue=queue, now=now)
    if ticket.assignee_id is None and ticket.queue.is_referent_group:
        referent = pick_referent(ticket.queue)
        if referent is not None:
            tickets.assign_ticket(ticket, referent, by=None, now=now)
    decision.outcome, decision.outcome_at = Outcome.ESCALATED, now
    db.session.flush()
    signals.advisor_requested.send(ticket, decision=decision, queue=ticket.queue)
    return decision


# --- Signal handlers ------------------------------------------------------------------------------------


def on_ticket_submitted(ticket: Ticket, message: Message | None = None, **_kwargs) -> None:
    """Every new ticket goes through triage before its SLA policy is chosen."""
    triage_ticket(ticket, message)


def on_requester_replied(ticket: Ticket, message: Message | None = None, **_kwargs) -> None:
    """A requester who writes back instead of using the buttons wants an advisor."""
    if ticket.status == Status.AUTO_ANSWERED:
        ask_advisor(ticket, by=message.author if message is not None else None,
                    now=message.created_at if message is not None else None)


def on_ticket_created(ticket: Ticket, access_key: str | None = None, **_kwargs) -> None:
    """Announce an automatic answer once the ticket exists, with the requester's key for the follow link."""
    if ticket.status != Status.AUTO_ANSWERED:
        return
    decision = latest_decision(ticket)
    if decision is None or decision.article_id is None:
        return
    from knowledge_base.models import Article

    article = db.session.get(Article, decision.article_id)
    signals.auto_answered.send(ticket, article=article, decision=decision, access_key=access_key)

"""Conversations with the assistant before a request: turns, access (account or secret key), end, handover.

Each question is matched with the knowledge base's public search (expert.services.search_candidates, so any
improvement of the matcher flows in) and the call detection of expert.calls; expert.assistant chooses the reply.
Services flush; the request commits. Handing over to an advisor is the tickets package's (tickets.assistant): it
opens the request inside :func:`handover`, so that triage reads the person's own words and knows what the
assistant already offered.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.core.periods import Bucket, bucket_index
from crm.core.security import token_digest
from expert import assistant
from expert import services as expert
from expert.calls import call_catalogue
from expert.handover import person_words  # noqa: F401 - the person's words, for tickets.assistant
from expert.models import AssistantConversation, AssistantTurn, ConversationStatus, TurnKind
from expert.rules import Candidate

#: The same limit as the request form's message.
QUESTION_MAX = 20_000
#: At most this many questions in one conversation (then: ask an advisor, or start again).
MAX_QUESTIONS = 30
#: The choice « Un autre appel, ou je ne sais pas ».
OTHER_CALL = "autre"


class ConversationError(ValueError):
    """A turn the assistant refuses, with a French message for the person."""


# --- Access -------------------------------------------------------------------------------------------


def start_conversation(*, user: User | None, now: datetime | None = None) -> tuple[AssistantConversation, str]:
    """A new conversation, owned by the account when signed in; returns it and its clear secret key."""
    now = now or utcnow()
    key = secrets.token_urlsafe(24)
    conversation = AssistantConversation(
        public_id=secrets.token_urlsafe(12), key_hash=token_digest(key), user_id=user.id if user else None,
        status=ConversationStatus.OPEN, created_at=now, updated_at=now, expires_at=_expiry(now))
    db.session.add(conversation)
    db.session.flush()
    return conversation, key


def _expiry(now: datetime) -> datetime:
    return now + timedelta(days=int(current_app.config["ASSISTANT_CONVERSATION_DAYS"]))


def conversation_by_public_id(public_id: str, *, now: datetime | None = None) -> AssistantConversation | None:
    """The conversation with this public id, unless it has expired."""
    if not public_id or len(public_id) > 32:
        return None
    conversation = db.session.scalar(sa.select(AssistantConversation)
                                     .where(AssistantConversation.public_id == public_id))
    if conversation is None or conversation.expires_at <= (now or utcnow()):
        return None
    return conversation


def key_opens(conversation: AssistantConversation, key: str | None) -> bool:
    """The secret key of the conversation (compared in constant time)."""
    return bool(key) and secrets.compare_digest(conversation.key_hash, token_digest(key))


def owned_by(conversation: AssistantConversation, user) -> bool:
    """The signed-in person started it."""
    return bool(getattr(user, "is_authenticated", False)) and conversation.user_id == user.id


def purge_expired(now: datetime | None = None) -> int:
    """Delete the expired conversations that opened no request (those are kept with their request)."""
    result = db.session.execute(sa.delete(AssistantConversation).where(
        AssistantConversation.expires_at <= (now or utcnow()), AssistantConversation.ticket_id.is_(None)))
    return result.rowcount or 0


# --- Turns --------------------------------------------------------------------------------------------


def _threshold() -> float:
    return float(current_app.config["KB_AUTO_ANSWER_CONFIDENCE"])


def _add_turn(conversation: AssistantConversation, kind: str, now: datetime, **fields) -> AssistantTurn:
    turn = AssistantTurn(position=len(conversation.turns) + 1, kind=kind, created_at=now, **fields)
    conversation.turns.append(turn)
    conversation.updated_at = now
    conversation.expires_at = _expiry(now)
    return turn


def _check_open(conversation: AssistantConversation) -> None:
    if conversation.status != ConversationStatus.OPEN:
        raise ConversationError(_("Cette conversation est terminée : commencez-en une nouvelle."))


def _stored(candidates: list[Candidate], topics: dict) -> list[dict]:
    return [{"article_id": c.article_id, "title": c.title, "confidence": c.confidence, "calls": list(c.calls),
             "external_id": c.external_id, "topic": topics.get(c.article_id)} for c in candidates[:5]]


def _candidates(stored: list[dict]) -> list[Candidate]:
    return [Candidate(article_id=c["article_id"], title=c["title"], score=0.0, confidence=c["confidence"],
                      external_id=c.get("external_id", ""), calls=tuple(c.get("calls") or ())) for c in stored]


def ask(conversation: AssistantConversation, text: str, *, project_call: str | None = None,
        project_state: str | None = None, now: datetime | None = None) -> AssistantTurn:
    """The person asks in their own words; returns the assistant's reply (an answer, a question, or none)."""
    now = now or utcnow()
    _check_open(conversation)
    text = (text or "").strip()
    if not text:
        raise ConversationError(_("Écrivez votre question."))
    if len(text) > QUESTION_MAX:
        raise ConversationError(_("Votre question est trop longue (%(n)s caractères au plus).", n=QUESTION_MAX))
    if sum(1 for t in conversation.turns if t.kind == TurnKind.QUESTION) >= MAX_QUESTIONS:
        raise ConversationError(_("Cette conversation est déjà longue : posez votre question à un conseiller."))
    today = now.date()
    detection = expert.detect_question_call(text, today=today, project_call=project_call,
                                            stated=conversation.call_code)
    candidates, articles = expert.search_candidates(text, call=detection.code)
    topics = {a_id: article.topic for a_id, article in articles.items()}
    best = candidates[0] if candidates else None
    intent = assistant.read_intent(text, today=today, best_topic=topics.get(best.article_id) if best else None,
                                   best_confidence=best.confidence if best else 0.0, project_state=project_state,
                                   topic_labels=expert.labels())
    _remember_intent(conversation, intent)
    if detection.code and detection.source == "text":
        conversation.call_code = detection.code
    _add_turn(conversation, TurnKind.QUESTION, now, text=text, call_code=detection.code)
    reply = assistant.next_reply(candidates, threshold=_threshold(), call=detection.code,
                                 call_choices=detection.choices, stage=conversation.stage, topics=topics,
                                 call_labels=_call_labels())
    return _reply_turn(conversation, reply, _stored(candidates, topics), detection.code, now, question=text)


def _call_labels() -> dict[str, str]:
    return {call.code: call.label for call in call_catalogue().calls.values()}


def _remember_intent(conversation: AssistantConversation, intent: assistant.Intent) -> None:
    """The latest topic and stage read, urgency once seen; every reason kept once."""
    conversation.topic = intent.topic or conversation.topic
    conversation.stage = intent.stage or conversation.stage
    conversation.urgent = conversation.urgent or intent.urgent
    known = list(conversation.intent_reasons or [])
    conversation.intent_reasons = known + [r for r in intent.reasons if r not in known]


def _reply_turn(conversation: AssistantConversation, reply: assistant.Reply, stored: list[dict],
                call: str | None, now: datetime, *, question: str | None = None) -> AssistantTurn:
    """The assistant's turn for ``reply``; with no sure article, a close passage of a call document is quoted
    instead when ``question`` is given (expert.services.best_passage)."""
    best = reply.candidate
    passage = expert.best_passage(question, call=call) if reply.kind == assistant.NO_ANSWER and question else None
    if passage is not None:
        label = expert.passage_source(passage)
        return _add_turn(conversation, TurnKind.PASSAGE, now, passage_id=passage.passage_id, candidates=stored,
                         options=[{"value": str(passage.passage_id), "label": label}], call_code=call,
                         confidence=passage.confidence,
                         text=f"{reply.reason} ; passage cité : {label}" if reply.reason else label)
    fields = {"candidates": stored, "confidence": best.confidence if best else 0.0, "call_code": call,
              "text": reply.reason}
    if reply.kind == assistant.ANSWER:
        return _add_turn(conversation, TurnKind.ANSWER, now, article_id=int(best.article_id), **fields)
    if reply.kind in (assistant.ASK_ARTICLE, assistant.ASK_CALL):
        conversation.clarifications += 1
        options = [{"value": o.value, "label": o.label} for o in reply.options]
        kind = TurnKind.ASK_ARTICLE if reply.kind == assistant.ASK_ARTICLE else TurnKind.ASK_CALL
        return _add_turn(conversation, kind, now, options=options, **fields)
    return _add_turn(conversation, TurnKind.NO_ANSWER, now, **fields)


def last_turn(conversation: AssistantConversation) -> AssistantTurn | None:
    return conversation.turns[-1] if conversation.turns else None


def _question_of(conversation: AssistantConversation, turn: AssistantTurn) -> AssistantTurn:
    return next(t for t in reversed(conversation.turns[:turn.position - 1]) if t.kind == TurnKind.QUESTION)


def choose(conversation: AssistantConversation, value: str, *, now: datetime | None = None) -> AssistantTurn:
    """One click on an option of the last clarifying question; returns the assistant's reply to it."""
    now = now or utcnow()
    _check_open(conversation)
    asked = last_turn(conversation)
    if asked is None or asked.kind not in (TurnKind.ASK_ARTICLE, TurnKind.ASK_CALL):
        raise ConversationError(_("Aucune question ne vous est posée : écrivez votre question."))
    labels = {o["value"]: o["label"] for o in asked.options}
    if asked.kind == TurnKind.ASK_CALL:
        labels[OTHER_CALL] = _("Un autre appel, ou je ne sais pas")
    value = (value or "").strip()
    if value not in labels:
        raise ConversationError(_("Ce choix n'est pas proposé : choisissez une des réponses."))
    _add_turn(conversation, TurnKind.CHOICE, now, text=labels[value], call_code=asked.call_code)
    if asked.kind == TurnKind.ASK_ARTICLE:
        chosen = assistant.choose_article(_candidates(asked.candidates), value)
        reply = assistant.Reply(assistant.ANSWER, chosen, reason="article choisi par le demandeur")
        return _reply_turn(conversation, reply, asked.candidates, asked.call_code, now)
    if value == OTHER_CALL:
        reply = assistant.Reply(assistant.NO_ANSWER, reason="autre appel, ou appel inconnu du demandeur")
        return _reply_turn(conversation, reply, asked.candidates, None, now)
    conversation.call_code = value
    question = _question_of(conversation, asked)
    candidates, articles = expert.search_candidates(question.text, call=value)
    topics = {a_id: article.topic for a_id, article in articles.items()}
    reply = assistant.next_reply(candidates, threshold=_threshold(), call=value, may_ask=False)
    return _reply_turn(conversation, reply, _stored(candidates, topics), value, now, question=question.text)


def resolve(conversation: AssistantConversation, *, now: datetime | None = None) -> None:
    """« Ma question est résolue »: the conversation ends without a request."""
    now = now or utcnow()
    _check_open(conversation)
    if not any(t.kind in (TurnKind.ANSWER, TurnKind.PASSAGE) for t in conversation.turns):
        raise ConversationError(_("Aucune réponse ne vous a encore été donnée."))
    conversation.status = ConversationStatus.RESOLVED
    conversation.ended_at = conversation.updated_at = now
    db.session.flush()


# --- Handover to an advisor ---------------------------------------------------------------------------


def transcript(conversation: AssistantConversation, article_titles: dict[int, str] | None = None) -> str:
    """The conversation as plain text, attached to the request it opens."""
    titles = article_titles or {}
    lines = []
    for turn in conversation.turns:
        if turn.kind == TurnKind.QUESTION:
            lines.append(f"Vous : {turn.text}")
        elif turn.kind == TurnKind.CHOICE:
            lines.append(f"Vous (choix) : {turn.text}")
        elif turn.kind == TurnKind.ANSWER:
            title = titles.get(turn.article_id) or next(
                (c["title"] for c in turn.candidates if c["article_id"] == turn.article_id), "")
            lines.append(f"Assistant : réponse proposée, article « {title} »")
        elif turn.kind == TurnKind.PASSAGE:
            source = turn.options[0]["label"] if turn.options else ""
            lines.append(f"Assistant : extrait de document cité, {source}")
        elif turn.kind in (TurnKind.ASK_ARTICLE, TurnKind.ASK_CALL):
            lines.append("Assistant : précision demandée entre " + ", ".join(f"« {o['label']} »" for o in turn.options))
        else:
            lines.append("Assistant : pas de réponse sûre dans la base de connaissances")
    return "\n".join(lines)


def handover_facts(conversation: AssistantConversation) -> tuple[str | None, str, list[str]]:
    """The topic and priority the request opens with, and why (the intent read during the conversation)."""
    reasons = list(conversation.intent_reasons or [])
    priority = "high" if conversation.urgent else "normal"
    if conversation.urgent:
        reasons.append("priorité haute : indice d'urgence dans la conversation")
    return conversation.topic, priority, reasons


def mark_handed_over(conversation: AssistantConversation, ticket_id: int, *, now: datetime) -> None:
    """The conversation opened this request: it ends there (and is kept with it)."""
    conversation.status = ConversationStatus.HANDED_OVER
    conversation.ticket_id = ticket_id
    conversation.ended_at = conversation.updated_at = now


# --- What managers see --------------------------------------------------------------------------------


@dataclass
class AssistantFigures:
    conversations: int = 0
    resolved: int = 0
    handed_over: int = 0
    clarified: int = 0
    unanswered: int = 0


def figures(since: datetime, until: datetime | None = None) -> AssistantFigures:
    """Conversations started in the period: resolved without a request, handed over, with a clarifying question,
    and the questions without a sure answer."""
    period = [AssistantConversation.created_at >= since]
    if until is not None:
        period.append(AssistantConversation.created_at < until)
    rows = dict(db.session.execute(sa.select(AssistantConversation.status, sa.func.count())
                                   .where(*period).group_by(AssistantConversation.status)).all())
    clarified = db.session.scalar(sa.select(sa.func.count()).select_from(AssistantConversation)
                                  .where(*period, AssistantConversation.clarifications > 0))
    unanswered = db.session.scalar(sa.select(sa.func.count()).select_from(AssistantTurn).join(AssistantConversation)
                                   .where(*period, AssistantTurn.kind == TurnKind.NO_ANSWER))
    return AssistantFigures(conversations=sum(rows.values()), resolved=rows.get(ConversationStatus.RESOLVED, 0),
                            handed_over=rows.get(ConversationStatus.HANDED_OVER, 0), clarified=clarified or 0,
                            unanswered=unanswered or 0)


def resolved_by_step(steps: Sequence[Bucket]) -> list[tuple[int, int]]:
    """(conversations started, resolved without a request) per step of a period, in one grouped query."""
    result = [(0, 0)] * len(steps)
    if not steps:
        return result
    index = bucket_index(AssistantConversation.created_at, steps)
    resolved = sa.func.sum(sa.case((AssistantConversation.status == ConversationStatus.RESOLVED, 1), else_=0))
    started = AssistantConversation.created_at
    query = (sa.select(index, sa.func.count(), resolved)
             .where(started >= steps[0].start, started < steps[-1].end).group_by(index))
    for position, count, n_resolved in db.session.execute(query):
        if position is not None:
            result[position] = (count, int(n_resolved or 0))
    return result


def recent_conversations(since: datetime, until: datetime | None = None, *, limit: int = 50):
    """The conversations of the period, newest first, with their turns."""
    query = (sa.select(AssistantConversation).where(AssistantConversation.created_at >= since)
             .options(sa.orm.selectinload(AssistantConversation.turns))
             .order_by(AssistantConversation.created_at.desc()).limit(limit))
    if until is not None:
        query = query.where(AssistantConversation.created_at < until)
    return list(db.session.scalars(query))


def unanswered_questions(since: datetime, until: datetime | None = None,
                         *, limit: int = 500) -> list[tuple[str, str, list]]:
    """(label, question, candidates) of the questions the assistant had no sure answer to, for the gaps page."""
    with_gap = sa.select(AssistantTurn.conversation_id).where(AssistantTurn.kind == TurnKind.NO_ANSWER)
    query = (sa.select(AssistantConversation).where(AssistantConversation.created_at >= since,
                                                     AssistantConversation.id.in_(with_gap))
             .options(sa.orm.selectinload(AssistantConversation.turns))
             .order_by(AssistantConversation.created_at.desc()).limit(limit))
    if until is not None:
        query = query.where(AssistantConversation.created_at < until)
    found = []
    for conversation in db.session.scalars(query):
        for turn in conversation.turns:
            if turn.kind == TurnKind.NO_ANSWER:
                question = _question_of(conversation, turn)
                found.append((f"Assistant n° {conversation.id}", question.text, turn.candidates or []))
    return found

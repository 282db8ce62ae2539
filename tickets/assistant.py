"""« Poser ma question à un conseiller »: a conversation with the assistant opens a request, attached to it.

The request is submitted through tickets.workflow.create_ticket like any other, at the moment of the handover (so
the response time counts from then), with the conversation's call as if chosen on the form, the topic and priority
the assistant read (and why, in the triage decision and the audit trail), and the whole conversation after the
person's message. Triage reads the person's message, not the attached replies, and never answers automatically
with an article the assistant already offered (expert.handover).
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, session
from flask_babel import gettext as _
from flask_login import current_user

from crm.core.extensions import db, utcnow
from expert import conversations
from expert import services as expert
from expert.handover import handover
from expert.models import AssistantConversation, ConversationStatus, TurnKind
from knowledge_base.models import Article
from tickets import services, workflow
from tickets.models import Ticket
from tickets.services import TicketError

TRANSCRIPT_HEADING = "--- Échange avec l'assistant avant la demande ---"


def suggested_fields(conversation: AssistantConversation) -> dict:
    """What the request form is pre-filled with: the first question as subject, the questions as message, the
    topic the assistant read."""
    words = conversations.person_words(conversation)
    first = words.split("\n", 1)[0]
    subject = first if len(first) <= 120 else first[:117].rstrip() + "…"
    return {"subject": subject, "message": words, "topic": conversation.topic, "call": conversation.call_code}


def _titles(conversation: AssistantConversation) -> dict[int, str]:
    ids = {t.article_id for t in conversation.turns if t.kind == TurnKind.ANSWER and t.article_id}
    if not ids:
        return {}
    return dict(db.session.execute(db.select(Article.id, Article.question).where(Article.id.in_(ids))).all())


def open_request(conversation: AssistantConversation, *, body: str, topic: str | None, call: str | None = None,
                 now: datetime | None = None, **fields) -> tuple[Ticket, str]:
    """Open the request of a conversation (fields as services.open_ticket); returns the ticket and its key."""
    now = now or utcnow()
    if conversation.status != ConversationStatus.OPEN:
        raise TicketError(_("Cette conversation a déjà été transmise ou close."))
    suggested_topic, priority, reasons = conversations.handover_facts(conversation)
    if suggested_topic and topic and topic != suggested_topic:
        names = expert.labels()
        reasons.append(f"thème « {names.get(topic, topic)} » choisi par le demandeur au lieu de "
                       f"« {names.get(suggested_topic, suggested_topic)} »")
    attached = "\n\n".join([body.strip(), TRANSCRIPT_HEADING,
                            conversations.transcript(conversation, _titles(conversation))])
    with expert.stated_call(call or conversation.call_code), handover(conversation, words=body, reasons=reasons):
        ticket, key = workflow.create_ticket(body=attached, topic=topic, priority=priority, created_at=now, **fields)
    conversations.mark_handed_over(conversation, ticket.id, now=now)
    services.record_event(ticket, "assistant_handover", fields.get("requester"), at=now,
                          conversation=conversation.public_id, priority=priority, reasons=reasons)
    db.session.flush()
    return ticket, key


# --- Access from this browser ---------------------------------------------------------------------------

#: Session key: {public id: clear key} of the conversations of this browser (the key for the come-back link).
ACCESS_SESSION_KEY = "assistant.access"
REMEMBERED = 10


def remember_conversation(conversation: AssistantConversation, key: str) -> None:
    """This browser may open the conversation (its session holds the clear key, for the come-back link)."""
    known = {k: v for k, v in session.get(ACCESS_SESSION_KEY, {}).items() if k != conversation.public_id}
    known[conversation.public_id] = key
    session[ACCESS_SESSION_KEY] = dict(list(known.items())[-REMEMBERED:])


def may_see(conversation: AssistantConversation) -> bool:
    """This browser holds the conversation, or the signed-in person started it."""
    return conversation.public_id in session.get(ACCESS_SESSION_KEY, {}) or conversations.owned_by(
        conversation, current_user)


def load_conversation(public_id: str) -> AssistantConversation:
    """The conversation if this visitor may see it, else 404 (its existence is never revealed)."""
    conversation = conversations.conversation_by_public_id(public_id)
    if conversation is None or not may_see(conversation):
        abort(404)
    return conversation

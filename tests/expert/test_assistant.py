"""The assistant before a request (issue 14, part 1): replies, intent, handover, what managers see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core import registry
from crm.core.extensions import db
from expert import assistant, conversations
from expert import services as expert
from expert.models import AssistantConversation, ConversationStatus, TurnKind
from expert.rules import Candidate
from tickets import assistant as handover
from tickets.models import AuthorKind, Priority, Status, Ticket

#: The demo seeders the assistant needs (calls 12, knowledge base 20, rules 25, queues and topics 30): fast ones.
DEMO_SEEDERS = (12, 20, 25, 30)
REQUESTER = {"requester_email": "julie.fontaine@univ-exemple.fr", "requester_name": "Julie Fontaine"}


def candidate(article_id, confidence, calls=(), title=None):
    return Candidate(article_id=article_id, title=title or f"Article {article_id}", score=confidence,
                     confidence=confidence, calls=tuple(calls))


# --- The reply, pure ------------------------------------------------------------------------------


def test_a_confident_best_candidate_alone_is_the_answer():
    reply = assistant.next_reply([candidate(1, 0.95), candidate(2, 0.4)], threshold=0.8, call=None)
    assert (reply.kind, reply.candidate.article_id) == (assistant.ANSWER, 1)


def test_close_candidates_give_one_question_with_one_option_each():
    reply = assistant.next_reply([candidate(1, 0.83), candidate(2, 0.74), candidate(3, 0.45)], threshold=0.8,
                                 call=None)
    assert reply.kind == assistant.ASK_ARTICLE
    assert [o.value for o in reply.options] == ["1", "2"]  # 0.45 is below the floor: not offered
    again = assistant.next_reply([candidate(1, 0.83), candidate(2, 0.74)], threshold=0.8, call=None, may_ask=False)
    assert (again.kind, again.candidate.article_id) == (assistant.ANSWER, 1)


def test_the_stage_puts_its_articles_first_among_close_ones():
    reply = assistant.next_reply([candidate(1, 0.83), candidate(2, 0.8)], threshold=0.8, call=None,
                                 stage="follow_up", topics={1: "depot", 2: "versements"})
    assert [o.value for o in reply.options] == ["2", "1"]


def test_an_article_limited_to_calls_asks_the_call_when_it_is_unknown():
    best = candidate(1, 0.99, calls=("AAPG-2026", "JCJC-2026"))
    reply = assistant.next_reply([best], threshold=0.8, call=None, call_labels={"AAPG-2026": "AAPG 2026"})
    assert reply.kind == assistant.ASK_CALL
    assert [(o.value, o.label) for o in reply.options] == [("AAPG-2026", "AAPG 2026"), ("JCJC-2026", "JCJC-2026")]
    assert assistant.next_reply([best], threshold=0.8, call="JCJC-2026").kind == assistant.ANSWER
    other = assistant.next_reply([best], threshold=0.8, call="ETER-2026")
    assert other.kind == assistant.NO_ANSWER and "ETER-2026" in other.reason


def test_nothing_confident_is_no_answer():
    assert assistant.next_reply([candidate(1, 0.6)], threshold=0.8, call=None).kind == assistant.NO_ANSWER
    assert assistant.next_reply([], threshold=0.8, call=None).kind == assistant.NO_ANSWER


def test_intent_reads_topic_stage_and_urgency_with_reasons():
    today = date(2026, 12, 3)
    intent = assistant.read_intent("Mon versement n'est pas arrivé, c'est urgent", today=today,
                                   best_topic="versements", best_confidence=0.9)
    assert (intent.topic, intent.stage, intent.urgent) == ("versements", "follow_up", True)
    assert any("« urgent »" in r for r in intent.reasons)
    soon = assistant.read_intent("Je dois déposer avant le 05/12/2026", today=today)
    assert soon.urgent and soon.stage == "submission" and soon.topic is None
    calm = assistant.read_intent("Comment fonctionne le comité ?", today=today, project_state="follow_up",
                                 best_topic="evaluation", best_confidence=0.3)
    assert (calm.stage, calm.urgent, calm.topic) == ("evaluation", False, None)
    from_project = assistant.read_intent("Une question", today=today, project_state="selected")
    assert from_project.stage == "contracting" and "état du projet" in from_project.reasons[0]


# --- Conversations on the demo knowledge base --------------------------------------------------------


@pytest.fixture
def demo(app):
    """The demo's calls, knowledge base, rules and tickets' reference data (no accounts, projects nor tickets)."""
    context: dict = {"n_tickets": 0}
    for order, _name, seed in registry.seeders(app):
        if order in DEMO_SEEDERS:
            seed(context)
    return context


def start(text, **kw):
    conversation, _key = conversations.start_conversation(user=None)
    return conversation, conversations.ask(conversation, text, **kw)


def test_a_confident_question_is_answered_with_its_article(demo):
    conversation, reply = start("Comment prolonger la durée de mon projet ?")
    assert reply.kind == TurnKind.ANSWER and reply.position == 2
    assert reply.candidates[0]["external_id"] == "av-prolongation"
    assert conversation.topic == "avenant" and conversation.stage == "follow_up"
    assert conversation.intent_reasons[0].startswith("thème « Avenant et modification du projet » : celui de")
    conversations.resolve(conversation)
    assert conversation.status == ConversationStatus.RESOLVED
    with pytest.raises(conversations.ConversationError):
        conversations.ask(conversation, "Et encore ?")


def test_an_unknown_call_is_asked_then_answered(demo):
    conversation, reply = start("Quelle est la date limite pour déposer ma proposition ?")
    assert reply.kind == TurnKind.ASK_CALL
    assert "AAPG-2026" in [o["value"] for o in reply.options] and conversation.clarifications == 1
    with pytest.raises(conversations.ConversationError):
        conversations.choose(conversation, "ETER-2026")  # not offered
    answer = conversations.choose(conversation, "AAPG-2026")
    assert answer.kind == TurnKind.ANSWER and conversation.call_code == "AAPG-2026"
    assert [t.kind for t in conversation.turns] == ["question", "ask_call", "choice", "answer"]
    with pytest.raises(conversations.ConversationError):
        conversations.choose(conversation, "AAPG-2026")  # nothing asked any more


def test_another_call_is_no_answer_and_a_named_call_is_not_asked(demo):
    conversation, _reply = start("Quelle est la date limite pour déposer ma proposition ?")
    assert conversations.choose(conversation, conversations.OTHER_CALL).kind == TurnKind.NO_ANSWER
    _conversation, named = start("Quelle est la date limite de dépôt de l'AAPG 2026 ?")
    assert named.kind == TurnKind.ANSWER


def test_bad_input_is_refused_and_nothing_is_stored(demo):
    conversation, _key = conversations.start_conversation(user=None)
    for text in ("", "   ", "x" * (conversations.QUESTION_MAX + 1)):
        with pytest.raises(conversations.ConversationError):
            conversations.ask(conversation, text)
    assert conversation.turns == []


def test_questions_without_a_sure_answer_join_the_gaps(demo):
    conversation, reply = start("Mon chat a mangé le câble de la plateforme")
    assert reply.kind == TurnKind.NO_ANSWER
    since = datetime.now(UTC) - timedelta(days=1)
    gaps = conversations.unanswered_questions(since)
    assert gaps == [(f"Assistant n° {conversation.id}", "Mon chat a mangé le câble de la plateforme",
                     reply.candidates)]
    figures = conversations.figures(since)
    assert (figures.conversations, figures.unanswered, figures.resolved) == (1, 1, 0)


def test_an_expired_conversation_is_not_found_and_purged(demo, app):
    past = datetime.now(UTC) - timedelta(days=app.config["ASSISTANT_CONVERSATION_DAYS"] + 1)
    conversation, _key = conversations.start_conversation(user=None, now=past)
    assert conversations.conversation_by_public_id(conversation.public_id) is None
    assert conversations.purge_expired() == 1


# --- Handover ---------------------------------------------------------------------------------------


def test_handover_opens_a_request_with_the_conversation_and_the_sla_from_then(demo):
    started = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    conversation, _key = conversations.start_conversation(user=None, now=started)
    reply = conversations.ask(conversation, "Puis-je modifier ma proposition après l'avoir soumise ? C'est urgent.",
                              now=started)
    assert reply.kind == TurnKind.ANSWER
    handed = started + timedelta(hours=3)
    body = "Puis-je modifier ma proposition après l'avoir soumise ?"
    ticket, key = handover.open_request(conversation, subject="Modification", body=body, topic="depot", now=handed,
                                        **REQUESTER)
    assert key and ticket.created_at == handed and ticket.priority == Priority.HIGH
    assert ticket.first_response_due_at > handed  # the clock starts at the handover, not at the first question
    assert ticket.status != Status.AUTO_ANSWERED  # the article was already offered: a person answers
    first = next(m for m in ticket.messages if m.author_kind == AuthorKind.REQUESTER)
    assert first.body.startswith(body)
    assert handover.TRANSCRIPT_HEADING in first.body and "Vous : Puis-je modifier" in first.body
    assert "Assistant : réponse proposée, article « Puis-je modifier ma proposition" in first.body
    decision = expert.latest_decision(ticket)
    assert decision.question == f"Modification\n{body}"  # triage reads the person's message, not the transcript
    assert decision.notes[0].startswith("conversation avec l'assistant (1 question(s)")
    assert "priorité haute" in decision.notes[0]
    assert decision.action != "auto_answered"
    assert any("l'assistant avait déjà proposé cet article" in n for n in decision.notes)
    assert (conversation.status, conversation.ticket_id) == (ConversationStatus.HANDED_OVER, ticket.id)
    event = next(e for e in ticket.events if e.kind == "assistant_handover")
    assert event.data["priority"] == "high" and event.data["conversation"] == conversation.public_id
    with pytest.raises(Exception, match="déjà été transmise"):
        handover.open_request(conversation, subject="Encore", body="Encore", topic="depot", **REQUESTER)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_handover_carries_the_chosen_call_to_triage(demo):
    conversation, _reply = start("Quelle est la date limite pour déposer ma proposition ?")
    conversations.choose(conversation, "JCJC-2026")
    ticket, _key = handover.open_request(conversation, subject="Date limite", body="Et pour un dépôt tardif ?",
                                         topic="calendrier", **REQUESTER)
    decision = expert.latest_decision(ticket)
    assert (decision.call_code, decision.call_source) == ("JCJC-2026", "form")
    assert db.session.get(AssistantConversation, conversation.id).ticket_id == ticket.id


def test_the_nightly_job_forgets_expired_conversations_but_keeps_those_with_a_request(demo, app):
    from crm.core import registry as jobs_registry
    from expert.jobs import purge_conversations

    assert "assistant_conversations" in {job.id for job in jobs_registry.jobs(app)}
    past = datetime.now(UTC) - timedelta(days=app.config["ASSISTANT_CONVERSATION_DAYS"] + 1)
    forgotten, _key = conversations.start_conversation(user=None, now=past)
    kept, _key = conversations.start_conversation(user=None, now=past)
    conversations.ask(kept, "Comment prolonger la durée de mon projet ?", now=past)
    ticket, _key = handover.open_request(kept, subject="Prolongation", body="Prolonger", topic="avenant", **REQUESTER)
    kept.expires_at = past
    db.session.flush()
    assert purge_conversations() == 1
    db.session.expire_all()
    assert db.session.get(AssistantConversation, forgotten.id) is None
    assert db.session.get(AssistantConversation, kept.id).ticket_id == ticket.id

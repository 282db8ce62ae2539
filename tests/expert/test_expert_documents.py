"""Answers from the call documents: the assistant and the triage quote a passage when no article is sure,
and a request answered so waits for the requester's confirmation."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from expert import conversations, services, signals
from expert.models import Outcome, TurnKind
from notifications.models import OutboxMessage
from tests.knowledge_base.test_kb_documents import QUESTION, upload
from tickets import triage
from tickets.models import AuthorKind, Status


def test_the_assistant_quotes_a_passage_with_its_link_when_no_article_is_sure(client):
    passage = upload().passages[1]
    page = client.post("/aide/assistant", data={"question": QUESTION}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Le coordinateur consacre au projet au moins 30 %" in text
    assert f'/aide/documents/{passage.version.document.slug}#passage-2"' in text
    conversation, _key = conversations.start_conversation(user=None)
    turn = conversations.ask(conversation, QUESTION)
    assert (turn.kind, turn.passage_id) == (TurnKind.PASSAGE, passage.id)
    assert "extrait de document cité, « Règlement AAPG 2026 » (AAPG-2026), version 1" in (
        conversations.transcript(conversation))
    conversations.resolve(conversation)  # the person says it answered


def test_the_triage_answers_with_a_passage_and_waits_for_the_requester(make_ticket):
    passage = upload().passages[1]
    with_signal = []
    signals.auto_answered.connect(receiver := lambda sender, **kw: with_signal.append(kw), weak=False)
    try:
        ticket = make_ticket(subject="Temps de recherche du coordinateur", body=QUESTION)
    finally:
        signals.auto_answered.disconnect(receiver)
    assert ticket.status == Status.AUTO_ANSWERED  # not resolved: the requester confirms or asks for a person
    answer = next(m for m in ticket.messages if m.author_kind == AuthorKind.SYSTEM)
    assert "> Le coordinateur consacre au projet au moins 30 %" in answer.body and not answer.internal
    assert f"/aide/documents/{passage.version.document.slug}#passage-2)" in answer.body
    decision = services.latest_decision(ticket)
    assert decision.outcome == Outcome.AUTO_ANSWERED and decision.article_id is None
    assert any(n.startswith("passage proche : « Règlement AAPG 2026 » (AAPG-2026)") for n in decision.notes)
    assert with_signal[0]["passage"].passage_id == passage.id
    mail = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedup_key.like(f"auto_answer:{ticket.id}:%")))
    assert mail is not None and "30 %" in mail.body_text
    triage.confirm_answer(ticket, by=None)
    assert ticket.status == Status.RESOLVED and decision.outcome == Outcome.DEFLECTED

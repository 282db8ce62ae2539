"""Answers from the call documents: the assistant and the triage quote a passage when no article is sure,
and a request answered so waits for the requester's confirmation."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from expert import conversations, services, signals
from expert.handover import handover
from expert.models import Outcome, TurnKind
from knowledge_base.models import Article
from notifications.models import OutboxMessage
from tests.knowledge_base.test_kb_documents import QUESTION, upload
from tickets import triage
from tickets.models import AuthorKind, Message, Status


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


def test_the_triage_answers_with_a_passage_and_waits_for_the_requester(client, make_ticket):
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
    assert mail is not None and "30 %" in mail.body_text and "passage d'un document de l'appel" in mail.body_text
    page = client.get(f"/demandes/{ticket.reference}", query_string={"cle": ticket.access_key}, follow_redirects=True)
    assert "<blockquote>" in page.get_data(as_text=True)  # the message's Markdown rendered (sanitised)
    triage.confirm_answer(ticket, by=None)
    assert ticket.status == Status.RESOLVED and decision.outcome == Outcome.DEFLECTED


def test_a_passage_the_assistant_quoted_is_not_sent_again_when_the_person_asks_for_an_advisor(make_ticket):
    upload()
    conversation, _key = conversations.start_conversation(user=None)
    assert conversations.ask(conversation, QUESTION).kind == TurnKind.PASSAGE
    with handover(conversation, words=QUESTION, reasons=[]):
        ticket = make_ticket(subject="Temps de recherche du coordinateur", body=QUESTION)
    assert ticket.status != Status.AUTO_ANSWERED
    assert "réponse par un passage écartée : l'assistant l'avait déjà cité" in " ".join(
        services.latest_decision(ticket).notes)


def test_a_referent_turns_an_agent_reply_into_a_draft_article(client, make_user, login, make_ticket):
    ticket = make_ticket(subject="Justificatifs de mission", body="Quels justificatifs garder ?")
    reply = Message(ticket=ticket, author_kind=AuthorKind.STAFF, author_name="Agent Martin", internal=False,
                    body="Gardez les **factures** et les ordres de mission pendant dix ans.")
    note = Message(ticket=ticket, author_kind=AuthorKind.STAFF, author_name="Agent Martin", internal=True,
                   body="Note interne")
    db.session.add_all([reply, note])
    db.session.flush()
    agent, referent = make_user("agent"), make_user("referent")
    login(agent)
    assert "panneau-brouillons" not in client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert client.post(f"/agent/demandes/{ticket.reference}/reponses/{reply.id}/brouillon").status_code == 403
    client.post("/deconnexion")
    login(referent)
    assert "panneau-brouillons" in client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert client.post(f"/agent/demandes/{ticket.reference}/reponses/{note.id}/brouillon").status_code == 404
    response = client.post(f"/agent/demandes/{ticket.reference}/reponses/{reply.id}/brouillon")
    assert response.status_code == 302
    article = db.session.scalar(sa.select(Article).where(Article.question == "Justificatifs de mission"))
    assert article.status == "draft" and article.answer == reply.body
    assert article.meta["source"] == {"kind": "reply", "ticket": ticket.reference, "message_id": reply.id,
                                      "author": "Agent Martin"}
    assert f"Réponse à la demande {ticket.reference}" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_draft_from_a_reply_masks_the_requester(client, make_user, login, make_ticket):
    ticket = make_ticket(subject="Frais de mission de Jeanne Demandeur", requester_name="Jeanne Demandeur")
    reply = Message(ticket=ticket, author_kind=AuthorKind.STAFF, author_name="Agent Martin", internal=False,
                    body="Bonjour Jeanne Demandeur, gardez les factures (jeanne@labo.example) dix ans.")
    db.session.add(reply)
    db.session.flush()
    login(make_user("referent"))
    assert client.post(f"/agent/demandes/{ticket.reference}/reponses/{reply.id}/brouillon").status_code == 302
    article = db.session.scalar(sa.select(Article).where(Article.meta["source"]["message_id"].as_integer() == reply.id))
    assert "Jeanne" not in article.question + article.answer and "jeanne@labo.example" not in article.answer
    assert "gardez les factures" in article.answer

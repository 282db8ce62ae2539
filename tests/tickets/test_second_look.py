"""A submission is matched with the lexical channel only; the semantic channel looks again after the commit.

With the semantic channel on (KB_SEMANTIC) and KB_SEMANTIC_AFTER_COMMIT, the request never embeds the question:
a question the lexical channel leaves to people is marked, and tickets.triage.second_looks (run by the outbox
worker at every round, and by the ``triage_second_look`` job) answers it when the fused matching is confident,
unless someone has dealt with the ticket meanwhile. The concept encoder of the semantic tests stands in for E5.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core import registry
from crm.core.extensions import db
from expert import RULES_FILE, ruleset
from expert import services as expert
from expert.models import Outcome
from knowledge_base import index as kb_index
from knowledge_base import semantic
from knowledge_base import services as kb_services
from knowledge_base.vectors import embed_pending
from notifications.models import OutboxMessage, OutboxStatus
from notifications.worker import run_worker
from tests.knowledge_base.test_kb_semantic import ConceptEncoder
from tickets import services, triage, workflow
from tickets.models import AuthorKind, Status, TicketEvent

ARTICLES = {
    "password": {"question": "Comment réinitialiser mon mot de passe ?",
                 "answer": "Cliquez sur « Mot de passe oublié » sur la page de connexion.",
                 "phrasings": ["Je ne peux plus me connecter", "Identifiant perdu"], "topic": "portail",
                 "status": "published"},
    "budget": {"question": "Quelles dépenses sont éligibles ?", "answer": "Personnel, équipement, missions.",
               "phrasings": ["Que peut-on financer avec l'aide ?"], "topic": "financement", "status": "published"},
    "deadline": {"question": "Quelle est la date limite de dépôt ?", "answer": "Avant la clôture, 13 h.",
                 "phrasings": ["Jusqu'à quand déposer ?"], "topic": "calendrier", "status": "published"},
}
# No word in common with the password article: the lexical channel gives it nothing, the fused one is confident.
PARAPHRASE = {"subject": "Accès", "body": "Mon compte est bloqué"}


@pytest.fixture
def encoder(app, monkeypatch, reference_data):
    """Semantic channel on (the concept encoder), the demo rules, three articles with their vectors stored."""
    encoder = ConceptEncoder()
    monkeypatch.setitem(app.config, "KB_SEMANTIC", True)
    monkeypatch.setitem(app.config, "KB_SEMANTIC_MODEL", encoder.name)
    monkeypatch.setattr(semantic, "_loaded", {encoder.name: encoder})
    monkeypatch.setattr(kb_index.index_service(app), "_calibration_queries", [])
    ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)
    for external_id, data in ARTICLES.items():
        kb_services.create_article(data, None, external_id=external_id)
    embed_pending()
    kb_index.refresh_index()
    return encoder


def _answer_mails(ticket) -> list[OutboxMessage]:
    return db.session.scalars(sa.select(OutboxMessage).where(
        OutboxMessage.kind == "auto_answer", OutboxMessage.ticket_id == ticket.id)).all()


def test_the_request_does_not_embed_and_the_second_look_answers(encoder, make_ticket):
    embedded = encoder.calls["queries"]
    ticket = make_ticket(topic="autre", **PARAPHRASE)
    assert encoder.calls["queries"] == embedded  # nothing embedded while the requester waits
    decision = expert.latest_decision(ticket)
    assert ticket.status == Status.NEW and decision.action == Outcome.HUMAN
    assert decision.second_look_at is not None
    assert "le canal sémantique relit la question" in " ".join(decision.notes)
    assert _answer_mails(ticket) == []

    assert triage.second_looks() == {"looked": 1, "answered": 1, "skipped": 0}
    assert encoder.calls["queries"] == embedded + 1  # the question, once, after the commit
    db.session.expire_all()
    assert ticket.status == Status.AUTO_ANSWERED
    decision = expert.latest_decision(ticket)
    assert (decision.action, decision.outcome) == (Outcome.AUTO_ANSWERED, Outcome.AUTO_ANSWERED)
    assert decision.second_look_at is None and decision.confidence >= 0.8
    assert decision.candidates[0]["external_id"] == "password"
    assert decision.rules_matched[-1]["code"] == "R5"  # the rule that answered, this time
    assert "seconde lecture avec le canal sémantique : réponse par l'article" in " ".join(decision.notes)
    system = [m for m in ticket.messages if m.author_kind == AuthorKind.SYSTEM]
    assert len(system) == 1 and "Mot de passe oublié" in system[0].body
    events = db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                             TicketEvent.kind == "triage")).all()
    assert [e.data.get("second_look") for e in events] == [True]
    assert len(_answer_mails(ticket)) == 1  # the answer's e-mail, after the acknowledgement
    assert ticket.first_responded_at is None  # the SLA keeps counting until a person answers
    # looked at once: nothing left for the next round
    assert triage.second_looks() == {"looked": 0, "answered": 0, "skipped": 0}


def test_a_ticket_someone_took_meanwhile_is_left_alone(encoder, make_ticket, make_user):
    ticket = make_ticket(topic="autre", **PARAPHRASE)
    services.assign_ticket(ticket, make_user("agent"), by=None)
    assert triage.second_looks() == {"looked": 0, "answered": 0, "skipped": 1}
    db.session.expire_all()
    assert ticket.status != Status.AUTO_ANSWERED and _answer_mails(ticket) == []
    decision = expert.latest_decision(ticket)
    assert decision.second_look_at is None and decision.action == Outcome.HUMAN
    assert "prise en charge entre-temps" in decision.notes[-1]


@pytest.mark.parametrize("meanwhile", ["note", "requester", "topic"])
def test_a_note_a_new_message_or_a_change_by_staff_meanwhile_stops_it(encoder, make_ticket, make_user, meanwhile):
    ticket = make_ticket(topic="autre", **PARAPHRASE)
    agent = make_user("agent")
    if meanwhile == "note":
        services.add_internal_note(ticket, author=agent, body="Je regarde.")
    elif meanwhile == "requester":
        workflow.add_requester_reply(ticket, body="J'ajoute une précision.")
    else:
        services.update_ticket(ticket, by=agent, topic=services.topic_with_slug("depot"))
    assert triage.second_looks()["skipped"] == 1
    db.session.expire_all()
    assert ticket.status != Status.AUTO_ANSWERED and _answer_mails(ticket) == []


def test_no_confident_answer_keeps_the_ticket_for_people(encoder, make_ticket):
    ticket = make_ticket(topic="autre", subject="Colloque", body="Quel temps fera-t-il à Brest ?")
    assert triage.second_looks()["answered"] == 0
    db.session.expire_all()
    decision = expert.latest_decision(ticket)
    assert ticket.status == Status.NEW and decision.action == Outcome.HUMAN and decision.second_look_at is None
    assert "pas de réponse assez sûre" in decision.notes[-1]


def test_a_confident_lexical_match_is_answered_at_once_without_embedding(encoder, make_ticket):
    embedded = encoder.calls["queries"]
    ticket = make_ticket(topic="autre", subject="Clôture", body="Quand est la clôture ?")
    assert ticket.status == Status.AUTO_ANSWERED
    assert expert.latest_decision(ticket).second_look_at is None
    assert encoder.calls["queries"] == embedded


def test_rules_that_route_or_require_a_person_get_no_second_look(encoder, make_ticket):
    ticket = make_ticket(topic="autre", subject="Avenant", body="Mon compte est bloqué, comment faire un avenant ?")
    decision = expert.latest_decision(ticket)
    assert decision.action == Outcome.ROUTED and decision.second_look_at is None


def test_inline_matching_when_the_setting_is_off(app, encoder, make_ticket, monkeypatch):
    monkeypatch.setitem(app.config, "KB_SEMANTIC_AFTER_COMMIT", False)
    embedded = encoder.calls["queries"]
    ticket = make_ticket(topic="autre", **PARAPHRASE)
    assert encoder.calls["queries"] == embedded + 1
    assert ticket.status == Status.AUTO_ANSWERED
    assert expert.latest_decision(ticket).second_look_at is None


@pytest.mark.committed
def test_the_outbox_worker_runs_the_second_look_before_dispatching(app, encoder, make_ticket, monkeypatch):
    assert registry.worker_jobs(app)[:1] == ["triage_second_look"]
    server = SmtpCatcher().start()
    try:
        for key, value in server.config().items():
            monkeypatch.setitem(app.config, key, value)
        ticket = make_ticket(topic="autre", requester_email="bloque@labo.example", **PARAPHRASE)
        db.session.commit()
        assert run_worker(app, max_rounds=1) == 1
    finally:
        server.stop()
    db.session.expire_all()
    assert ticket.status == Status.AUTO_ANSWERED
    # one round: the acknowledgement and the answer the second look wrote both left, in that order
    assert [m.status for m in _answer_mails(ticket)] == [OutboxStatus.SENT]
    assert [m["To"] for m in server.messages] == ["bloque@labo.example"] * 2
    assert "Une réponse à votre question" in server.messages[1]["Subject"]

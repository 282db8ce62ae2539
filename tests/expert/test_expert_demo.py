"""The issue's « done means », through the real demo seeders (accounts, knowledge base, rules, référents)."""

from __future__ import annotations

import pytest

from crm.core import registry
from expert import services
from expert.models import Outcome
from tickets.models import AuthorKind, Status, Ticket


@pytest.fixture
def demo(app):
    """Run the demo seeders up to the tickets' reference data (no sample tickets)."""
    context: dict = {"n_tickets": 0}
    for order, _name, seed in registry.seeders(app):
        if order <= 30:
            seed(context)
    return context


def submit(client, subject: str, message: str, topic: str) -> Ticket:
    """File a request through the public form, as an anonymous requester."""
    response = client.post("/demande", data={
        "name": "Julie Fontaine", "email": "julie.fontaine@univ-exemple.fr", "topic": topic,
        "subject": subject, "message": message})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    return Ticket.query.order_by(Ticket.id.desc()).first()


def test_deadline_question_is_answered_with_the_right_article_once_its_call_is_known(client, demo):
    ticket = submit(client, "Date limite", "Quelle est la date limite pour déposer ma proposition ?", "calendrier")
    assert ticket.status == Status.NEW  # the deadline article is about some calls only: which one? (issue 11)
    follow = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Quel appel à projets votre question concerne-t-elle ?" in follow
    client.post(f"/demandes/{ticket.reference}/appel", data={"appel": "AAPG-2026"})
    assert ticket.status == Status.AUTO_ANSWERED
    decision = services.latest_decision(ticket)
    assert decision.outcome == Outcome.AUTO_ANSWERED and decision.call_source == "choice"
    assert decision.candidates[0]["external_id"] == "cal-date-limite-depot"
    answer = next(m for m in ticket.public_messages if m.author_kind == AuthorKind.SYSTEM)
    assert "Quelle est la date limite pour déposer ma proposition ?" in answer.body
    follow = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)  # the session holds the key
    assert "Cela répond à ma question" in follow


def test_amendment_question_goes_to_the_amendment_referents_with_the_rule_shown(client, demo, login):
    ticket = submit(client, "Prolongation de notre projet",
                    "Nous souhaitons prolonger notre projet de 6 mois, comment faire un avenant ?", "depot")
    assert ticket.queue.slug == "referents-amendements"
    assert ticket.assignee == demo["users"]["referent"]
    decision = services.latest_decision(ticket)
    assert decision.outcome == Outcome.ROUTED
    explanation = decision.explanations[0]
    assert explanation.startswith("règle R3 « Avenants et modifications du projet » : mot-clé « prolongation » trouvé")
    assert explanation.split("→")[1].strip().startswith("Référents conventionnement et avenants")
    client.post("/deconnexion")
    login(demo["users"]["referent"], password=demo["password"])
    page = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "règle R3 « Avenants et modifications du projet » : mot-clé « prolongation » trouvé" in page

"""« Quel appel votre question concerne-t-elle ? » over HTTP (issue 11, part 2): the form's call, the follow page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.core import registry
from crm.core.extensions import db
from crm.organisations.models import OrgKind
from crm.projects.models import Call, CallState
from expert import services as expert
from tests.factories_crm import make_org, make_partner, make_person, make_project, portal_user
from tickets.models import AuthorKind, Status, Ticket

REQUESTER = {"name": "Julie Fontaine", "email": "julie.fontaine@univ-exemple.fr"}
DEADLINE = {"topic": "calendrier", "subject": "Date limite",
            "message": "Bonjour, quelle est la date limite pour déposer ma proposition ? Merci."}


@pytest.fixture
def demo(app):
    """The demo seeders up to the tickets' reference data: calls, knowledge base, rules (no sample tickets)."""
    context: dict = {"n_tickets": 0}
    for order, _name, seed in registry.seeders(app):
        if order <= 30:
            seed(context)
    return context


def submit(client, **fields) -> Ticket:
    response = client.post("/demande", data={**REQUESTER, **DEADLINE, **fields})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return db.session.scalar(sa.select(Ticket).order_by(Ticket.id.desc()).limit(1))


def test_the_form_offers_the_calls_and_its_choice_decides(client, demo):
    page = client.get("/demande").get_data(as_text=True)
    assert "Appel à projets concerné (facultatif)" in page
    assert "Extensions territoriales 2026 (ETER-2026)" in page
    ticket = submit(client, call="ETER-2026")
    decision = expert.latest_decision(ticket)
    assert (decision.call_code, decision.call_source) == ("ETER-2026", "form")
    assert ticket.status == Status.NEW and decision.call_choices == []  # no article for this call: a person
    assert decision.notes[0].startswith("appel détecté : Extensions territoriales 2026 (ETER-2026)")
    assert "Quel appel à projets" not in client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    answered = submit(client, call="AAPG-2026")
    assert answered.status == Status.AUTO_ANSWERED


def test_the_form_refuses_a_call_it_does_not_offer(client, demo):
    response = client.post("/demande", data={**REQUESTER, **DEADLINE, "call": "INCONNU-2026"})
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_the_issue_question_goes_to_a_person_with_the_call_shown_to_the_agent(client, demo, login):
    ticket = submit(client, subject="Extensions territoriales",
                    message="Quelle est la date limite de dépôt pour l'appel Extensions territoriales ?")
    assert ticket.status == Status.NEW
    assert not [m for m in ticket.messages if m.author_kind == AuthorKind.SYSTEM]
    client.post("/deconnexion")
    login(demo["users"]["agent"], password=demo["password"])
    page = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "appel détecté : Extensions territoriales 2026 (ETER-2026)" in page


def test_one_click_on_the_follow_page_gives_the_call_and_the_answer(client, demo):
    ticket = submit(client)
    assert ticket.status == Status.NEW
    page = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Quel appel à projets votre question concerne-t-elle ?" in page
    for label in ("Appel à projets générique 2026 (AAPG-2026)", "Jeunes chercheuses et jeunes chercheurs 2026",
                  "Un autre appel, ou je ne sais pas"):
        assert label in page
    response = client.post(f"/demandes/{ticket.reference}/appel", data={"appel": "JCJC-2026"})
    assert response.status_code == 302
    assert ticket.status == Status.AUTO_ANSWERED
    decision = expert.latest_decision(ticket)
    assert (decision.call_code, decision.call_source, decision.outcome) == ("JCJC-2026", "choice", "auto_answered")
    assert "call_chosen" in [e.kind for e in ticket.events]
    page = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Cela répond à ma question" in page and "Quel appel à projets" not in page
    again = client.post(f"/demandes/{ticket.reference}/appel", data={"appel": "AAPG-2026"}, follow_redirects=True)
    assert "attend plus de précision" in again.get_data(as_text=True)
    assert expert.latest_decision(ticket).id == decision.id


def test_another_call_leaves_the_request_with_a_person(client, demo):
    ticket = submit(client)
    client.post(f"/demandes/{ticket.reference}/appel", data={"appel": "autre"})
    decision = expert.latest_decision(ticket)
    assert ticket.status == Status.NEW and decision.call_choices == []
    assert decision.notes[-1] == "le demandeur indique un autre appel ou ne sait pas : traitement par un conseiller"
    assert "Quel appel à projets" not in client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)


def test_a_call_not_offered_is_refused_and_only_the_requester_may_choose(client, app, demo):
    ticket = submit(client)
    page = client.post(f"/demandes/{ticket.reference}/appel", data={"appel": "ETER-2026"}, follow_redirects=True)
    assert "pas proposé pour cette demande" in page.get_data(as_text=True)
    assert ticket.status == Status.NEW and expert.latest_decision(ticket).call_choices
    stranger = app.test_client()
    assert stranger.post(f"/demandes/{ticket.reference}/appel", data={"appel": "AAPG-2026"}).status_code == 404
    assert ticket.status == Status.NEW


def test_once_an_agent_takes_the_request_the_question_is_no_longer_asked(client, demo):
    ticket = submit(client)
    ticket.assignee = demo["users"]["agent"]
    db.session.flush()
    assert "Quel appel à projets" not in client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    client.post(f"/demandes/{ticket.reference}/appel", data={"appel": "AAPG-2026"})
    assert ticket.status == Status.NEW


def test_the_form_is_pre_filled_with_the_call_of_a_known_persons_only_project(client, login, make_user,
                                                                            reference_data):
    db.session.add_all([Call(code="AAPG-2025", name="Appel à projets générique 2025", year=2025,
                             state=CallState.CLOSED, acronyms=["AAPG"]),
                        Call(code="AAPG-2026", name="Appel à projets générique 2026", year=2026,
                             state=CallState.OPEN, acronyms=["AAPG"])])
    lead = make_person(email="claire.lead@univ-x.example", last_name="Lead")
    project = make_project(reference="ANR-25-CE01-0042", acronym="SEUL", call_code="AAPG2025")
    make_partner(project, make_org(OrgKind.HEADQUARTERS, name="Université X"), scientific_lead=lead)
    login(portal_user(make_user, lead))
    html = client.get("/demande").get_data(as_text=True)
    assert '<option selected value="AAPG-2025">Appel à projets générique 2025 (AAPG-2025)</option>' in html
    assert '<option value="AAPG-2026">' in html

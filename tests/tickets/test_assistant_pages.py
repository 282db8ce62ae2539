"""The assistant's pages without JavaScript (issue 14, part 1): each turn a POST then a redirect, access, handover."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import g

from crm.core import registry
from crm.core.extensions import db
from expert.models import AssistantConversation, ConversationStatus
from tests.conftest import PASSWORD
from tickets.models import Priority, Ticket

DEMO_SEEDERS = (12, 20, 25, 30)  # calls, knowledge base, rules, queues and topics: no accounts (fast)
DEADLINE = "Quelle est la date limite pour déposer ma proposition ?"


@pytest.fixture
def demo(app):
    context: dict = {"n_tickets": 0}
    for order, _name, seed in registry.seeders(app):
        if order in DEMO_SEEDERS:
            seed(context)
    return context


def ask(client, text, public_id=None):
    """Start a conversation (or continue one); returns the conversation and the page it redirects to."""
    url = f"/aide/assistant/{public_id}/question" if public_id else "/aide/assistant"
    response = client.post(url, data={"question": text})
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    location = response.headers["Location"]
    found = re.search(r"/aide/assistant/([\w-]+)#tour-(\d+)$", location)
    assert found, location
    conversation = db.session.scalar(sa.select(AssistantConversation)
                                     .where(AssistantConversation.public_id == found[1]))
    return conversation, client.get(location.split("#")[0]).get_data(as_text=True), int(found[2])


def test_the_help_page_and_the_request_form_offer_the_assistant(client, demo):
    for url in ("/aide", "/demande"):
        page = client.get(url).get_data(as_text=True)
        assert "Posez votre question à l'assistant" in page and 'action="/aide/assistant"' in page
        assert ("Ou posez directement votre question à un conseiller" in page) == (url == "/aide")


def test_a_confident_answer_with_its_source_focused_then_resolved(client, demo):
    conversation, page, anchor = ask(client, "Comment prolonger la durée de mon projet ?")
    assert anchor == 2
    assert 'id="tour-2" tabindex="-1" autofocus' in page and 'role="log" aria-live="polite"' in page
    assert "Comment prolonger la durée de mon projet ?" in page
    assert "Source : article « Comment prolonger" in page and "Sans date de fin de validité." in page
    assert "Poser ma question à un conseiller" in page and "Ma question est résolue" in page
    response = client.post(f"/aide/assistant/{conversation.public_id}/resolue")
    assert response.status_code == 303
    assert conversation.status == ConversationStatus.RESOLVED
    assert "cette conversation est close" in client.get(f"/aide/assistant/{conversation.public_id}").get_data(
        as_text=True)


def test_the_call_question_is_one_click_per_call(client, demo):
    conversation, page, _anchor = ask(client, DEADLINE)
    assert "Votre question concerne-t-elle l’appel « Appel à projets générique 2026 (AAPG-2026) » ou l’appel" in page
    assert 'name="choix" value="AAPG-2026"' in page and "Un autre appel, ou je ne sais pas" in page
    response = client.post(f"/aide/assistant/{conversation.public_id}/choix", data={"choix": "AAPG-2026"})
    assert response.status_code == 303 and response.headers["Location"].endswith("#tour-4")
    page = client.get(f"/aide/assistant/{conversation.public_id}").get_data(as_text=True)
    assert "Vaut pour : AAPG-2026" in page and 'name="choix"' not in page
    bad = client.post(f"/aide/assistant/{conversation.public_id}/choix", data={"choix": "AAPG-2026"},
                      follow_redirects=True)
    assert "Aucune question ne vous est posée" in bad.get_data(as_text=True)


def test_bad_questions_are_refused_and_keep_nothing(client, demo):
    assert client.post("/aide/assistant", data={"question": "  "}).status_code == 422
    assert client.post("/aide/assistant", data={"question": "x" * 20_001}).status_code == 422
    assert client.post("/aide/assistant", data={"question": "Bonjour", "website": "robot"}).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AssistantConversation)) == 0


def test_another_visitor_gets_404_until_they_use_the_secret_link(app, client, demo):
    conversation, page, _anchor = ask(client, "Comment prolonger la durée de mon projet ?")
    link = re.search(r"(http://[^<\s]+\?cle=[\w-]+)", page)[1]
    stranger = app.test_client()
    base = f"/aide/assistant/{conversation.public_id}"
    assert stranger.get(base).status_code == 404
    assert stranger.post(f"{base}/question", data={"question": "Et ensuite ?"}).status_code == 404
    assert stranger.post(f"{base}/resolue").status_code == 404
    assert stranger.get(f"/demande?conversation={conversation.public_id}").status_code == 404
    assert stranger.get(f"{base}?cle=mauvaise-cle").status_code == 302
    assert stranger.get(base).status_code == 404
    assert len(conversation.turns) == 2
    opened = stranger.get(link.replace("http://localhost", ""))
    assert opened.status_code == 302 and "cle=" not in opened.headers["Location"]
    assert stranger.get(base).status_code == 200


def test_a_signed_in_persons_conversation_follows_the_account_only(app, client, demo, make_user, login):
    owner, other = make_user(), make_user()
    login(owner)
    conversation, _page, _anchor = ask(client, "Comment prolonger la durée de mon projet ?")
    assert conversation.user_id == owner.id

    def signed_in(user):
        g.pop("_login_user", None)  # the test's app context outlives requests: forget the user loaded there
        browser = app.test_client()
        browser.post("/connexion", data={"email": user.email, "password": PASSWORD})
        g.pop("_login_user", None)
        return browser

    assert signed_in(owner).get(f"/aide/assistant/{conversation.public_id}").status_code == 200  # another device
    intruder = signed_in(other)
    assert intruder.get(f"/aide/assistant/{conversation.public_id}").status_code == 404
    assert intruder.get(f"/demande?conversation={conversation.public_id}").status_code == 404


def test_handover_through_the_request_form_attaches_the_conversation(client, demo):
    conversation, _page, _anchor = ask(client, "Mon versement n'est pas arrivé, c'est urgent")
    form = client.get(f"/demande?conversation={conversation.public_id}").get_data(as_text=True)
    assert "Votre conversation avec l’assistant sera jointe à la demande" in form
    assert f'name="conversation" type="hidden" value="{conversation.public_id}"' in form
    assert "Mon versement n&#39;est pas arrivé, c&#39;est urgent</textarea>" in form
    assert '<option selected value="versements">' in form
    response = client.post("/demande", data={
        "name": "Julie Fontaine", "email": "julie.fontaine@univ-exemple.fr", "topic": "versements",
        "subject": "Versement", "message": "Mon versement n'est pas arrivé, c'est urgent",
        "conversation": conversation.public_id})
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    ticket = db.session.scalar(sa.select(Ticket))
    assert ticket.priority == Priority.HIGH and conversation.ticket_id == ticket.id
    assert "Échange avec l'assistant" in ticket.messages[0].body
    page = client.get(f"/aide/assistant/{conversation.public_id}").get_data(as_text=True)
    assert ticket.reference in page
    again = client.get(f"/demande?conversation={conversation.public_id}")
    assert again.status_code == 404  # handed over: not a second time


def test_managers_see_what_the_assistant_did_and_its_gaps(client, demo, make_user, login):
    conversation, _page, _anchor = ask(client, "Mon chat a mangé le câble de la plateforme")
    ask(client, DEADLINE)
    assert client.get("/aide/assistant/suivi").status_code in (302, 401, 403)
    login(make_user("manager"))
    page = client.get("/aide/assistant/suivi").get_data(as_text=True)
    assert "2 conversation(s)" in page and "Mon chat a mangé le câble" in page
    assert re.search(r"Avec une précision demandée \(appel ou sujet\)</th><td>1<", page)
    gaps = client.get("/responsable/expert").get_data(as_text=True)
    assert f"Assistant n° {conversation.id}" in gaps and "Mon chat a mangé le câble" in gaps

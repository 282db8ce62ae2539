"""Agents' full-text search: accents folded, subject, requester name and bodies, marks escaped, access, bad input."""

from __future__ import annotations

import pytest

from crm.core.extensions import db
from tickets import search, services
from tickets.models import Status
from tickets.queries import QueueFilters


@pytest.fixture
def found(make_ticket, make_user):
    """Four tickets: the word in a subject, in a requester's name, in a later message, nowhere."""
    agent = make_user("agent", name="Agent Recherche")
    subject = make_ticket(subject="Impossible de déposer le dossier", body="Le bouton ne répond pas.")
    name = make_ticket(subject="Question budgétaire", requester_name="Éloïse Brûlé", body="Quel plafond ?")
    body = make_ticket(subject="Relance", body="Bonjour.")
    services.reply_to_ticket(body, author=agent, body="Pour l'évaluation, <script>alert(1)</script> prolongation.")
    other = make_ticket(subject="Sans rapport", body="Rien à voir.")
    db.session.flush()
    return {"agent": agent, "subject": subject, "name": name, "body": body, "other": other}


def _refs(text: str, filters: QueueFilters | None = None) -> list[str]:
    return [hit.ticket.reference for hit in search.search_tickets(text, filters).hits]


def test_accents_folded_on_subject_name_and_bodies_with_marks(found):
    assert _refs("deposer") == [found["subject"].reference]
    assert _refs("DÉPOSER dossier") == [found["subject"].reference]
    assert _refs("eloise brule") == [found["name"].reference]
    assert _refs("evaluation") == [found["body"].reference]
    assert _refs('"Impossible de déposer"') == [found["subject"].reference]
    assert set(_refs("deposer OR prolongation")) == {found["subject"].reference, found["body"].reference}
    assert _refs("dossier -bouton") == []
    assert _refs("introuvablissime") == []
    hit = search.search_tickets("prolongation").hits[0]
    assert "<mark>prolongation</mark>" in hit.extract
    assert "<script>" not in hit.extract and "&lt;script&gt;" in hit.extract
    assert "<mark>" in search.search_tickets("brule").hits[0].requester_name


def test_search_keeps_the_queue_filters(found):
    closed = found["subject"]
    closed.status = Status.CLOSED
    db.session.flush()
    assert _refs("deposer") == [closed.reference]  # every status by default
    assert _refs("deposer", QueueFilters(statuses=(Status.NEW, Status.OPEN))) == []
    assert _refs("deposer", QueueFilters(queue_ids=(closed.queue_id + 1000,))) == []


def test_only_the_newest_matches_are_ranked_past_the_window(found, monkeypatch):
    page = search.search_tickets("deposer OR brule OR prolongation", per_page=1)
    assert (page.matches, page.window_full, page.has_next) == (3, False, True)
    monkeypatch.setattr(search, "RANK_WINDOW", 2)
    page = search.search_tickets("deposer OR brule OR prolongation")
    assert page.matches == 2 and page.window_full
    assert {hit.ticket.reference for hit in page.hits} == {found["name"].reference, found["body"].reference}


@pytest.mark.parametrize("text", ["", "   ", "le la de pour", "x" * 201, "-seulement", '"'])
def test_bad_input_is_a_clear_error(text):
    with pytest.raises(search.SearchError):
        search.parse(text)


def test_parse_and_fts5_expression_quote_everything():
    terms = search.parse('dépôt "date limite" OR avenant -brouillon NEAR(x) *')
    assert terms.groups == (("dépôt", "date limite"), ("avenant", "NEAR x"))
    assert terms.excluded == ("brouillon",)
    assert search.fts5_expression(terms) == ('(("dépôt" AND "date limite") OR ("avenant" AND "NEAR x")) '
                                             'NOT "brouillon"')
    assert search.highlighted("a\x02<b>\x03 \x03c\x02d") == "a<mark>&lt;b&gt;</mark> c<mark>d</mark>"


def test_search_page_not_for_visitors_nor_requesters(client, login, make_user):
    assert client.get("/agent/recherche?q=deposer").status_code == 302  # to the login page
    login(make_user("requester"))
    assert client.get("/agent/recherche?q=deposer").status_code == 403


def test_search_page_with_marks_and_messages(found, client, login):
    login(found["agent"])
    page = client.get("/agent/recherche?q=deposer").get_data(as_text=True)
    assert found["subject"].reference in page and found["other"].reference not in page
    assert "<mark>déposer</mark>" in page
    page = client.get("/agent/recherche?q=prolongation").get_data(as_text=True)
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    for text in ("le de", '"', "x" * 300):
        response = client.get("/agent/recherche", query_string={"q": text})
        assert response.status_code == 200
        assert 'role="alert"' in response.get_data(as_text=True)


def test_api_q_searches_full_text_and_explains_bad_input(found, client):
    from crm.core import services as accounts

    _token, clear = accounts.create_api_token(found["agent"], "tests")
    headers = {"Authorization": f"Bearer {clear}"}
    body = client.get("/api/v1/tickets?q=deposer&status=all", headers=headers).get_json()
    assert [t["reference"] for t in body["items"]] == [found["subject"].reference]
    assert body["pagination"]["total"] == 1
    reference = found["name"].reference
    assert [t["reference"] for t in client.get(f"/api/v1/tickets?q={reference}", headers=headers)
            .get_json()["items"]] == [reference]
    response = client.get("/api/v1/tickets?q=le de", headers=headers)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"]["query"]["q"]


def test_the_queue_links_to_the_search_with_its_words(client, login, make_user):
    login(make_user("agent"))
    page = client.get("/agent/file?q=prolongation").get_data(as_text=True)
    assert 'href="/agent/recherche?q=prolongation"' in page


def test_odd_search_text_never_fails(found, client, login):
    login(found["agent"])
    for text in ("abc\x02def", "'; drop table x", "é" * 199, "a:* & b | !c <-> d", "\u200b\ufeff", "OR OR", "-"):
        response = client.get("/agent/recherche", query_string={"q": text})
        assert response.status_code == 200, text

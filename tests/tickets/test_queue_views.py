"""The agent queue of issue 13: sortable columns, page count, built-in and saved views, bulk actions with their
confirmation (all or nothing, within the agent's scope, a bounded number of statements), the référent's landing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import g

from crm.core.extensions import db
from tests.conftest import PASSWORD
from tests.tickets.test_submission_statements import _measured_post
from tickets import queries
from tickets.models import QueueMember, SavedQueueView, Status, Ticket, TicketEvent
from tickets.queries import QueueFilters, list_tickets

MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def agent(make_user, login):
    return login(make_user("agent", name="Alice Agent"))


@pytest.fixture
def three(make_ticket):
    """Three active tickets: subjects B, A, C; priorities normal, urgent, low."""
    return [make_ticket(subject=subject, priority=priority, created_at=MONDAY_10H + timedelta(minutes=i))
            for i, (subject, priority) in enumerate((("Bravo", "normal"), ("alpha", "urgent"), ("Charlie", "low")))]


def _switch() -> None:
    """Forget the signed-in user kept on `g`: the test's application context outlives each request."""
    g.pop("_login_user", None)


def _html(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def _order(html: str, tickets) -> list[str]:
    return sorted((t.subject for t in tickets), key=lambda s: html.index(f'guichet-subject">{s}<'))


def _header(html: str, label: str) -> str:
    return re.search(r'<th scope="col"[^>]*><a class="guichet-sort"[^>]*>' + label + r"\b", html).group(0)


def test_every_sort_is_stable_and_ordered(three):
    for sort in queries.SORTS:
        refs = [t.subject for t in list_tickets(QueueFilters(sort=sort)).items]
        assert sorted(refs) == ["Bravo", "Charlie", "alpha"], sort
    subjects = [t.subject for t in list_tickets(QueueFilters(sort="subject")).items]
    assert subjects == ["alpha", "Bravo", "Charlie"]  # case folded
    assert [t.priority for t in list_tickets(QueueFilters(sort="priority")).items] == ["urgent", "normal", "low"]
    references = [t.reference for t in list_tickets(QueueFilters(sort="reference_desc")).items]
    assert references == sorted(references, reverse=True)


def test_sortable_headers_with_aria_sort(client, agent, three):
    html = _html(client, "/agent/file?tri=subject&priorite=")
    assert _order(html, three) == ["alpha", "Bravo", "Charlie"]
    header = _header(html, "Objet")
    assert 'aria-sort="ascending"' in header and "tri=subject_desc" in header
    assert "aria-sort" not in _header(html, "Référence")
    html = _html(client, "/agent/file?tri=subject_desc")
    assert _order(html, three) == ["Charlie", "Bravo", "alpha"]
    assert 'aria-sort="descending"' in _header(html, "Objet")
    html = _html(client, "/agent/file?tri=priority")
    assert _order(html, three) == ["alpha", "Bravo", "Charlie"]
    assert 'aria-sort="descending"' in _header(html, "Priorité") and "tri=priority_asc" in _header(html, "Priorité")
    # the default sort is the due time's, and references stay on one line
    assert 'aria-sort="ascending"' in _header(_html(client, "/agent/file"), "Délai")
    assert 'class="guichet-ref"' in html


def test_page_count_and_links_keep_the_filters(client, agent, three, make_ticket, monkeypatch):
    monkeypatch.setattr(queries, "PER_PAGE", 2)
    make_ticket(subject="Delta", created_at=MONDAY_10H)
    html = _html(client, "/agent/file?tri=subject&page=2")
    assert "Page 2 sur 2" in html and 'rel="prev"' in html and 'rel="next"' not in html
    previous = re.search(r'href="([^"]+)" rel="prev"', html).group(1)
    assert "tri=subject" in previous and "page=1" in previous
    assert _order(html, [t for t in three if t.subject == "Charlie"]) == ["Charlie"]


def test_built_in_views(client, agent, three, make_user, reference_data):
    mine, other_queue, unassigned = three
    queue = reference_data["queues"]["referents-amendements"]
    db.session.add(QueueMember(queue=queue, user=agent))
    mine.assignee = agent
    other_queue.queue = queue
    colleague = make_user("agent")
    unassigned.assignee = colleague
    unassigned.priority = "low"
    db.session.flush()
    html = _html(client, "/agent/file?attribution=me")
    assert mine.reference in html and other_queue.reference not in html
    assert re.search(r'aria-current="page">Mes demandes<', html)
    html = _html(client, "/agent/file?attribution=group")
    assert mine.reference in html and other_queue.reference in html and unassigned.reference not in html
    html = _html(client, "/agent/file?attribution=none")
    assert other_queue.reference in html and mine.reference not in html and unassigned.reference not in html
    assert "Non attribuées</a>" in html
    assert 'href="/agent/file?sla=at_risk"' in html


def test_saved_views_are_personal_and_deletable(client, agent, make_user, login, app):
    response = client.post("/agent/file/vues", data={"nom": "Urgentes", "requete": "priorite=urgent&page=3&x=1"})
    assert response.status_code == 302 and "priorite=urgent" in response.headers["Location"]
    view = db.session.scalar(sa.select(SavedQueueView).where(SavedQueueView.user_id == agent.id))
    assert (view.name, view.query) == ("Urgentes", "priorite=urgent")
    html = _html(client, "/agent/file?priorite=urgent")
    assert re.search(r'href="/agent/file\?priorite=urgent"\s+aria-current="page">Urgentes<', html)
    assert client.post("/agent/file/vues", data={"nom": "", "requete": ""}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(SavedQueueView.id))) == 1
    other = app.test_client()
    colleague = make_user("agent")
    db.session.commit()
    _switch()
    assert other.post("/connexion", data={"email": colleague.email, "password": PASSWORD}).status_code == 302
    assert other.post(f"/agent/file/vues/{view.id}/supprimer").status_code == 404
    assert "Urgentes" not in _html(other, "/agent/file")
    _switch()
    assert client.post(f"/agent/file/vues/{view.id}/supprimer").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(SavedQueueView.id))) == 0


def _events(ticket, kind: str) -> int:
    return db.session.scalar(sa.select(sa.func.count(TicketEvent.id)).where(TicketEvent.ticket_id == ticket.id,
                                                                           TicketEvent.kind == kind))


def _bulk(tickets, **data) -> dict:
    return {"demandes": [t.id for t in tickets], "retour": "tri=subject", **data}


def test_bulk_needs_its_confirmation_then_applies_each_tickets_events(client, agent, three):
    db.session.commit()
    data = _bulk(three, action="priority", priorite_cible="high")
    html = _html(client, "/agent/file/lot?" + "&".join(f"demandes={t.id}" for t in three)
                 + "&action=priority&priorite_cible=high&retour=tri%3Dsubject")
    assert all(t.reference in html for t in three) and "Urgente → Haute" in html
    assert 'name="confirmer" value="1"' in html and 'name="csrf_token"' in html
    response = client.post("/agent/file/lot", data=data)  # no confirmer: the confirmation again, nothing done
    assert response.status_code == 200
    assert {db.session.get(Ticket, t.id).priority for t in three} == {"normal", "urgent", "low"}
    statements, commits, response = _measured_post(client, {**data, "confirmer": "1"}, "/agent/file/lot")
    assert response.status_code == 302 and response.headers["Location"].endswith("/agent/file?tri=subject")
    db.session.expire_all()
    assert {db.session.get(Ticket, t.id).priority for t in three} == {"high"}
    assert all(_events(t, "priority") == 1 for t in three)
    # the selection and choices once, then each ticket's own service statements (6 to 7 on SQLite and PostgreSQL)
    assert commits == 1 and len(statements) <= 6 + 7 * len(three), statements
    assert "Action groupée appliquée : 3 demandes modifiées." in _html(client, "/agent/file")


def test_bulk_is_all_or_nothing_within_scope(client, agent, three, make_user, app):
    closed = three[2]
    closed.status = Status.CLOSED
    db.session.commit()
    response = client.post("/agent/file/lot", data=_bulk(three, action="assign_me", confirmer="1"))
    assert response.status_code == 422 and f"{closed.reference} : la demande est clôturée" in response.get_data(
        as_text=True)
    db.session.expire_all()
    assert all(db.session.get(Ticket, t.id).assignee_id is None for t in three)
    # a référent acts on their own questions only: another queue's ticket is out of scope
    referent = make_user("referent")
    db.session.commit()
    other = app.test_client()
    _switch()
    assert other.post("/connexion", data={"email": referent.email, "password": PASSWORD}).status_code == 302
    response = other.post("/agent/file/lot", data=_bulk(three[:1], action="assign_me", confirmer="1"))
    assert response.status_code == 422 and "hors de votre périmètre" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Ticket, three[0].id).assignee_id is None


def test_bulk_close_as_duplicates(client, agent, three, make_ticket):
    target = make_ticket(subject="Originale")
    db.session.commit()
    data = _bulk(three[:2], action="duplicate", doublon=target.reference.lower(), confirmer="1")
    response = client.post("/agent/file/lot", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    for ticket in three[:2]:
        row = db.session.get(Ticket, ticket.id)
        assert row.status == Status.CLOSED and row.merged_into_id == target.id and _events(row, "merged") == 1
    assert _events(target, "merged_from") == 2
    # an unknown reference, or a field the action needs left empty: refused, explained
    html = _html(client, f"/agent/file/lot?demandes={three[2].id}&action=duplicate&doublon=DEM-1999-000001", 422)
    assert "Aucune demande ne porte la référence DEM-1999-000001" in html
    response = client.get(f"/agent/file/lot?demandes={three[2].id}&action=queue")
    assert response.status_code == 302
    assert "nécessaire pour cette action" in _html(client, "/agent/file")


def test_referent_lands_on_their_questions_with_their_load(client, make_user, login, make_ticket, reference_data):
    referent = make_user("referent", name="Rémi Référent")
    queue = reference_data["queues"]["referents-amendements"]
    db.session.add(QueueMember(queue=queue, user=referent))
    routed = make_ticket(subject="Avenant")
    routed.queue = queue
    late = make_ticket(subject="Retard", created_at=datetime(2025, 1, 6, 9, tzinfo=UTC))
    late.assignee = referent
    other = make_ticket(subject="Autre file")
    db.session.commit()
    login(referent)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/agent/file?attribution=group")
    html = _html(client, "/agent/file?attribution=group")
    assert routed.reference in html and late.reference in html and other.reference not in html
    assert "Ma charge" in html and "2 questions ouvertes" in html and "en dépassement : 1." in html
    assert queries.workload(referent.id).assigned == 1



@pytest.mark.committed  # the second application reads what the test wrote through its own connection
def test_bulk_and_saved_views_need_the_csrf_token(app, make_ticket, make_user):
    from crm import create_app

    ticket = make_ticket()
    user = make_user("agent")
    db.session.commit()
    secure = create_app(dict({k: v for k, v in app.config.items() if k != "SERVER_NAME"}, WTF_CSRF_ENABLED=True))
    try:
        client = secure.test_client()
        _switch()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                          client.get("/connexion").get_data(as_text=True)).group(1)
        response = client.post("/connexion", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        html = _html(client, f"/agent/file/lot?demandes={ticket.id}&action=priority&priorite_cible=urgent")
        confirm = re.search(r'<form method="post" action="/agent/file/lot".*?</form>', html, re.S).group(0)
        assert 'name="csrf_token"' in confirm and 'name="confirmer" value="1"' in confirm
        data = {"demandes": [ticket.id], "action": "priority", "priorite_cible": "urgent", "confirmer": "1"}
        assert client.post("/agent/file/lot", data=data).status_code == 400
        assert client.post("/agent/file/vues", data={"nom": "Sans jeton"}).status_code == 400
        with secure.app_context():
            assert db.session.get(Ticket, ticket.id).priority == "normal"
            assert db.session.scalar(sa.select(sa.func.count(SavedQueueView.id))) == 0
    finally:
        _switch()
        with secure.app_context():
            db.engine.dispose()

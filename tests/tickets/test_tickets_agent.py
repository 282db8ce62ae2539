"""Agent side: queue queries (filters, default sort, pagination) and the agent pages and actions."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from tickets import queries, services
from tickets.models import SlaState, Status, Ticket, Topic
from tickets.queries import QueueFilters, list_tickets, queue_query

# Monday 2 November 2026, 10:00 in Paris (09:00 UTC): inside office hours.
MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n%%EOF\n"



def _refs(filters=None, **kw):
    return [t.reference for t in list_tickets(filters or QueueFilters(), **kw).items]


# --- queries -----------------------------------------------------------------------------------------


def test_default_sort_is_next_due_then_id_nulls_last(make_ticket, make_user):
    agent = make_user("agent")
    normal = make_ticket(created_at=MONDAY_10H)
    urgent = make_ticket(priority="urgent", created_at=MONDAY_10H + timedelta(hours=1))
    waiting = make_ticket(created_at=MONDAY_10H - timedelta(hours=1))
    services.put_on_hold(waiting, by=agent, now=MONDAY_10H + timedelta(hours=2))
    assert waiting.next_due_at is None
    same_due = make_ticket(created_at=MONDAY_10H)
    assert same_due.next_due_at == normal.next_due_at
    db.session.flush()
    assert _refs() == [urgent.reference, normal.reference, same_due.reference, waiting.reference]


def test_default_view_hides_inactive_and_status_filter(make_ticket, make_user):
    agent = make_user("agent")
    active = make_ticket(created_at=MONDAY_10H)
    done = make_ticket(created_at=MONDAY_10H)
    services.resolve_ticket(done, by=agent, now=MONDAY_10H + timedelta(hours=1))
    db.session.flush()
    assert _refs() == [active.reference]
    assert _refs(QueueFilters(statuses=(Status.RESOLVED,))) == [done.reference]
    assert _refs(QueueFilters(statuses=(Status.NEW,))) == [active.reference]
    both = _refs(QueueFilters(statuses=(Status.NEW, Status.RESOLVED)))
    assert sorted(both) == sorted([active.reference, done.reference])


def test_filters_queue_priority_topic_assignee_search(make_ticket, make_user):
    agent, other = make_user("agent"), make_user("agent")
    a = make_ticket(topic="avenant", created_at=MONDAY_10H, subject="Prolongation du projet")
    b = make_ticket(priority="high", created_at=MONDAY_10H, requester_email="zoe@univ.example")
    c = make_ticket(created_at=MONDAY_10H)
    services.claim_ticket(b, agent, now=MONDAY_10H)
    services.claim_ticket(c, other, now=MONDAY_10H)
    db.session.flush()
    avenant = db.session.scalar(sa.select(Topic).where(Topic.slug == "avenant"))
    assert _refs(QueueFilters(queue_ids=(a.queue_id,))) == [a.reference]
    assert _refs(QueueFilters(priorities=("high",))) == [b.reference]
    assert _refs(QueueFilters(topic_ids=(avenant.id,))) == [a.reference]
    assert _refs(QueueFilters(assignee="me", viewer_id=agent.id)) == [b.reference]
    assert _refs(QueueFilters(assignee="none")) == [a.reference]
    assert _refs(QueueFilters(assignee=other.id)) == [c.reference]
    assert len(_refs(QueueFilters(assignee="any"))) == 3
    assert _refs(QueueFilters(search="prolongation")) == [a.reference]
    assert _refs(QueueFilters(search="zoe@")) == [b.reference]
    assert _refs(QueueFilters(search=c.reference.lower())) == [c.reference]
    assert _refs(QueueFilters(search="100%_")) == []


def test_sla_state_filters(make_ticket):
    on_track = make_ticket(created_at=MONDAY_10H)
    at_risk = make_ticket(created_at=MONDAY_10H - timedelta(days=2))
    late = make_ticket(created_at=MONDAY_10H - timedelta(days=10))
    db.session.flush()
    now = at_risk.first_response_warn_at + timedelta(minutes=1)
    assert now < at_risk.first_response_due_at
    assert late.next_due_at <= now
    refs = {s: _refs(QueueFilters(sla_state=s, now=now)) for s in queries.SLA_FILTERS}
    assert refs[SlaState.BREACHED] == [late.reference]
    assert refs[SlaState.AT_RISK] == [at_risk.reference]
    assert refs[SlaState.ON_TRACK] == [on_track.reference]


def test_recorded_breach_counts_while_paused(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(created_at=MONDAY_10H)
    ticket.first_response_state = SlaState.BREACHED
    services.put_on_hold(ticket, by=agent, now=MONDAY_10H + timedelta(hours=1))
    ticket.first_response_state = SlaState.BREACHED
    db.session.flush()
    assert ticket.next_due_at is None
    assert _refs(QueueFilters(sla_state="breached")) == [ticket.reference]
    assert _refs(QueueFilters(sla_state="on_track")) == []


def test_pagination_offset_keyset_and_capped_count(make_ticket, monkeypatch):
    tickets = [make_ticket(created_at=MONDAY_10H + timedelta(minutes=i)) for i in range(7)]
    db.session.flush()
    expected = [t.reference for t in tickets]
    first = list_tickets(per_page=3, count=True)
    assert [t.reference for t in first.items] == expected[:3]
    assert first.has_next and not first.has_prev and first.total == 7
    third = list_tickets(page=3, per_page=3)
    assert [t.reference for t in third.items] == expected[6:]
    assert not third.has_next and third.has_prev
    following = list_tickets(per_page=3, after=first.next_cursor)
    assert [t.reference for t in following.items] == expected[3:6]
    monkeypatch.setattr(queries, "COUNT_CAP", 4)
    assert queries.count_tickets(cap=4) == 5


def test_queue_query_uses_the_partial_index_predicate(app):
    sql = str(queue_query().compile(db.engine, compile_kwargs={"literal_binds": True}))
    assert "status IN ('new', 'open', 'waiting_on_requester', 'auto_answered')" in sql
    assert "ORDER BY tickets.next_due_at ASC NULLS LAST, tickets.id ASC" in sql


def test_queue_first_page_plan_uses_index(app, make_ticket, dialect):
    for i in range(3):
        make_ticket(created_at=MONDAY_10H + timedelta(minutes=i))
    db.session.flush()
    if dialect == "postgresql":
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            db.session.execute(sa.text(f"SET LOCAL {setting} = off"))
        explain, sort_marker = "EXPLAIN", "Sort"
    else:
        db.session.execute(sa.text("ANALYZE"))
        explain, sort_marker = "EXPLAIN QUERY PLAN", "TEMP B-TREE"
    ticket = db.session.scalar(sa.select(Ticket))
    for filters, index in ((QueueFilters(), "ix_tickets_active_due"),
                           (QueueFilters(queue_ids=(ticket.queue_id,)), "ix_tickets_queue_active_due"),
                           (QueueFilters(assignee="none"), "_active_due")):
        compiled = queue_query(filters).limit(50).compile(db.engine, compile_kwargs={"literal_binds": True})
        rows = db.session.execute(sa.text(f"{explain} {compiled}")).all()
        plan = "\n".join(str(row[-1]) for row in rows)
        assert index in plan, plan
        assert sort_marker not in plan, plan


# --- pages and actions over HTTP ------------------------------------------------------------------------


@pytest.fixture
def agent(make_user, login):
    return login(make_user("agent", name="Alice Agent"))


def _post(client, url, data=None, **kw):
    """POST after making the fixtures' rows survive a rollback of the request (savepoint released)."""
    db.session.commit()
    return client.post(url, data=data or {}, **kw)


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_requesters_get_403_and_visitors_the_login_page(client, make_ticket, make_user, login):
    ticket = make_ticket()
    db.session.commit()
    urls = ["/agent/file", f"/agent/demandes/{ticket.reference}"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    login(make_user("requester"))
    for url in urls:
        assert client.get(url).status_code == 403
    for action in ("prendre", "resoudre", "note", "repondre", "attribuer", "modifier", "fusionner"):
        response = _post(client, f"/agent/demandes/{ticket.reference}/{action}", {"body": "x", "note": "x"})
        assert response.status_code == 403
    assert _post(client, "/agent/file/suivante").status_code == 403
    assert ticket.messages[-1].body == "Bonjour, comment déposer ma proposition ?"


def test_staff_home_and_menu(client, agent):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/agent/file")
    html = _page(client, "/agent/file")
    assert 'href="/agent/file"' in html and "File des demandes" in html
    assert "Poser une question" not in html


def test_queue_page_default_sort_filters_and_count(client, agent, make_ticket):
    normal = make_ticket(created_at=MONDAY_10H, subject="Question normale")
    urgent = make_ticket(priority="urgent", created_at=MONDAY_10H, subject="Question urgente")
    done = make_ticket(created_at=MONDAY_10H, subject="Question résolue")
    services.resolve_ticket(done, by=agent, now=MONDAY_10H + timedelta(hours=1))
    html = _page(client, "/agent/file")
    assert html.index(urgent.reference) < html.index(normal.reference)
    assert done.reference not in html
    assert "2 demandes" in html
    assert "fr-badge" in html and "guichet-sla--" in html
    html = _page(client, "/agent/file?priorite=urgent")
    assert urgent.reference in html and normal.reference not in html
    html = _page(client, "/agent/file?statut=resolved")
    assert done.reference in html and normal.reference not in html
    html = _page(client, "/agent/file?statut=toutes&tri=oldest")
    assert all(t.reference in html for t in (normal, urgent, done))
    html = _page(client, "/agent/file?q=normale")
    assert normal.reference in html and urgent.reference not in html
    html = _page(client, f"/agent/file?file={normal.queue_id}&attribution=none&sla=on_track&theme=")
    assert "Aucune demande ne correspond" in html or normal.reference in html
    # Unknown filter values are ignored rather than failing.
    assert client.get("/agent/file?statut=bidon&attribution=x&tri=y&page=-3").status_code == 200


def test_queue_filter_on_assignee_me_and_sla(client, agent, make_ticket, make_user):
    mine = make_ticket()
    services.claim_ticket(mine, agent)
    late = make_ticket(created_at=datetime(2025, 1, 6, 9, tzinfo=UTC))
    html = _page(client, "/agent/file?attribution=me")
    assert mine.reference in html and late.reference not in html
    html = _page(client, "/agent/file?attribution=none")
    assert late.reference in html and mine.reference not in html
    html = _page(client, "/agent/file?sla=breached")
    assert late.reference in html and mine.reference not in html
    assert 'guichet-sla--breached' in html


def test_queue_pagination(client, agent, make_ticket, monkeypatch):
    monkeypatch.setattr(queries, "PER_PAGE", 2)
    tickets = [make_ticket(created_at=MONDAY_10H + timedelta(minutes=i)) for i in range(5)]
    first = _page(client, "/agent/file")
    assert tickets[0].reference in first and tickets[2].reference not in first
    assert "page=2" in first and "Page 1 sur 3" in first
    second = _page(client, "/agent/file?page=2")
    assert tickets[2].reference in second and tickets[0].reference not in second
    assert 'rel="prev"' in second and 'rel="next"' in second
    last = _page(client, "/agent/file?page=3")
    assert tickets[4].reference in last and 'rel="next"' not in last


def test_queue_count_is_capped(client, agent, make_ticket, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    for i in range(3):
        make_ticket(created_at=MONDAY_10H + timedelta(minutes=i))
    assert "Plus de 2 demandes" in _page(client, "/agent/file")


def test_claim_next_takes_the_ticket_due_first(client, agent, make_ticket):
    later = make_ticket(created_at=MONDAY_10H)
    first = make_ticket(priority="urgent", created_at=MONDAY_10H)
    response = _post(client, "/agent/file/suivante")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/agent/demandes/{first.reference}")
    db.session.refresh(first)
    assert first.assignee_id == agent.id and first.status == Status.OPEN
    _post(client, "/agent/file/suivante")
    db.session.refresh(later)
    assert later.assignee_id == agent.id
    response = _post(client, "/agent/file/suivante", follow_redirects=True)
    assert "Aucune demande non attribuée" in response.get_data(as_text=True)


def test_ticket_page_shows_header_sla_messages_notes_timeline(client, agent, make_ticket, make_user):
    ticket = make_ticket(created_at=MONDAY_10H, project_reference="ANR-24-CE01-0001")
    services.add_internal_note(ticket, author=agent, body="Vérifier l'éligibilité", now=MONDAY_10H)
    services.claim_ticket(ticket, agent, now=MONDAY_10H)
    html = _page(client, f"/agent/demandes/{ticket.reference}")
    assert ticket.reference in html and "Question sur le dépôt" in html
    assert "Jeanne Demandeur" in html and "demandeur@labo.example" in html
    assert "Formulaire web" in html and "Support aux porteurs de projets" in html and "ANR-24-CE01-0001" in html
    assert "Standard" in html and ticket.sla_reason.replace("'", "&#39;")[:30] in html
    assert "Première réponse" in html and "Résolution" in html and "guichet-sla--" in html
    assert "du délai écoulé" in html or "Délai dépassé" in html
    assert "guichet-note" in html and "Vérifier l&#39;éligibilité" in html
    assert "Demande créée" in html and "Prise en charge" in html and "Nouvelle → En cours" in html
    assert "Accusé de réception détaillé" in html  # a global saved reply
    assert "Pièces manquantes" in html  # a saved reply of the support queue
    assert "Demande d&#39;avenant : procédure" not in html  # another queue's saved reply


def test_claim_and_conflict(client, agent, make_ticket, make_user):
    ticket = make_ticket()
    other = make_user("agent", name="Bob")
    services.claim_ticket(ticket, other)
    response = _post(client, f"/agent/demandes/{ticket.reference}/prendre")
    assert response.status_code == 422 and "déjà prise par Bob" in response.get_data(as_text=True)
    free = make_ticket()
    assert _post(client, f"/agent/demandes/{free.reference}/prendre").status_code == 302
    db.session.refresh(free)
    assert free.assignee_id == agent.id


def test_assign_to_staff_only(client, agent, make_ticket, make_user):
    ticket = make_ticket()
    colleague = make_user("referent", name="Claire Référente")
    requester = make_user("requester")
    assert _post(client, f"/agent/demandes/{ticket.reference}/attribuer", {"assignee": colleague.id}).status_code == 302
    db.session.refresh(ticket)
    assert ticket.assignee_id == colleague.id
    response = _post(client, f"/agent/demandes/{ticket.reference}/attribuer", {"assignee": requester.id})
    assert response.status_code == 422
    db.session.refresh(ticket)
    assert ticket.assignee_id == colleague.id
    assert _post(client, f"/agent/demandes/{ticket.reference}/attribuer", {"assignee": ""}).status_code == 302
    db.session.refresh(ticket)
    assert ticket.assignee_id is None


def test_public_reply_reaches_the_requester(client, app, agent, make_ticket):
    ticket = make_ticket()
    response = _post(client, f"/agent/demandes/{ticket.reference}/repondre",
                     {"body": "Voici la marche à suivre.", "next_status": "",
                      "attachments": [(io.BytesIO(PDF), "guide.pdf")]}, content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.first_responded_at is not None and ticket.status == Status.OPEN
    reply = ticket.messages[-1]
    assert reply.body == "Voici la marche à suivre." and not reply.internal
    download = client.get(f"/agent/pieces-jointes/{reply.attachments[0].id}", buffered=True)
    download.close()
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    from flask import g

    g.pop("_login_user", None)  # the test's app context outlives requests: forget the agent loaded there
    requester = app.test_client()
    requester.get(f"/demandes/{ticket.reference}?cle={ticket.access_key}")
    html = requester.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Voici la marche à suivre." in html and "guide.pdf" in html


def test_reply_can_resolve_or_wait_and_empty_reply_is_refused(client, agent, make_ticket):
    ticket = make_ticket()
    url = f"/agent/demandes/{ticket.reference}/repondre"
    response = _post(client, url, {"body": "   "})
    assert response.status_code == 422
    assert len(ticket.messages) == 1
    _post(client, url, {"body": "Pouvez-vous préciser ?", "next_status": "waiting_on_requester"})
    db.session.refresh(ticket)
    assert ticket.status == Status.WAITING and ticket.sla_paused
    _post(client, url, {"body": "C'est réglé.", "next_status": "resolved"})
    db.session.refresh(ticket)
    assert ticket.status == Status.RESOLVED


def test_refused_reply_keeps_the_text(client, agent, make_ticket):
    ticket = make_ticket()
    response = _post(client, f"/agent/demandes/{ticket.reference}/repondre",
                     {"body": "Mon long texte soigneusement rédigé",
                      "attachments": [(io.BytesIO(b"MZ"), "outil.exe")]}, content_type="multipart/form-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "type de fichier non accepté" in html and "Mon long texte soigneusement rédigé" in html
    db.session.refresh(ticket)
    assert len(ticket.messages) == 1 and ticket.first_responded_at is None


def test_insert_canned_response_without_javascript(client, agent, make_ticket):
    from tickets.models import CannedResponse

    ticket = make_ticket()
    canned = db.session.scalar(sa.select(CannedResponse).where(CannedResponse.title == "Pièces manquantes"))
    response = _post(client, f"/agent/demandes/{ticket.reference}/repondre",
                     {"body": "Bonjour Madame,", "canned": canned.id, "insert": "Insérer"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Bonjour Madame," in html and "pourriez-vous nous transmettre les pièces suivantes" in html
    db.session.refresh(ticket)
    assert len(ticket.messages) == 1  # nothing sent


def test_internal_note(client, agent, make_ticket):
    ticket = make_ticket()
    assert _post(client, f"/agent/demandes/{ticket.reference}/note", {"note": "À voir avec la DAF"}).status_code == 302
    db.session.refresh(ticket)
    assert ticket.messages[-1].internal and ticket.messages[-1].body == "À voir avec la DAF"
    assert ticket.first_responded_at is None
    assert _post(client, f"/agent/demandes/{ticket.reference}/note", {"note": ""}).status_code == 422


def test_change_priority_topic_queue(client, agent, make_ticket):
    ticket = make_ticket()
    topic = db.session.scalar(sa.select(Topic).where(Topic.slug == "avenant"))
    queue = topic.default_queue
    response = _post(client, f"/agent/demandes/{ticket.reference}/modifier",
                     {"priority": "high", "topic": topic.id, "queue": queue.id})
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert (ticket.priority, ticket.topic_id, ticket.queue_id) == ("high", topic.id, queue.id)
    assert ticket.sla_policy.name == "Standard — priorité haute"
    html = _page(client, f"/agent/demandes/{ticket.reference}")
    assert "Priorité modifiée" in html and "Normale → Haute" in html and "File modifiée" in html
    assert _post(client, f"/agent/demandes/{ticket.reference}/modifier",
                 {"priority": "énorme", "queue": queue.id}).status_code == 422


def test_hold_resolve_reopen(client, agent, make_ticket):
    ticket = make_ticket()
    base = f"/agent/demandes/{ticket.reference}"
    assert _post(client, base + "/attente").status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.WAITING
    response = _post(client, base + "/rouvrir")
    assert response.status_code == 422 and "Seule une demande résolue" in response.get_data(as_text=True)
    assert _post(client, base + "/resoudre").status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.RESOLVED
    assert _post(client, base + "/rouvrir").status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN


def test_merge_into_another_reference(client, agent, make_ticket):
    duplicate = make_ticket(subject="Doublon")
    kept = make_ticket(subject="Originale")
    response = _post(client, f"/agent/demandes/{duplicate.reference}/fusionner", {"target": "DEM-2026-999999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Aucune demande ne porte la référence" in html and 'value="DEM-2026-999999"' in html
    response = _post(client, f"/agent/demandes/{duplicate.reference}/fusionner", {"target": kept.reference.lower()})
    assert response.status_code == 200 and "Confirmer la fusion" in response.get_data(as_text=True)
    db.session.refresh(duplicate)
    assert duplicate.merged_into_id is None  # nothing done before the confirmation
    response = _post(client, f"/agent/demandes/{duplicate.reference}/fusionner",
                     {"target": kept.reference.lower(), "confirm": "1"})
    assert response.status_code == 302
    db.session.refresh(duplicate)
    assert duplicate.status == Status.CLOSED and duplicate.merged_into_id == kept.id
    html = _page(client, f"/agent/demandes/{duplicate.reference}")
    assert "Fusionnée dans" in html and kept.reference in html
    assert _post(client, f"/agent/demandes/{kept.reference}/fusionner", {"target": kept.reference}).status_code == 422


def test_side_panels_from_other_packages(client, app, agent, make_ticket):
    from markupsafe import Markup

    ticket = make_ticket()
    panels = app.extensions.setdefault("guichet.ticket_panels", [])
    entry = (50, lambda t: Markup("<p>Panneau test {}</p>").format(t.reference))
    panels.append(entry)
    try:
        assert f"Panneau test {ticket.reference}" in _page(client, f"/agent/demandes/{ticket.reference}")
    finally:
        panels.remove(entry)


@pytest.mark.committed
def test_every_form_carries_a_csrf_token_and_posts_without_it_fail(app, make_ticket, make_user):
    from crm import create_app

    ticket = make_ticket()
    user = make_user("agent")
    db.session.commit()
    config = {k: v for k, v in app.config.items() if k != "SERVER_NAME"}
    secure = create_app(dict(config, WTF_CSRF_ENABLED=True))
    try:
        client = secure.test_client()
        html = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        client.post("/connexion", data={"email": user.email, "password": "motdepasse-de-test-1", "csrf_token": token})
        html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
        forms = re.findall(r'<form method="post".*?</form>', html, re.S)
        assert len(forms) >= 8
        assert all('name="csrf_token"' in form for form in forms)
        assert client.post(f"/agent/demandes/{ticket.reference}/resoudre").status_code == 400
        with secure.app_context():
            assert db.session.get(Ticket, ticket.id).status == Status.NEW
    finally:
        with secure.app_context():
            db.engine.dispose()

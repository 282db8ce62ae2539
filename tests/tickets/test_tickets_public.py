"""Requester pages: the request form, the confirmation, the follow page (secret link or login), replies."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from crm import create_app
from crm.core.extensions import db
from tickets import identity, services
from tickets.models import Attachment, Message, Status, Ticket

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32



def _form(**overrides):
    data = {"name": "Jeanne Martin", "email": "jeanne.martin@labo.example", "topic": "depot",
            "subject": "Dépôt de ma proposition", "message": "Bonjour, comment déposer ma proposition ?",
            "project_reference": "", "website": ""}
    data.update(overrides)
    return data


def _submit(client, files=(), **overrides):
    db.session.commit()  # a refused submission rolls back: keep the fixtures' rows (savepoint released)
    data = _form(**overrides)
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/demande", data=data, content_type="multipart/form-data")


def _tickets():
    return db.session.scalars(sa.select(Ticket)).all()


def test_form_lists_topics_and_has_honeypot_and_suggestions_slot(client, reference_data):
    html = client.get("/demande").get_data(as_text=True)
    assert "Poser une question à l&#39;agence" in html or "Poser une question à l'agence" in html
    assert 'value="avenant"' in html and "Avenant et modification du projet" in html
    assert 'name="website"' in html and 'class="guichet-hp" aria-hidden="true"' in html
    assert 'enctype="multipart/form-data"' in html


def test_logged_in_user_finds_form_prefilled(client, reference_data, make_user, login):
    user = login(make_user("requester", name="Paul Durand", email="paul@univ.example"))
    html = client.get("/demande").get_data(as_text=True)
    assert 'value="Paul Durand"' in html and 'value="paul@univ.example"' in html
    response = _submit(client, email="paul@univ.example", name="Paul Durand")
    assert response.status_code == 302
    (ticket,) = _tickets()
    assert ticket.requester_id == user.id


def test_submission_creates_ticket_and_shows_reference_and_link_once(client, reference_data, app):
    sent = []

    def remember(ticket, **kw):
        sent.append(kw["access_key"])

    from tickets import signals

    with signals.ticket_created.connected_to(remember):
        response = _submit(client, files=[("budget.pdf", PDF), ("capture.png", PNG)],
                           project_reference="ANR-24-CE01-0001")
    assert response.status_code == 302 and response.headers["Location"].endswith("/demande/envoyee")
    (ticket,) = _tickets()
    assert ticket.subject == "Dépôt de ma proposition"
    assert ticket.requester_email == "jeanne.martin@labo.example"
    assert ticket.project_reference == "ANR-24-CE01-0001"
    assert ticket.topic.slug == "depot" and ticket.channel == "web"
    assert sorted(a.filename for a in ticket.messages[0].attachments) == ["budget.pdf", "capture.png"]
    html = client.get("/demande/envoyee").get_data(as_text=True)
    assert ticket.reference in html
    link = f"/demandes/{ticket.reference}?cle={sent[0]}"
    assert link.replace("?", "?") in html.replace("&amp;", "&")
    assert "envoyé par courriel" in html
    # The "Suivre ma demande" button carries the key, so the page opens in any browser; the copy button is there.
    assert re.search(r'<a class="fr-btn" href="([^"]+)">Suivre ma demande', html).group(1).replace("&amp;", "&") \
        .endswith(link)
    assert 'data-copy="lien-suivi"' in html and "copy.js" in html
    # Shown once: a second visit goes back to the form.
    assert client.get("/demande/envoyee").status_code == 302


@pytest.mark.parametrize("missing", ["name", "email", "subject", "message", "topic"])
def test_missing_field_is_reported_and_input_kept(client, reference_data, missing):
    response = _submit(client, **{missing: ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Le formulaire contient des erreurs" in html
    kept = {k: v for k, v in _form().items() if k not in (missing, "project_reference", "website", "topic")}
    for value in kept.values():
        assert value.replace("'", "&#39;") in html
    assert _tickets() == []


def test_invalid_email_and_unknown_topic(client, reference_data):
    assert _submit(client, email="pas-une-adresse").status_code == 422
    assert _submit(client, topic="inexistant").status_code == 422
    assert _tickets() == []


@pytest.mark.parametrize(("name", "content", "message"), [
    ("virus.exe", b"MZ\x90\x00", "type de fichier non accepté"),
    ("faux.pdf", PNG, "ne correspond pas à l&#39;extension"),
    ("vide.txt", b"", "est vide"),
])
def test_refused_attachment_keeps_input_and_creates_nothing(client, reference_data, name, content, message):
    response = _submit(client, files=[(name, content)], subject="Sujet conservé")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'value="Sujet conservé"' in html
    assert "veuillez les joindre à nouveau" in html
    assert _tickets() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_too_large_and_too_many_attachments(client, reference_data, app, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1024)
    response = _submit(client, files=[("gros.pdf", PDF + b"0" * 2000)])
    assert response.status_code == 422 and "dépasse la taille maximale" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_FILES", 1)
    response = _submit(client, files=[("a.pdf", PDF), ("b.pdf", PDF)])
    assert response.status_code == 422 and "au plus 1 fichiers" in response.get_data(as_text=True)
    assert _tickets() == []


def test_honeypot_refuses_robots(client, reference_data):
    response = _submit(client, website="http://spam.example")
    assert response.status_code == 422
    assert _tickets() == []


def _follow_with_key(client, ticket):
    response = client.get(f"/demandes/{ticket.reference}?cle={ticket.access_key}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/demandes/{ticket.reference}")
    return client.get(f"/demandes/{ticket.reference}")


def test_secret_link_opens_the_page_and_is_remembered(client, make_ticket):
    ticket = make_ticket()
    page = _follow_with_key(client, ticket)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ticket.reference in html and "Bonjour, comment déposer ma proposition ?" in html
    assert "Répondre" in html


def test_wrong_key_missing_key_and_unknown_reference_answer_404(app, make_ticket):
    ticket = make_ticket()
    db.session.commit()
    client = app.test_client()
    wrong = client.get(f"/demandes/{ticket.reference}?cle=mauvaise-cle")  # the key leaves the URL, opening nothing
    assert wrong.status_code == 302 and wrong.headers["Location"] == f"/demandes/{ticket.reference}"
    assert client.get(f"/demandes/{ticket.reference}").status_code == 404
    assert client.get("/demandes/DEM-2026-999999").status_code == 404
    assert client.get("/demandes/DEM-2026-999999?cle=x", follow_redirects=True).status_code == 404
    assert client.post(f"/demandes/{ticket.reference}/repondre", data={"body": "x"}).status_code == 404


def test_logged_in_owner_sees_ticket_other_requester_gets_404(client, make_ticket, make_user, login):
    owner = make_user("requester", email="demandeur@labo.example")
    make_user("requester", email="autre@labo.example")
    ticket = make_ticket()
    login(make_user("requester"))
    db.session.commit()
    assert client.get(f"/demandes/{ticket.reference}").status_code == 404
    client.post("/deconnexion")
    login(owner)
    # filed in their address without their account: not theirs until they confirm it (tickets.identity)
    assert client.get(f"/demandes/{ticket.reference}").status_code == 404
    identity.confirm_requester(ticket)
    db.session.commit()
    assert client.get(f"/demandes/{ticket.reference}").status_code == 200
    mine = client.get("/mes-demandes").get_data(as_text=True)
    assert ticket.reference in mine


def test_my_requests_lists_only_own_tickets(client, make_ticket, make_user, login):
    mine = make_ticket(requester_email="moi@labo.example")
    identity.confirm_requester(mine)
    unconfirmed = make_ticket(requester_email="moi@labo.example")
    other = make_ticket(requester_email="autre@labo.example")
    login(make_user("requester", email="moi@labo.example"))
    html = client.get("/mes-demandes").get_data(as_text=True)
    assert mine.reference in html and other.reference not in html and unconfirmed.reference not in html


def test_my_requests_needs_login_and_staff_go_to_queue(client, make_user, login):
    assert client.get("/mes-demandes").status_code == 302
    login(make_user("agent"))
    assert client.get("/mes-demandes").headers["Location"].endswith("/agent/file")


def test_staff_following_a_ticket_go_to_the_agent_page(client, make_ticket, make_user, login):
    ticket = make_ticket()
    login(make_user("agent"))
    response = client.get(f"/demandes/{ticket.reference}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/agent/demandes/{ticket.reference}")


def test_internal_notes_are_never_shown_to_the_requester(client, make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket()
    services.add_internal_note(ticket, author=agent, body="NOTE-CONFIDENTIELLE sur le dossier")
    services.reply_to_ticket(ticket, author=agent, body="Réponse publique de l'agence")
    html = _follow_with_key(client, ticket).get_data(as_text=True)
    assert "Réponse publique de l" in html
    assert "NOTE-CONFIDENTIELLE" not in html and "Note interne" not in html


def test_requester_reply_reopens_resolved_ticket_and_resumes_waiting(client, make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket()
    services.reply_to_ticket(ticket, author=agent, body="Voici la réponse.", next_status=Status.RESOLVED)
    _follow_with_key(client, ticket)
    response = client.post(f"/demandes/{ticket.reference}/repondre", data={"body": "Ce n'est pas résolu."})
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN
    assert ticket.messages[-1].body == "Ce n'est pas résolu." and ticket.messages[-1].author_kind == "requester"
    services.put_on_hold(ticket, by=agent)
    client.post(f"/demandes/{ticket.reference}/repondre",
                data={"body": "Voici la pièce.", "attachments": [(io.BytesIO(PDF), "piece.pdf")]},
                content_type="multipart/form-data")
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN
    assert [a.filename for a in ticket.messages[-1].attachments] == ["piece.pdf"]


def test_empty_reply_and_closed_ticket(client, make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket()
    _follow_with_key(client, ticket)
    db.session.commit()
    response = client.post(f"/demandes/{ticket.reference}/repondre", data={"body": "  "})
    assert response.status_code == 422 and "Le formulaire contient des erreurs" in response.get_data(as_text=True)
    services.change_status(ticket, Status.CLOSED, by=agent)
    db.session.commit()
    html = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Cette demande est close" in html and 'name="body"' not in html
    response = client.post(f"/demandes/{ticket.reference}/repondre", data={"body": "Encore une question"})
    assert response.status_code == 422
    assert "déposer une nouvelle demande" in response.get_data(as_text=True)
    assert ticket.messages[-1].body != "Encore une question"


def test_attachment_download_needs_the_same_access(app, client, make_ticket, make_user):
    from tickets.attachments import IncomingFile

    ticket = make_ticket(attachments=[IncomingFile("devis.pdf", PDF)])
    other = make_ticket(attachments=[IncomingFile("autre.pdf", PDF + b"x")])
    attachment = ticket.messages[0].attachments[0]
    url = f"/demandes/{ticket.reference}/pieces-jointes/{attachment.id}"
    db.session.commit()  # 404s roll back: keep the fixtures' rows
    assert app.test_client().get(url).status_code == 404
    html = _follow_with_key(client, ticket).get_data(as_text=True)
    assert url in html
    response = client.get(url, buffered=True)
    response.close()
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "devis.pdf" in response.headers["Content-Disposition"]
    other_id = other.messages[0].attachments[0].id
    assert client.get(f"/demandes/{ticket.reference}/pieces-jointes/{other_id}").status_code == 404
    assert db.session.get(Attachment, other_id) is not None


def _app_with(app, **overrides):
    config = dict(app.config)
    for key in ("SERVER_NAME",):
        config.pop(key, None)
    config.update(overrides)
    return create_app(config)


def test_csrf_is_enforced_on_the_public_form(app, reference_data):
    secure = _app_with(app, WTF_CSRF_ENABLED=True)
    try:
        client = secure.test_client()
        html = client.get("/demande").get_data(as_text=True)
        assert re.search(r'name="csrf_token" type="hidden" value="[^"]+"', html)
        assert client.post("/demande", data=_form()).status_code == 400
    finally:
        with secure.app_context():
            db.engine.dispose()


def test_public_form_is_rate_limited(app):
    limited = _app_with(app, RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC_FORM="2 per minute")
    try:
        client = limited.test_client()
        codes = [client.post("/demande", data={}).status_code for _ in range(3)]
        assert codes == [422, 422, 429]
        assert client.get("/demande").status_code == 200  # only submissions are limited
    finally:
        with limited.app_context():
            db.engine.dispose()


def test_follow_page_says_who_handles_the_request_when_the_first_answer_is_due_and_resolved_not_closed(
        app, client, make_ticket, make_user):
    from datetime import timedelta


    ticket = make_ticket()
    html = _follow_with_key(client, ticket).get_data(as_text=True)
    assert "Traitée par" in html and ticket.queue.name in html
    assert "Première réponse attendue au plus tard le" in html
    assert ticket.first_response_due_at.isoformat() in html  # the <time> of the due instant
    agent = make_user("agent")
    services.reply_to_ticket(ticket, author=agent, body="Voici la réponse.")
    db.session.flush()
    assert "Première réponse le" in client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    services.resolve_ticket(ticket, by=agent, now=ticket.created_at + timedelta(days=1))
    ticket.resolved_at = ticket.created_at - timedelta(days=app.config["REOPEN_WINDOW_DAYS"] + 30)
    db.session.flush()
    html = client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Cette demande est résolue." in html and "Cette demande est close." not in html
    services.change_status(ticket, "closed", by=agent)
    db.session.flush()
    assert "Cette demande est close." in client.get(f"/demandes/{ticket.reference}").get_data(as_text=True)

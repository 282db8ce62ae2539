"""The follow link's lifetime, and a new link by e-mail: to the request's address only, rate-limited, no disclosure."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm import create_app
from crm.core.extensions import db, utcnow
from notifications.models import OutboxMessage
from notifications.outbox import dispatch_outbox
from tickets.follow_links import NEW_LINK_EVENT
from tickets.models import TicketEvent


def _new_link_mails(ticket):
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == NEW_LINK_EVENT,
                                                             OutboxMessage.ticket_id == ticket.id)).all()


def _key_in(text: str, reference: str) -> str:
    return re.search(rf"/demandes/{reference}\?cle=([\w-]+)", text).group(1)


def _age(ticket, days: float) -> None:
    """Make the request's last change `days` old (then commit: a 404 rolls the request's session back)."""
    ticket.updated_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_a_key_opens_until_the_lifetime_after_the_last_change(app, make_ticket):
    ticket = make_ticket()
    _age(ticket, app.config["FOLLOW_LINK_DAYS"] - 1)
    fresh = app.test_client().get(f"/demandes/{ticket.reference}?cle={ticket.access_key}")
    assert fresh.status_code == 302 and fresh.headers["Location"] == f"/demandes/{ticket.reference}"

    _age(ticket, app.config["FOLLOW_LINK_DAYS"] + 1)
    client = app.test_client()
    expired = client.get(f"/demandes/{ticket.reference}?cle={ticket.access_key}")
    assert expired.status_code == 302 and expired.headers["Location"] == f"/demandes/{ticket.reference}"
    page = client.get(f"/demandes/{ticket.reference}")  # the session was not opened
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Recevoir un nouveau lien" in html and f'action="/demandes/{ticket.reference}/nouveau-lien"' in html
    assert ticket.subject not in html and ticket.access_key not in html  # nothing of the request, nor the key


def test_expired_wrong_and_unknown_links_give_the_same_page(app, make_ticket):
    ticket = make_ticket()
    _age(ticket, app.config["FOLLOW_LINK_DAYS"] + 1)
    client = app.test_client()
    answers = [client.get(f"/demandes/{ticket.reference}?cle={key}", follow_redirects=True)
               for key in (ticket.access_key, "mauvaise-cle", "")]
    answers.append(client.get(f"/demandes/{ticket.reference}"))
    assert {a.status_code for a in answers} == {404}
    assert len({a.get_data(as_text=True) for a in answers}) == 1
    unknown = client.get("/demandes/DEM-2026-999999?cle=x", follow_redirects=True).get_data(as_text=True)
    assert unknown == answers[0].get_data(as_text=True).replace(ticket.reference, "DEM-2026-999999")


def test_a_new_link_goes_to_the_request_address_only_and_replaces_the_old_key(app, make_ticket):
    ticket = make_ticket()
    old_key = ticket.access_key
    _age(ticket, app.config["FOLLOW_LINK_DAYS"] + 1)
    client = app.test_client()
    url = f"/demandes/{ticket.reference}/nouveau-lien"

    other = client.post(url, data={"email": "intrus@pirate.example"})
    assert _new_link_mails(ticket) == []
    mine = client.post(url, data={"email": "  Demandeur@Labo.example "})
    assert (other.status_code, other.headers["Location"]) == (mine.status_code, mine.headers["Location"]) \
        == (302, url)
    assert client.get(url).get_data(as_text=True) == app.test_client().get(url).get_data(as_text=True)

    [mail] = _new_link_mails(ticket)
    assert mail.recipient == "demandeur@labo.example"
    new_key = _key_in(mail.body_text, ticket.reference)
    assert f"?cle={new_key}" in mail.body_html and new_key != old_key
    assert ticket.subject not in mail.subject + mail.body_text + mail.body_html
    events = db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                             TicketEvent.kind == NEW_LINK_EVENT)).all()
    assert len(events) == 1
    db.session.commit()

    old = app.test_client().get(f"/demandes/{ticket.reference}?cle={old_key}", follow_redirects=True)
    assert old.status_code == 404  # replaced (and no longer expired: the request just changed)
    follower = app.test_client()
    assert follower.get(f"/demandes/{ticket.reference}?cle={new_key}").status_code == 302
    assert follower.get(f"/demandes/{ticket.reference}").status_code == 200  # the key became the session


def test_unknown_reference_and_bad_address_answer_like_a_known_one(app, make_ticket):
    make_ticket()
    db.session.commit()
    client = app.test_client()
    unknown = client.post("/demandes/DEM-2026-999999/nouveau-lien", data={"email": "demandeur@labo.example"})
    assert unknown.status_code == 302 and unknown.headers["Location"] == "/demandes/DEM-2026-999999/nouveau-lien"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == NEW_LINK_EVENT)) == 0
    invalid = client.post("/demandes/DEM-2026-999999/nouveau-lien", data={"email": "pas-une-adresse"})
    assert invalid.status_code == 422 and "Adresse électronique invalide." in invalid.get_data(as_text=True)
    assert client.post("/demandes/" + "D" * 30 + "/nouveau-lien", data={"email": "a@b.example"}).status_code == 404


def test_one_new_link_per_request_within_the_resend_delay(app, make_ticket):
    ticket = make_ticket()
    db.session.commit()
    client = app.test_client()
    url = f"/demandes/{ticket.reference}/nouveau-lien"
    for _ in range(3):
        assert client.post(url, data={"email": "demandeur@labo.example"}).status_code == 302
    assert len(_new_link_mails(ticket)) == 1
    event = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.kind == NEW_LINK_EVENT))
    event.created_at -= timedelta(minutes=app.config["FOLLOW_LINK_RESEND_MINUTES"] + 1)
    db.session.commit()
    client.post(url, data={"email": "demandeur@labo.example"})
    assert len(_new_link_mails(ticket)) == 2


def test_asking_for_new_links_is_rate_limited_per_client(app, make_ticket):
    ticket = make_ticket()
    db.session.commit()
    config = {k: v for k, v in app.config.items() if k != "SERVER_NAME"}
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_FOLLOW_LINK="2 per minute")
    limited = create_app(config)
    try:
        client = limited.test_client()
        url = f"/demandes/{ticket.reference}/nouveau-lien"
        codes = [client.post(url, data={"email": f"x{i}@labo.example"}).status_code for i in range(3)]
        assert codes == [302, 302, 429]
        assert client.get(f"/demandes/{ticket.reference}").status_code == 404  # the page itself is not limited
    finally:
        with limited.app_context():
            db.engine.dispose()


@pytest.fixture
def smtp(app):
    server = SmtpCatcher().start()
    saved = {k: app.config.get(k) for k in server.config()}
    app.config.update(server.config())
    yield server
    server.stop()
    app.config.update(saved)


def test_the_new_link_mail_is_delivered_and_its_link_opens_the_request(app, make_ticket, smtp):
    ticket = make_ticket(subject="Objet écrit par le demandeur")
    db.session.commit()
    app.test_client().post(f"/demandes/{ticket.reference}/nouveau-lien", data={"email": "demandeur@labo.example"})
    dispatch_outbox()
    [mail] = [m for m in smtp.messages if "Nouveau lien" in m["Subject"]]
    assert mail["To"] == "demandeur@labo.example"
    assert mail["Subject"] == f"[{ticket.reference}] Nouveau lien de suivi de votre demande"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Objet écrit par le demandeur" not in text
    key = _key_in(text, ticket.reference)
    client = app.test_client()
    assert client.get(f"/demandes/{ticket.reference}?cle={key}").status_code == 302
    page = client.get(f"/demandes/{ticket.reference}")
    assert page.status_code == 200 and "Objet écrit par le demandeur" in page.get_data(as_text=True)


def test_the_agent_sees_the_new_link_in_the_history(app, client, make_ticket, make_user, login):
    ticket = make_ticket()
    db.session.commit()
    app.test_client().post(f"/demandes/{ticket.reference}/nouveau-lien", data={"email": "demandeur@labo.example"})
    login(make_user("agent"))
    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Nouveau lien de suivi envoyé au demandeur" in html

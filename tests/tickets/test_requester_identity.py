"""Requester identity: a request filed in someone's address is theirs ("Mes demandes") only once they confirm it."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from notifications.models import OutboxMessage
from tickets import identity
from tickets.models import Ticket, TicketEvent

VICTIM = "victime@labo.example"
FORM = {"name": "Usurpateur", "email": VICTIM, "subject": "Changement de RIB",
        "message": "Merci de verser l'aide sur le compte FR76 0000.", "topic": "depot", "website": ""}


def submit(client, **overrides) -> Ticket:
    response = client.post("/demande", data={**FORM, **overrides})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return db.session.scalar(sa.select(Ticket).order_by(Ticket.id.desc()).limit(1))


def ack_link(ticket: Ticket) -> str:
    ack = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id,
                                                           OutboxMessage.kind == "ack"))
    found = re.search(r"https?://\S+/confirmer-adresse\?jeton=\S+", ack.body_text)
    assert found, ack.body_text
    assert found.group(0) in ack.body_html.replace("&amp;", "&")
    return found.group(0).removeprefix("http://localhost")


def test_a_request_in_someone_elses_address_is_not_theirs_until_confirmed(client, reference_data, make_user, login):
    victim = make_user("requester", email=VICTIM)
    ticket = submit(client)
    assert (ticket.requester_id, ticket.requester_email, ticket.requester_confirmed_at) == (None, VICTIM, None)
    login(victim)
    assert ticket.reference not in client.get("/mes-demandes").get_data(as_text=True)
    assert client.get(f"/demandes/{ticket.reference}").status_code == 404


def test_the_acknowledgement_link_confirms_on_post_only_then_the_request_is_theirs(client, reference_data, make_user,
                                                                                   login):
    victim = make_user("requester", email=VICTIM)
    ticket = submit(client)
    link = ack_link(ticket)

    page = client.get(link)  # what a mail scanner following links does: nothing is confirmed
    assert page.status_code == 200 and "C'est bien moi" in page.get_data(as_text=True)
    assert ticket.requester_confirmed_at is None and ticket.requester_id is None

    token = link.partition("jeton=")[2]
    done = client.post(f"/demandes/{ticket.reference}/confirmer-adresse", data={"jeton": token})
    assert done.status_code == 200 and "adresse-confirmee" in done.get_data(as_text=True)
    assert ticket.requester_id == victim.id and ticket.requester_confirmed_at is not None
    assert db.session.scalar(sa.select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id,
                                                               TicketEvent.kind == "requester_confirmed"))
    login(victim)
    assert ticket.reference in client.get("/mes-demandes").get_data(as_text=True)
    assert client.get(f"/demandes/{ticket.reference}").status_code == 200


def test_a_confirmed_address_without_an_account_is_found_by_the_account_created_later(client, reference_data,
                                                                                      make_user, login):
    ticket = submit(client)
    token = ack_link(ticket).partition("jeton=")[2]
    client.post(f"/demandes/{ticket.reference}/confirmer-adresse", data={"jeton": token})
    assert ticket.requester_id is None and ticket.requester_confirmed_at is not None
    login(make_user("requester", email=VICTIM))
    assert ticket.reference in client.get("/mes-demandes").get_data(as_text=True)


def test_expired_tampered_and_misdirected_links_confirm_nothing(client, reference_data, make_ticket):
    ticket = submit(client)
    other = make_ticket(requester_email="autre@labo.example")
    token = identity.confirmation_token(ticket)
    later = utcnow() + timedelta(days=client.application.config["REQUESTER_CONFIRM_DAYS"], minutes=1)
    with mock.patch("itsdangerous.timed.time.time", return_value=later.timestamp()):
        assert client.get(f"/demandes/{ticket.reference}/confirmer-adresse?jeton={token}").status_code == 410
    assert client.post(f"/demandes/{ticket.reference}/confirmer-adresse",
                       data={"jeton": token[:-2] + "xx"}).status_code == 404
    assert client.post(f"/demandes/{other.reference}/confirmer-adresse", data={"jeton": token}).status_code == 404
    ticket.requester_email = "nouvelle@labo.example"  # the address changed since: the link confirms nothing
    assert client.post(f"/demandes/{ticket.reference}/confirmer-adresse", data={"jeton": token}).status_code == 404
    assert ticket.requester_confirmed_at is None and other.requester_confirmed_at is None


def test_signed_in_as_the_address_the_request_is_linked_at_once_without_a_link(client, reference_data, make_user,
                                                                              login):
    owner = login(make_user("requester", email=VICTIM))
    ticket = submit(client)
    assert ticket.requester_id == owner.id and identity.is_confirmed(ticket)
    ack = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id,
                                                           OutboxMessage.kind == "ack"))
    assert "confirmer-adresse" not in ack.body_text and "confirmer-adresse" not in ack.body_html
    assert ticket.reference in client.get("/mes-demandes").get_data(as_text=True)


def test_signed_in_as_someone_else_the_request_stays_unlinked(client, reference_data, make_user, login):
    make_user("requester", email=VICTIM)
    login(make_user("requester", email="quelquun@labo.example"))
    ticket = submit(client)
    assert ticket.requester_id is None and not identity.is_confirmed(ticket)

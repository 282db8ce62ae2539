"""Portal set-password links reach the person by e-mail, once per link, in their language."""

from __future__ import annotations

import sqlalchemy as sa
from factories_crm import make_person

from crm.core.extensions import db
from notifications.models import OutboxMessage


def _mails(recipient: str) -> list[OutboxMessage]:
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == recipient)).all()


def test_registration_link_is_written_to_the_outbox(client):
    make_person(email="chercheur@labo.example")
    client.post("/portail/inscription", data={"email": "chercheur@labo.example"})
    [mail] = _mails("chercheur@labo.example")
    assert mail.kind == "password_link"
    assert mail.subject == "Votre accès au portail des projets"
    assert "http://localhost/" in mail.body_text and "Définir mon mot de passe" in mail.body_html
    link = next(line for line in mail.body_text.splitlines() if line.startswith("http://localhost/"))
    assert client.get(link.removeprefix("http://localhost")).status_code == 200


def test_unknown_address_gets_no_mail(client):
    client.post("/portail/inscription", data={"email": "personne@nulle-part.example"})
    assert _mails("personne@nulle-part.example") == []


def test_a_second_request_sends_a_second_link(client):
    make_person(email="chercheuse@labo.example")
    client.post("/portail/inscription", data={"email": "chercheuse@labo.example"})
    client.post("/portail/inscription", data={"email": "chercheuse@labo.example"})
    mails = _mails("chercheuse@labo.example")
    assert len(mails) == 2 and mails[0].body_text != mails[1].body_text

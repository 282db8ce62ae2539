"""One bad message never holds back the others: errors are per message (issue 10, poison message)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core.extensions import db
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import dispatch_outbox

POISON = "josé.poison@exemple.fr"


@pytest.fixture
def catcher(app):
    servers = []

    def _start(**options) -> SmtpCatcher:
        server = SmtpCatcher(**options).start()
        servers.append((server, {k: app.config.get(k) for k in server.config()}))
        app.config.update(server.config())
        return server

    yield _start
    for server, saved in reversed(servers):
        server.stop()
        app.config.update(saved)


def _acks() -> dict[str, OutboxMessage]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "ack"))
    return {row.recipient: row for row in rows}


def _submit(make_ticket, emails: list[str]) -> None:
    for email in emails:
        make_ticket(requester_email=email)


def test_an_internationalised_address_fails_alone_when_the_server_lacks_smtputf8(make_ticket, catcher):
    others = [f"demandeur{i}@labo.example" for i in range(10)]
    _submit(make_ticket, [POISON, *others])
    server = catcher(smtputf8=False)

    result = dispatch_outbox()

    assert result.sent == 10 and result.failed == 1 and result.retried == 0
    assert sorted(m["To"] for m in server.messages) == sorted(others)
    poison = _acks()[POISON]
    assert poison.status == OutboxStatus.FAILED and "SMTPUTF8" in poison.last_error


def test_an_internationalised_address_is_delivered_by_a_server_that_offers_smtputf8(make_ticket, catcher):
    _submit(make_ticket, [POISON])
    server = catcher(smtputf8=True)
    assert dispatch_outbox().sent == 1
    assert [m["To"] for m in server.messages] == [POISON]


def test_a_deferred_recipient_is_retried_alone_and_a_refused_one_fails_alone(make_ticket, catcher):
    _submit(make_ticket, ["plus.tard@labo.example", "jamais@labo.example", "ok@labo.example"])
    server = catcher()
    server.deferred.add("plus.tard@labo.example")
    server.refused.add("jamais@labo.example")

    result = dispatch_outbox()

    assert (result.sent, result.retried, result.failed) == (1, 1, 1)
    rows = _acks()
    assert rows["ok@labo.example"].status == OutboxStatus.SENT
    assert rows["jamais@labo.example"].status == OutboxStatus.FAILED
    later = rows["plus.tard@labo.example"]
    assert later.status == OutboxStatus.PENDING and later.attempts == 1 and "451" in later.last_error


def test_the_request_form_accepts_an_internationalised_address(client, reference_data):
    response = client.post("/demande", data={"name": "José Poison", "email": POISON, "topic": "depot",
                                             "subject": "Date limite", "message": "Quelle est la date limite ?"})
    assert response.status_code == 302
    assert POISON in _acks()

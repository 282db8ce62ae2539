"""A submission that fails half-way leaves nothing behind: no ticket, event, message, e-mail or reference."""

from __future__ import annotations

import pytest

from notifications.models import OutboxMessage
from tickets import triage
from tickets.models import Message, ReferenceCounter, Ticket, TicketEvent

FORM = {"name": "Jeanne Demandeur", "email": "jeanne@labo.example", "topic": "depot",
        "subject": "Date limite", "message": "Quelle est la date limite de dépôt ?"}


def _counts(count_rows) -> dict:
    return {model.__name__: count_rows(model) for model in (Ticket, TicketEvent, Message, OutboxMessage)}


@pytest.fixture
def one_submitted(client, reference_data, count_rows):
    assert client.post("/demande", data=FORM).status_code == 302
    return _counts(count_rows), count_rows(ReferenceCounter)


def test_a_database_error_mid_submission_rolls_everything_back(client, one_submitted, count_rows, monkeypatch,
                                                               db_session_last_number):
    before, counters = one_submitted
    number = db_session_last_number()

    def broken(ticket, message=None, **_kw):
        raise RuntimeError("panne au milieu de la transaction")

    monkeypatch.setattr(triage, "triage_ticket", broken)
    monkeypatch.setitem(client.application.config, "PROPAGATE_EXCEPTIONS", False)  # as in production: a 500
    response = client.post("/demande", data={**FORM, "subject": "Seconde demande"})
    assert response.status_code == 500
    assert _counts(count_rows) == before
    assert count_rows(ReferenceCounter) == counters and db_session_last_number() == number


def test_a_refused_form_writes_nothing(client, one_submitted, count_rows, db_session_last_number):
    before, _counters = one_submitted
    number = db_session_last_number()
    response = client.post("/demande", data={**FORM, "email": "pas-une-adresse"})
    assert response.status_code in (200, 400, 422)
    assert _counts(count_rows) == before and db_session_last_number() == number


@pytest.fixture
def db_session_last_number():
    import sqlalchemy as sa

    from crm.core.extensions import db

    return lambda: db.session.scalar(sa.select(sa.func.max(ReferenceCounter.last)))


def test_a_long_address_without_a_name_fits_the_message_author(make_ticket):
    address = "a" * 64 + "@" + ".".join(["b" * 60, "c" * 60, "d" * 40]) + ".fr"  # 230 characters
    ticket = make_ticket(requester_email=address, requester_name="")
    assert len(address) == 230 and ticket.requester_email == address
    assert ticket.messages[0].author_name == address[:200]
    named = make_ticket(requester_name="N" * 300)
    assert named.requester_name == "N" * 200


def test_an_address_longer_than_the_standard_is_refused(make_ticket):
    from tickets.services import TicketError

    with pytest.raises(TicketError, match="trop longue"):
        make_ticket(requester_email="a" * 250 + "@x.fr")

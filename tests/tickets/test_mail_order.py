"""E-mails in order and never stale (issue 13): each thread's mails leave in the order they were written, a
"résolue" e-mail (and its survey) is not sent for a ticket reopened before dispatch; real SMTP (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core.extensions import db
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import dispatch_outbox, enqueue_email
from tickets import services
from tickets.emails import REOPENED, RESOLVED_AGAIN
from tickets.models import Status


@pytest.fixture(scope="module")
def server():
    catcher = SmtpCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture
def smtp(app, server):
    """The module's SMTP catcher, emptied, that the app delivers to for the duration of the test."""
    saved = {k: app.config.get(k) for k in server.config()}
    app.config.update(server.config())
    server.messages.clear()
    server.peers.clear()
    server.deferred.clear()
    yield server
    app.config.update(saved)


@pytest.fixture
def agent(make_user):
    return make_user("agent", name="Camille Martin")


def _rows(kind: str) -> list[OutboxMessage]:
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id)).all()


def _kinds(smtp) -> list[str]:
    by_id = {r.message_id: r.kind for r in db.session.scalars(sa.select(OutboxMessage))}
    return [by_id[m["Message-ID"]] for m in smtp.messages]


def test_a_reply_that_resolves_arrives_before_the_resolution_mail(make_ticket, agent, smtp):
    ticket = make_ticket()
    services.reply_to_ticket(ticket, author=agent, body="Voici la réponse.", next_status=Status.RESOLVED)

    result = dispatch_outbox()

    assert result.sent == 3 and _kinds(smtp) == ["ack", "reply", "resolved"]
    # three rounds (one mail of the thread per round), one SMTP connection for the whole run
    assert len(set(smtp.peers)) == 1


def test_the_resolution_mail_and_its_survey_are_not_sent_once_the_ticket_is_reopened(make_ticket, agent, smtp):
    ticket = make_ticket()
    services.reply_to_ticket(ticket, author=agent, body="Voici la réponse.", next_status=Status.RESOLVED)
    services.reopen_ticket(ticket, by=agent)  # before the dispatcher's turn

    result = dispatch_outbox()

    [resolved] = _rows("resolved")
    assert (result.sent, result.skipped) == (2, 1) and _kinds(smtp) == ["ack", "reply"]
    assert resolved.status == OutboxStatus.SKIPPED and resolved.last_error == REOPENED
    assert not any("/enquete/" in m.get_body(("plain",)).get_content() for m in smtp.messages)
    assert "1 périmé(s) non envoyé(s)" in str(result)


def test_only_the_last_resolution_mail_leaves_when_resolved_twice(make_ticket, agent, smtp):
    ticket = make_ticket()
    services.resolve_ticket(ticket, by=agent)
    services.reopen_ticket(ticket, by=agent)
    services.resolve_ticket(ticket, by=agent)

    dispatch_outbox()

    first, last = _rows("resolved")
    assert (first.status, first.last_error) == (OutboxStatus.SKIPPED, RESOLVED_AGAIN)
    assert last.status == OutboxStatus.SENT and _kinds(smtp) == ["ack", "resolved"]


def test_a_mail_waits_for_an_earlier_one_of_its_thread_that_is_retrying(make_ticket, agent, smtp, app):
    ticket = make_ticket()
    other = make_ticket(requester_email="autre@labo.example")
    services.reply_to_ticket(ticket, author=agent, body="Voici la réponse.")
    smtp.deferred.add("demandeur@labo.example")  # 451 for the first ticket's requester
    now = datetime.now(UTC)

    first = dispatch_outbox(now=now)

    [ack, _other_ack] = _rows("ack")
    [reply] = _rows("reply")
    assert (first.sent, first.retried) == (1, 1)  # the other thread is not held up
    assert ack.attempts == 1 and reply.attempts == 0 and reply.status == OutboxStatus.PENDING
    assert [m["To"] for m in smtp.messages] == [other.requester_email]

    smtp.deferred.clear()
    later = dispatch_outbox(now=now + timedelta(seconds=app.config["OUTBOX_BACKOFF_MAX_SECONDS"] + 1))
    assert later.sent == 2 and _kinds(smtp)[1:] == ["ack", "reply"]


def test_a_mail_held_back_on_purpose_does_not_hold_up_the_next_ones(make_ticket, agent, smtp):
    ticket = make_ticket()
    dispatch_outbox()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    enqueue_email(dedup_key="later:1", kind="digest", recipient=ticket.requester_email, template="tickets/mail/ack",
                  thread_id=ticket.id, not_before=tomorrow, ticket=ticket, link="l", due="")
    services.reply_to_ticket(ticket, author=agent, body="Voici la réponse.")

    assert dispatch_outbox().sent == 1 and _kinds(smtp) == ["ack", "reply"]

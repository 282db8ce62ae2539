"""Outbox and SMTP delivery against a real aiosmtpd server: content, language, threading, outages, dedup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core.extensions import db
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import claim_batch, dispatch_outbox, enqueue_email
from tickets import services
from tickets.models import Message

MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp(app):
    """A live SMTP catcher the app delivers to for the duration of the test."""
    server = SmtpCatcher().start()
    saved = {k: app.config.get(k) for k in server.config()}
    app.config.update(server.config())
    yield server
    server.stop()
    app.config.update(saved)


def _rows(*where):
    return db.session.scalars(sa.select(OutboxMessage).where(*where).order_by(OutboxMessage.id)).all()


def _body(message, subtype):
    return message.get_body(preferencelist=(subtype,)).get_content()


def test_acknowledgement_reaches_the_requester_in_french_with_both_parts(make_ticket, smtp):
    ticket = make_ticket(created_at=MONDAY_10H)
    [row] = _rows(OutboxMessage.kind == "ack")
    assert row.status == OutboxStatus.PENDING and smtp.messages == []  # nothing leaves before dispatch

    result = dispatch_outbox()

    assert result.sent == 1
    [mail] = smtp.messages
    assert mail["To"] == "demandeur@labo.example"
    assert mail["Subject"].startswith(f"[{ticket.reference}] Accusé de réception")
    assert mail["Message-ID"] == row.message_id
    assert mail["Content-Language"] == "fr"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = _body(mail, "plain"), _body(mail, "html")
    link = f"http://localhost/demandes/{ticket.reference}?cle={ticket.access_key}"
    assert link in text and link.replace("&", "&amp;") in html
    # Expected first response: Wednesday 4 November 2026, 10:00 in Paris (2 business days).
    assert "mercredi 4 novembre 2026, 10:00 (heure de Paris)" in text
    assert '<html lang="fr">' in html
    assert _rows()[0].status == OutboxStatus.SENT


def test_english_requester_gets_english_mail(make_ticket, smtp):
    ticket = make_ticket(locale="en", created_at=MONDAY_10H)
    dispatch_outbox()
    [mail] = smtp.messages
    assert mail["Subject"] == f"[{ticket.reference}] We received your request"  # never confirmed: no subject
    assert mail["Content-Language"] == "en"
    assert "Wednesday, November 4, 2026" in _body(mail, "plain") or "Wednesday 4 November 2026" in _body(mail, "plain")
    assert '<html lang="en">' in _body(mail, "html")


def test_staff_reply_threads_on_the_acknowledgement(make_ticket, make_user, smtp):
    ticket = make_ticket(created_at=MONDAY_10H)
    agent = make_user("agent", name="Camille Martin")
    message = services.reply_to_ticket(ticket, author=agent, body="Voici la procédure <à suivre> & détails.")
    dispatch_outbox()
    ack, reply = smtp.messages
    assert reply["In-Reply-To"] == ack["Message-ID"]
    assert ack["Message-ID"] in reply["References"]
    assert reply["Subject"].startswith(f"[{ticket.reference}] Réponse à votre demande")
    assert "Voici la procédure <à suivre> & détails." in _body(reply, "plain")
    assert "Voici la procédure &lt;à suivre&gt; &amp; détails." in _body(reply, "html")  # escaped in HTML
    assert db.session.get(Message, message.id).email_message_id == reply["Message-ID"]


def test_internal_notes_never_reach_the_requester(make_ticket, make_user, smtp):
    ticket = make_ticket()
    services.add_internal_note(ticket, author=make_user("agent"), body="Ne pas transmettre")
    dispatch_outbox()
    assert [m["Subject"].split("] ")[1] for m in smtp.messages] == ["Accusé de réception de votre demande"]


def test_smtp_down_loses_nothing_and_delivers_once_when_back(make_ticket, make_user, smtp, app):
    port = smtp.port
    smtp.stop()
    tickets = [make_ticket(subject=f"Question {i}") for i in range(3)]
    services.reply_to_ticket(tickets[0], author=make_user("agent"), body="Réponse")
    now = datetime.now(UTC)

    down = dispatch_outbox(now=now)

    # the reply waits behind its thread's acknowledgement, which is retrying: it is not even tried
    assert (down.sent, down.retried) == (0, 3)
    *acks, reply = _rows()
    assert reply.status == OutboxStatus.PENDING and reply.attempts == 0
    assert all(r.status == OutboxStatus.PENDING and r.attempts == 1 for r in acks)
    assert all("Connection refused" in r.last_error or "Errno" in r.last_error for r in acks)
    assert all(r.next_attempt_at >= now + timedelta(seconds=app.config["OUTBOX_BACKOFF_SECONDS"]) for r in acks)
    assert dispatch_outbox(now=now).sent == 0  # not due yet: backoff respected

    restarted = SmtpCatcher(port=port).start()
    try:
        back = dispatch_outbox(now=now + timedelta(hours=1))
        again = dispatch_outbox(now=now + timedelta(hours=2))
    finally:
        restarted.stop()
    assert back.sent == 4 and again.sent == 0
    assert len(restarted.messages) == 4
    assert restarted.messages[-1]["Message-ID"] == reply.message_id  # after the acknowledgement of its thread
    assert len({m["Message-ID"] for m in restarted.messages}) == 4
    assert all(r.status == OutboxStatus.SENT for r in _rows())


def test_backoff_grows_then_the_message_fails_visibly(make_ticket, smtp, app):
    smtp.stop()
    make_ticket()
    now = datetime.now(UTC)
    delays = []
    for _ in range(app.config["OUTBOX_MAX_ATTEMPTS"]):
        [row] = _rows()
        at = max(now, row.next_attempt_at)
        dispatch_outbox(now=at)
        db.session.refresh(row)
        if row.status == OutboxStatus.PENDING:
            delays.append(row.next_attempt_at - at)
    [row] = _rows()
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == app.config["OUTBOX_MAX_ATTEMPTS"]
    assert delays[:3] == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]
    assert delays == sorted(delays) and max(delays) <= timedelta(seconds=app.config["OUTBOX_BACKOFF_MAX_SECONDS"])


def test_permanent_refusal_fails_at_once(make_ticket, smtp):
    smtp.refused.add("demandeur@labo.example")
    make_ticket()
    result = dispatch_outbox()
    [row] = _rows()
    assert result.failed == 1 and row.status == OutboxStatus.FAILED and "550" in row.last_error


def test_dedup_key_writes_a_message_once(make_ticket):
    ticket = make_ticket()
    first = enqueue_email(dedup_key="x:1", kind="ack", recipient="a@b.example", template="tickets/mail/ack",
                          ticket=ticket,
                          link="l", due="")
    second = enqueue_email(dedup_key="x:1", kind="ack", recipient="a@b.example", template="tickets/mail/ack",
                           ticket=ticket,
                           link="l", due="")
    assert first is not None and second is None
    assert len(_rows(OutboxMessage.dedup_key == "x:1")) == 1


def test_a_claimed_row_is_not_claimed_again(make_ticket):
    make_ticket()
    now = datetime.now(UTC)
    first = claim_batch(now, 10)
    second = claim_batch(now, 10)
    assert len(first) == 1 and second == []
    assert first[0].status == OutboxStatus.SENDING


def test_stale_claim_of_a_dead_dispatcher_is_sent_later(make_ticket, smtp, app):
    make_ticket()
    now = datetime.now(UTC)
    claim_batch(now, 10)  # a dispatcher that died after claiming
    assert dispatch_outbox(now=now).sent == 0
    later = now + timedelta(seconds=app.config["OUTBOX_SENDING_TIMEOUT_SECONDS"] + 1)
    assert dispatch_outbox(now=later).sent == 1
    assert len(smtp.messages) == 1


def test_retention_purges_old_sent_mails_only(make_ticket, app):
    from notifications.retention import purge_old_data

    make_ticket()
    make_ticket()
    old, recent = _rows()
    now = datetime.now(UTC)
    old.status, old.sent_at = OutboxStatus.SENT, now - timedelta(days=app.config["OUTBOX_RETENTION_DAYS"] + 1)
    db.session.flush()
    assert purge_old_data(now)["outbox"] == 1
    assert [r.id for r in _rows()] == [recent.id]

"""`guichet outbox worker` sends committed mail at once (NOTIFY on PostgreSQL, polling elsewhere)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from mail_servers import SmtpCatcher

from crm.core.extensions import db
from notifications.models import OutboxMessage, OutboxStatus
from notifications.worker import run_worker


@pytest.fixture
def smtp(app):
    server = SmtpCatcher().start()
    saved = {k: app.config.get(k) for k in (*server.config(), "OUTBOX_WORKER_POLL_SECONDS")}
    app.config.update(server.config())
    yield server
    server.stop()
    app.config.update(saved)


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.committed
def test_the_worker_sends_what_a_commit_wrote_and_nothing_rolled_back(app, make_ticket, smtp, dialect):
    # On PostgreSQL the worker must be woken by the commit's NOTIFY: its poll interval is far beyond the wait.
    app.config["OUTBOX_WORKER_POLL_SECONDS"] = 60.0 if dialect == "postgresql" else 0.2
    db.session.commit()  # the reference data (queues, topics, policies)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(app,), kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        time.sleep(0.5)  # the worker's first round (an empty outbox) is done: what follows needs a wake-up
        make_ticket(subject="Annulée", requester_email="annule@labo.example")
        db.session.rollback()
        ticket = make_ticket(subject="Envoyée", requester_email="envoi@labo.example")
        db.session.commit()

        assert _wait_for(lambda: len(smtp.messages) >= 1, 10), "the committed acknowledgement did not leave"
    finally:
        stop.set()
        worker.join(timeout=5)
    assert [m["To"] for m in smtp.messages] == ["envoi@labo.example"]
    assert ticket.reference in smtp.messages[0]["Subject"]
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.SENT]


def test_a_web_submission_writes_its_mail_and_sends_none(client, reference_data, smtp):
    response = client.post("/demande", data={
        "name": "Jeanne Demandeur", "email": "jeanne@labo.example", "topic": "depot",
        "subject": "Date limite", "message": "Quelle est la date limite de dépôt ?"})
    assert response.status_code == 302
    assert [r.status for r in db.session.scalars(sa.select(OutboxMessage))] == [OutboxStatus.PENDING]
    time.sleep(0.3)
    assert smtp.messages == []

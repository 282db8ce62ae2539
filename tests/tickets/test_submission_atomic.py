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


def test_a_failure_after_the_number_was_taken_leaves_nothing_and_at_most_a_gap(client, one_submitted, count_rows,
                                                                              monkeypatch, dialect):
    """The README's promise: a failed submission writes nothing; on PostgreSQL its number stays unused (a gap,
    never a number given twice), on SQLite the counter is rolled back with the rest."""
    from tickets import workflow

    before, _counters = one_submitted
    first = db_last_reference()

    def broken(ticket_id):
        raise RuntimeError("panne après la numérotation")

    monkeypatch.setattr(workflow, "start_thread", broken)  # after the reference, before the commit
    monkeypatch.setitem(client.application.config, "PROPAGATE_EXCEPTIONS", False)
    assert client.post("/demande", data={**FORM, "subject": "Échouera"}).status_code == 500
    assert _counts(count_rows) == before
    monkeypatch.undo()
    assert client.post("/demande", data={**FORM, "subject": "Réussira"}).status_code == 302
    year, number = first.rsplit("-", 1)
    expected = int(number) + (2 if dialect == "postgresql" else 1)
    assert db_last_reference() == f"{year}-{expected:06d}"


def db_last_reference() -> str:
    import sqlalchemy as sa

    from crm.core.extensions import db

    return db.session.scalar(sa.select(Ticket.reference).order_by(Ticket.id.desc()).limit(1))


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


def _stored_files(app) -> set[str]:
    from pathlib import Path

    root = Path(app.config["UPLOAD_FOLDER"])
    return {p.name for p in root.glob("??/*")} if root.is_dir() else set()


def test_a_failed_submission_leaves_no_uploaded_file_behind(app, client, one_submitted, monkeypatch):
    import io
    import secrets

    content = b"%PDF-1.4 " + secrets.token_bytes(64)  # new content: this submission writes the file
    before = _stored_files(app)

    def broken(ticket, message=None, **_kw):
        raise RuntimeError("panne après l'écriture des pièces jointes")

    monkeypatch.setattr(triage, "triage_ticket", broken)
    monkeypatch.setitem(client.application.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.post("/demande", data={**FORM, "subject": "Avec pièce jointe",
                                             "attachments": [(io.BytesIO(content), "lettre.pdf")]},
                           content_type="multipart/form-data")
    assert response.status_code == 500
    assert _stored_files(app) == before  # the file was written, then removed with the rollback


def test_a_kept_submission_keeps_its_file_and_the_orphan_job_removes_only_orphans(app, client, reference_data):
    import hashlib
    import io
    import os
    import secrets
    import time
    from pathlib import Path

    from tickets.jobs import attachment_orphans

    content = b"%PDF-1.4 " + secrets.token_bytes(64)
    response = client.post("/demande", data={**FORM, "subject": "Avec pièce jointe",
                                             "attachments": [(io.BytesIO(content), "lettre.pdf")]},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    kept = hashlib.sha256(content).hexdigest()
    root = Path(app.config["UPLOAD_FOLDER"])
    orphan = root / "ab" / ("ab" + "0" * 62)  # what a killed process would have left: no row uses it
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"%PDF-1.4 orphelin")
    recent = root / "ac" / ("ac" + "1" * 62)
    recent.parent.mkdir(parents=True, exist_ok=True)
    recent.write_bytes(b"%PDF-1.4 en cours")  # may belong to a transaction still running: kept
    old = time.time() - 3 * 86400
    for path in (orphan, root / kept[:2] / kept):
        os.utime(path, (old, old))
    assert attachment_orphans() == {"orphan_files": 1}
    assert not orphan.exists() and recent.exists() and (root / kept[:2] / kept).exists()
    recent.unlink()

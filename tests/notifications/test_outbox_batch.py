"""E-mails enqueued in a batch (notifications.outbox.batch) thread exactly as when enqueued one by one (issue 9).

Inside a batch the first mail of a thread to each recipient is looked up once, at the end, for every row: it may
be a mail written before (an earlier transaction) or a row earlier in the same batch.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from notifications import outbox
from notifications.models import OutboxMessage

KNOWN = "<requester-own@labo.example>"


def _enqueue_three(ticket) -> None:
    for key, recipient, refs in (("a", "agent@test.example", ()), ("b", "agent@test.example", ()),
                                 ("c", ticket.requester_email, (KNOWN,))):
        outbox.enqueue_email(dedup_key=f"batch-test:{ticket.id}:{key}", kind="test", recipient=recipient,
                             template="notifications/mail/staff_notice", locale="fr", thread_id=ticket.id,
                             subject_prefix=f"[{ticket.reference}] ", thread_refs=refs, title="Titre", body="Corps",
                             link="https://guichet.example/notifications/1", urgent=False, user=None,
                             ticket=ticket)


def _headers(ticket) -> list[tuple[str, str | None, str]]:
    """(kind, In-Reply-To, References) of the ticket's mails, Message-IDs replaced by the kind of their row."""
    rows = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id).order_by(OutboxMessage.id)
    ).all()
    names = {row.message_id: f"{row.kind}:{row.dedup_key.rsplit(':', 1)[-1]}" for row in rows} | {KNOWN: "known"}
    return [(names[r.message_id], names.get(r.in_reply_to), " ".join(names[i] for i in r.references.split()))
            for r in rows]


def test_a_batch_threads_its_mails_as_one_by_one(make_ticket):
    one_by_one, batched = make_ticket(), make_ticket()
    db.session.flush()
    outbox.end_threads(db.session)  # a later transaction: the tickets' threads are looked up, not fresh
    _enqueue_three(one_by_one)
    with outbox.batch():
        _enqueue_three(batched)
        assert _headers(batched) == [("ack:" + batched.requester_email, None, "")]  # nothing written yet
    expected = [
        ("ack:" + one_by_one.requester_email, None, ""),  # the acknowledgement, written when the ticket was
        ("test:a", None, ""),  # the agent's first mail of the thread
        ("test:b", "test:a", "test:a"),  # threads on it (in the batch: a row written in the same statement)
        ("test:c", "ack:" + one_by_one.requester_email, "known ack:" + one_by_one.requester_email),
    ]
    assert _headers(one_by_one) == expected
    assert _headers(batched) == [(k.replace(one_by_one.requester_email, batched.requester_email),
                                  r and r.replace(one_by_one.requester_email, batched.requester_email),
                                  f.replace(one_by_one.requester_email, batched.requester_email))
                                 for k, r, f in expected]


def test_a_batch_thread_lookup_is_one_statement_and_none_for_fresh_threads(make_ticket):
    tickets = [make_ticket() for _ in range(3)]
    db.session.flush()
    statements: list[str] = []

    def on_statement(_conn, _cursor, statement, *_args):
        text = " ".join(statement.split())
        if "INSERT INTO outbox_messages" in text:  # on PostgreSQL inside WITH … SELECT pg_notify(…)
            statements.append("INSERT INTO outbox_messages")
        elif text.startswith("SELECT"):
            statements.append(text[:27])

    sa.event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        with outbox.batch():  # the threads were started in this transaction: their first mails are known
            for ticket in tickets:
                _enqueue_three(ticket)
        assert statements == ["INSERT INTO outbox_messages"]
        statements.clear()
        outbox.end_threads(db.session)
        with outbox.batch():  # a later transaction: one read for the three threads
            for ticket in tickets:
                for key in ("d", "e"):
                    outbox.enqueue_email(dedup_key=f"later:{ticket.id}:{key}", kind="test",
                                         recipient="agent@test.example", template="notifications/mail/staff_notice",
                                         thread_id=ticket.id, title="T", body="", link="https://x.example/",
                                         urgent=False, user=None, ticket=ticket)
        assert statements == ["SELECT outbox_messages.tick", "INSERT INTO outbox_messages"]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", on_statement)
    for ticket in tickets:
        first = db.session.scalar(sa.select(OutboxMessage.message_id).where(
            OutboxMessage.dedup_key == f"batch-test:{ticket.id}:a"))
        later = db.session.scalars(sa.select(OutboxMessage.in_reply_to).where(
            OutboxMessage.dedup_key.like(f"later:{ticket.id}:%"))).all()
        assert later == [first, first]

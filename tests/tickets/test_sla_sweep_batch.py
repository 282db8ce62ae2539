"""The SLA sweep writes a batch's notifications and e-mails in a few statements, whatever its steps (issue 9).

Each batch of due tickets (tickets.sla_tracking.sweep_sla) runs its receivers inside notifications.batch():
their in-app notifications are one insert, their e-mails another, the threads those e-mails continue one read.
The number of statements of a sweep depends on the (step, target) groups it records, not on the tickets in
them; each step is still recorded and told once, threaded as one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.models import User
from notifications.models import Notification, OutboxMessage
from notifications.outbox import end_threads
from tickets import services
from tickets.models import SlaMark, SlaState, Ticket
from tickets.sla_tracking import sweep_sla

MONDAY_10H = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _staffed(make_ticket, agent, count: int, at: datetime) -> list[Ticket]:
    tickets = []
    for i in range(count):
        ticket = make_ticket(subject=f"Demande {at:%d%m} {i}", topic="depot", created_at=at)
        services.claim_ticket(ticket, agent, now=at)
        tickets.append(ticket)
    return tickets


def _counted_sweep(now: datetime) -> tuple[list[str], object]:
    statements: list[str] = []

    def on_statement(_conn, _cursor, statement, _parameters, _context, _executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(" ".join(statement.split())[:200])

    db.session.flush()
    db.session.expunge_all()  # as the scheduler's sweep starts, in a transaction of its own: nothing loaded,
    end_threads(db.session)  # and no thread started in it (its mails' threads are looked up)
    sa.event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        result = sweep_sla(now)
        db.session.flush()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", on_statement)
    return statements, result


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_a_sweep_costs_the_same_statements_for_2_or_12_tickets(make_ticket, make_user, reference_data):
    manager, agent = make_user("manager"), make_user("agent")
    reference_data["queues"]["support"].manager = manager
    few = _staffed(make_ticket, agent, 2, MONDAY_10H)
    few_ids = [t.id for t in few]
    first, result = _counted_sweep(MONDAY_10H + timedelta(days=40))  # both targets at risk, then breached
    assert (result.at_risk, result.breached) == (2 * 2, 2 * 2)

    later = MONDAY_10H + timedelta(days=50)
    agent, manager = db.session.get(User, agent.id), db.session.get(User, manager.id)  # after expunge_all()
    many = _staffed(make_ticket, agent, 12, later)
    many_ids = [t.id for t in many]
    second, result = _counted_sweep(later + timedelta(days=40))
    assert (result.at_risk, result.breached) == (12 * 2, 12 * 2)

    assert len(second) == len(first), "\n".join(["2 tickets:", *first, "12 tickets:", *second])
    # 4 groups (at risk / breached × first response / resolution), each: the due tickets, their assignees' roles
    # and their policies, their states, marks and events, then the notifications, the threads read and the
    # e-mails; once, the queue's manager (38 statements here; one by one, 3 per e-mail: 3 × 6 × 12 for 12 tickets)
    assert len(first) <= 4 * 10, "\n".join(first)
    assert sum(s.startswith("SELECT outbox_messages") for s in second) == 4
    assert sum(s.startswith("INSERT INTO notifications") for s in second) == 4
    assert sum("INSERT INTO outbox_messages" in s for s in second) == 4  # PostgreSQL: WITH … (INSERT …) NOTIFY

    for ids, n in ((few_ids, 2), (many_ids, 12)):
        # per ticket and target: at risk → assignee; breached → assignee again and the manager, once each
        assert _count(SlaMark, SlaMark.ticket_id.in_(ids)) == n * 2 * 2
        assert _count(Notification, Notification.ticket_id.in_(ids), Notification.user_id == agent.id) == n * 4
        assert _count(Notification, Notification.ticket_id.in_(ids), Notification.user_id == manager.id) == n * 2
        assert _count(OutboxMessage, OutboxMessage.ticket_id.in_(ids), OutboxMessage.recipient == agent.email) == n * 4
        assert _count(OutboxMessage, OutboxMessage.ticket_id.in_(ids),
                      OutboxMessage.recipient == manager.email) == n * 2
    assert {t.first_response_state for t in db.session.scalars(sa.select(Ticket))} == {SlaState.BREACHED}

    again, result = _counted_sweep(later + timedelta(days=41))  # nothing new: nothing told again
    assert (result.at_risk, result.breached) == (0, 0)
    assert _count(Notification, Notification.kind.like("sla_%")) == 14 * 6
    assert not any(s.startswith("INSERT INTO notifications") for s in again)


def test_batched_escalation_mails_thread_as_one_by_one(make_ticket, make_user, reference_data):
    """Each mail of a ticket to a person threads on the first one they got about it, written by an earlier
    batch (the at-risk warning) or earlier in the same batch (the assignee is also the queue's manager)."""
    boss = make_user("manager", "agent")
    reference_data["queues"]["support"].manager = boss
    tickets = _staffed(make_ticket, boss, 3, MONDAY_10H)
    _counted_sweep(MONDAY_10H + timedelta(days=40))
    for ticket in tickets:
        mails = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id, OutboxMessage.recipient == boss.email)
            .order_by(OutboxMessage.id)
        ).all()
        # at risk ×2, then per target the assignee's warning and the manager's escalation (same person)
        assert [m.kind for m in mails] == ["sla_at_risk", "sla_at_risk", "sla_breached", "sla_breached_manager",
                                           "sla_breached", "sla_breached_manager"]
        head, *rest = mails
        assert head.in_reply_to is None and head.references == ""
        assert all((m.in_reply_to, m.references) == (head.message_id, head.message_id) for m in rest)
        assert len({m.message_id for m in mails}) == 6
        assert all(m.subject.startswith(f"[{ticket.reference}] [Urgent]") for m in mails)
        assert all(ticket.subject in m.body_text and "/notifications/" in m.body_text for m in mails)

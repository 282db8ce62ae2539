"""Agent side: queue queries (filters, default sort, pagination) and the agent pages and actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.extensions import db
from tickets import queries, services
from tickets.models import SlaState, Status, Ticket, Topic
from tickets.queries import QueueFilters, list_tickets, queue_query

# Monday 2 November 2026, 10:00 in Paris (09:00 UTC): inside office hours.
MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _refs(filters=None, **kw):
    return [t.reference for t in list_tickets(filters or QueueFilters(), **kw).items]


# --- queries -----------------------------------------------------------------------------------------


def test_default_sort_is_next_due_then_id_nulls_last(make_ticket, make_user):
    agent = make_user("agent")
    normal = make_ticket(created_at=MONDAY_10H)
    urgent = make_ticket(priority="urgent", created_at=MONDAY_10H + timedelta(hours=1))
    waiting = make_ticket(created_at=MONDAY_10H - timedelta(hours=1))
    services.put_on_hold(waiting, by=agent, now=MONDAY_10H + timedelta(hours=2))
    assert waiting.next_due_at is None
    same_due = make_ticket(created_at=MONDAY_10H)
    assert same_due.next_due_at == normal.next_due_at
    db.session.flush()
    assert _refs() == [urgent.reference, normal.reference, same_due.reference, waiting.reference]


def test_default_view_hides_inactive_and_status_filter(make_ticket, make_user):
    agent = make_user("agent")
    active = make_ticket(created_at=MONDAY_10H)
    done = make_ticket(created_at=MONDAY_10H)
    services.resolve_ticket(done, by=agent, now=MONDAY_10H + timedelta(hours=1))
    db.session.flush()
    assert _refs() == [active.reference]
    assert _refs(QueueFilters(statuses=(Status.RESOLVED,))) == [done.reference]
    assert _refs(QueueFilters(statuses=(Status.NEW,))) == [active.reference]
    both = _refs(QueueFilters(statuses=(Status.NEW, Status.RESOLVED)))
    assert sorted(both) == sorted([active.reference, done.reference])


def test_filters_queue_priority_topic_assignee_search(make_ticket, make_user):
    agent, other = make_user("agent"), make_user("agent")
    a = make_ticket(topic="avenant", created_at=MONDAY_10H, subject="Prolongation du projet")
    b = make_ticket(priority="high", created_at=MONDAY_10H, requester_email="zoe@univ.example")
    c = make_ticket(created_at=MONDAY_10H)
    services.claim_ticket(b, agent, now=MONDAY_10H)
    services.claim_ticket(c, other, now=MONDAY_10H)
    db.session.flush()
    avenant = db.session.scalar(sa.select(Topic).where(Topic.slug == "avenant"))
    assert _refs(QueueFilters(queue_ids=(a.queue_id,))) == [a.reference]
    assert _refs(QueueFilters(priorities=("high",))) == [b.reference]
    assert _refs(QueueFilters(topic_ids=(avenant.id,))) == [a.reference]
    assert _refs(QueueFilters(assignee="me", viewer_id=agent.id)) == [b.reference]
    assert _refs(QueueFilters(assignee="none")) == [a.reference]
    assert _refs(QueueFilters(assignee=other.id)) == [c.reference]
    assert len(_refs(QueueFilters(assignee="any"))) == 3
    assert _refs(QueueFilters(search="prolongation")) == [a.reference]
    assert _refs(QueueFilters(search="zoe@")) == [b.reference]
    assert _refs(QueueFilters(search=c.reference.lower())) == [c.reference]
    assert _refs(QueueFilters(search="100%_")) == []


def test_sla_state_filters(make_ticket):
    on_track = make_ticket(created_at=MONDAY_10H)
    at_risk = make_ticket(created_at=MONDAY_10H - timedelta(days=2))
    late = make_ticket(created_at=MONDAY_10H - timedelta(days=10))
    db.session.flush()
    now = at_risk.first_response_warn_at + timedelta(minutes=1)
    assert now < at_risk.first_response_due_at
    assert late.next_due_at <= now
    refs = {s: _refs(QueueFilters(sla_state=s, now=now)) for s in queries.SLA_FILTERS}
    assert refs[SlaState.BREACHED] == [late.reference]
    assert refs[SlaState.AT_RISK] == [at_risk.reference]
    assert refs[SlaState.ON_TRACK] == [on_track.reference]


def test_recorded_breach_counts_while_paused(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(created_at=MONDAY_10H)
    ticket.first_response_state = SlaState.BREACHED
    services.put_on_hold(ticket, by=agent, now=MONDAY_10H + timedelta(hours=1))
    ticket.first_response_state = SlaState.BREACHED
    db.session.flush()
    assert ticket.next_due_at is None
    assert _refs(QueueFilters(sla_state="breached")) == [ticket.reference]
    assert _refs(QueueFilters(sla_state="on_track")) == []


def test_pagination_offset_keyset_and_capped_count(make_ticket, monkeypatch):
    tickets = [make_ticket(created_at=MONDAY_10H + timedelta(minutes=i)) for i in range(7)]
    db.session.flush()
    expected = [t.reference for t in tickets]
    first = list_tickets(per_page=3, count=True)
    assert [t.reference for t in first.items] == expected[:3]
    assert first.has_next and not first.has_prev and first.total == 7
    third = list_tickets(page=3, per_page=3)
    assert [t.reference for t in third.items] == expected[6:]
    assert not third.has_next and third.has_prev
    following = list_tickets(per_page=3, after=first.next_cursor)
    assert [t.reference for t in following.items] == expected[3:6]
    monkeypatch.setattr(queries, "COUNT_CAP", 4)
    assert queries.count_tickets(cap=4) == 5


def test_queue_query_uses_the_partial_index_predicate(app):
    sql = str(queue_query().compile(db.engine, compile_kwargs={"literal_binds": True}))
    assert "status IN ('new', 'open', 'waiting_on_requester', 'auto_answered')" in sql
    assert "ORDER BY tickets.next_due_at ASC NULLS LAST, tickets.id ASC" in sql


@pytest.mark.postgres
def test_queue_first_page_plan_uses_index(app, make_ticket, dialect):
    if dialect != "postgresql":
        pytest.skip("PostgreSQL plan")
    for i in range(3):
        make_ticket(created_at=MONDAY_10H + timedelta(minutes=i))
    db.session.flush()
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        db.session.execute(sa.text(f"SET LOCAL {setting} = off"))
    ticket = db.session.scalar(sa.select(Ticket))
    for filters, index in ((QueueFilters(), "ix_tickets_active_due"),
                           (QueueFilters(queue_ids=(ticket.queue_id,)), "ix_tickets_queue_active_due"),
                           (QueueFilters(assignee="none"), "_active_due")):
        compiled = queue_query(filters).limit(50).compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
        assert index in plan, plan
        assert "Sort" not in plan, plan

"""Ticket lifecycle services: creation, replies, notes, statuses, SLA pauses, claims, merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from tickets import services, signals, workflow
from tickets.models import Message, SlaMark, SlaState, Status, Ticket, TicketEvent
from tickets.sla_tracking import recompute_sla, sweep_sla, ticket_clocks

# Monday 2 November 2026, 10:00 in Paris (09:00 UTC): inside office hours.
MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_reference_is_sequential_per_year(make_ticket):
    # a year nobody used: its numbering starts at 1 (on PostgreSQL its sequence is created by this first ticket)
    first = make_ticket(created_at=datetime(2031, 3, 3, 9, tzinfo=UTC))
    second = make_ticket(created_at=datetime(2031, 3, 3, 9, tzinfo=UTC))
    assert first.reference == "DEM-2031-000001"
    assert second.reference == "DEM-2031-000002"
    next_year = make_ticket(created_at=datetime(2032, 1, 5, 9, tzinfo=UTC))
    assert next_year.reference == "DEM-2032-000001"
    assert make_ticket(created_at=datetime(2031, 6, 1, 9, tzinfo=UTC)).reference == "DEM-2031-000003"


def test_a_new_years_numbering_starts_after_the_numbers_already_given(make_ticket, dialect):
    """Numbers given before (a counter row, tickets already numbered) are never given again."""
    from tickets.models import ReferenceCounter

    imported = make_ticket(created_at=datetime(2033, 2, 1, 9, tzinfo=UTC))
    assert imported.reference == "DEM-2033-000001"
    imported.reference = "DEM-2033-000057"  # e.g. tickets loaded from another system
    db.session.merge(ReferenceCounter(year=2033, last=41))
    db.session.flush()
    if dialect == "postgresql":  # a year's sequence starts after both, whichever is higher
        db.session.execute(sa.text("DROP SEQUENCE ticket_reference_2033"))  # as if 2033 had never been numbered here
        assert make_ticket(created_at=datetime(2033, 3, 1, 9, tzinfo=UTC)).reference == "DEM-2033-000058"
        db.session.execute(sa.text("DROP SEQUENCE ticket_reference_2033"))
        db.session.merge(ReferenceCounter(year=2033, last=70))
        db.session.flush()
        assert make_ticket(created_at=datetime(2033, 3, 1, 9, tzinfo=UTC)).reference == "DEM-2033-000071"
    else:  # SQLite: the counter row is the numbering
        assert make_ticket(created_at=datetime(2033, 3, 1, 9, tzinfo=UTC)).reference == "DEM-2033-000042"


def test_create_ticket_routes_by_topic_and_chooses_policy(make_ticket):
    ticket = make_ticket(topic="avenant", created_at=MONDAY_10H)
    assert ticket.queue.slug == "referents-amendements"
    assert ticket.sla_policy.name == "Avenants"
    assert "Avenants" in ticket.sla_reason
    # 3 business days of 7h30 from Monday 10:00 → Wednesday... first response due Thursday 10:00.
    assert ticket.first_response_due_at == datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    assert ticket.next_due_at == ticket.first_response_due_at
    assert [e.kind for e in ticket.events] == ["created", "sla_policy"]


def test_most_specific_policy_wins_and_reason_recorded(make_ticket):
    ticket = make_ticket(priority="urgent", service_tier="premium", created_at=MONDAY_10H)
    # Both "Urgence 24/7" (priority) and "Établissement premium" (tier) match; tier weighs more.
    assert ticket.sla_policy.name == "Établissement premium"
    assert "premium" in ticket.sla_reason


def test_invalid_input_is_refused_without_writing(make_ticket, count_rows):
    with pytest.raises(services.TicketError, match="obligatoires"):
        make_ticket(subject="  ")
    with pytest.raises(services.TicketError, match="Thème inconnu"):
        make_ticket(topic="inexistant")
    assert count_rows(Ticket) == 0


def test_access_key_is_stored_hashed(make_ticket):
    ticket = make_ticket()
    assert ticket.access_key not in ticket.access_key_hash
    assert services.check_access_key(ticket, ticket.access_key)
    assert not services.check_access_key(ticket, "wrong")
    assert not services.check_access_key(ticket, None)


def test_first_public_reply_stops_first_response_clock(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(created_at=MONDAY_10H)
    services.add_internal_note(ticket, author=agent, body="Note interne", now=MONDAY_10H + timedelta(hours=1))
    assert ticket.first_responded_at is None
    services.reply_to_ticket(ticket, author=agent, body="Réponse", now=MONDAY_10H + timedelta(hours=2))
    assert ticket.first_responded_at == MONDAY_10H + timedelta(hours=2)
    assert ticket.first_response_state == SlaState.MET
    assert ticket.first_response_seconds == 2 * 3600
    assert ticket.first_response_due_at is None
    assert ticket.assignee == agent
    assert ticket.status == Status.OPEN


def test_waiting_on_requester_pauses_and_reply_resumes(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(created_at=MONDAY_10H)
    due_before = ticket.resolution_due_at
    services.reply_to_ticket(ticket, author=agent, body="Précisez ?", next_status=Status.WAITING,
                             now=MONDAY_10H + timedelta(hours=1))
    assert ticket.sla_paused is True
    assert ticket.resolution_due_at is None
    assert ticket.next_due_at is None
    # The requester answers the next day at 10:00: one business day (7h30) was paused.
    workflow.add_requester_reply(ticket, body="Voici", now=MONDAY_10H + timedelta(days=1))
    assert ticket.status == Status.OPEN
    assert ticket.sla_paused is False
    # Paused Monday 11:00 → Tuesday 10:00: 1h30 + 4h on Monday, 1h on Tuesday = 6h30 of business time.
    assert due_before == datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # 10 business days, 11 Nov is a holiday
    assert ticket.resolution_due_at == datetime(2026, 11, 17, 16, 30, tzinfo=UTC)  # 17:30 in Paris
    view = ticket_clocks(ticket, MONDAY_10H + timedelta(days=1, hours=1))
    assert len(view.clocks["resolution"].paused_intervals) == 1


def test_internal_notes_are_not_public(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket()
    services.add_internal_note(ticket, author=agent, body="Secret")
    assert all(not m.internal for m in ticket.public_messages)
    assert any(m.internal for m in ticket.messages)


def test_status_transitions_are_checked(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket()
    services.change_status(ticket, Status.CLOSED, by=agent)
    with pytest.raises(services.TicketError):
        services.change_status(ticket, Status.OPEN, by=agent)
    with pytest.raises(services.TicketError, match="Statut inconnu"):
        services.change_status(ticket, "bidon", by=agent)


def test_requester_reply_reopens_resolved_within_window(app, make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(created_at=MONDAY_10H)
    services.reply_to_ticket(ticket, author=agent, body="Réponse", now=MONDAY_10H + timedelta(hours=1))
    services.resolve_ticket(ticket, by=agent, now=MONDAY_10H + timedelta(hours=2))
    assert ticket.resolution_state == SlaState.MET
    workflow.add_requester_reply(ticket, body="Pas tout à fait", now=MONDAY_10H + timedelta(days=2))
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None
    assert ticket.resolution_state == SlaState.ON_TRACK
    services.resolve_ticket(ticket, by=agent, now=MONDAY_10H + timedelta(days=3))
    late = MONDAY_10H + timedelta(days=3 + app.config["REOPEN_WINDOW_DAYS"] + 1)
    with pytest.raises(services.TicketError, match="close"):
        workflow.add_requester_reply(ticket, body="Encore", now=late)


def test_claim_is_exclusive(make_ticket, make_user):
    first, second = make_user("agent"), make_user("agent")
    ticket = make_ticket()
    assert services.claim_ticket(ticket, first) is True
    assert services.claim_ticket(ticket, second) is False
    assert ticket.assignee == first


def test_claim_next_takes_the_ticket_due_first(make_ticket, make_user):
    agent = make_user("agent")
    later = make_ticket(created_at=MONDAY_10H)
    sooner = make_ticket(priority="urgent", created_at=MONDAY_10H)
    assert services.claim_next_ticket(agent) == sooner
    assert services.claim_next_ticket(agent) == later
    assert services.claim_next_ticket(agent) is None


def test_priority_change_rechooses_policy(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(created_at=MONDAY_10H)
    assert ticket.sla_policy.name == "Standard"
    services.update_ticket(ticket, by=agent, priority="urgent", now=MONDAY_10H + timedelta(minutes=5))
    assert ticket.sla_policy.name == "Urgence 24/7"
    assert ticket.first_response_due_at == MONDAY_10H + timedelta(hours=4)
    kinds = [e.kind for e in ticket.events]
    assert "priority" in kinds and kinds.count("sla_policy") == 2


def test_merge_closes_duplicate_and_copies_messages(make_ticket, make_user):
    agent = make_user("agent")
    target, duplicate = make_ticket(), make_ticket(body="Même question, autrement dit")
    services.merge_tickets(duplicate, target, by=agent)
    assert duplicate.status == Status.CLOSED
    assert duplicate.merged_into == target
    assert any("autrement dit" in m.body and m.internal for m in target.messages)
    with pytest.raises(services.TicketError):
        services.merge_tickets(target, target, by=agent)


def test_sweep_records_each_step_once(make_ticket):
    ticket = make_ticket(priority="urgent", created_at=MONDAY_10H)  # 4 h first response, 24/7
    received = []

    def on_risk(sender, **kw):
        received.append(("risk", kw["target"]))

    def on_breach(sender, **kw):
        received.append(("breach", kw["target"]))

    with signals.sla_at_risk.connected_to(on_risk), signals.sla_breached.connected_to(on_breach):
        result = sweep_sla(MONDAY_10H + timedelta(hours=3, minutes=1))
        assert (result.at_risk, result.breached) == (1, 0)
        assert ticket.first_response_state == SlaState.AT_RISK
        assert sweep_sla(MONDAY_10H + timedelta(hours=3, minutes=2)).at_risk == 0
        result = sweep_sla(MONDAY_10H + timedelta(hours=5))
        assert result.breached == 1
        again = sweep_sla(MONDAY_10H + timedelta(hours=5))
        assert (again.at_risk, again.breached) == (0, 0)
    assert received == [("risk", "first_response"), ("breach", "first_response")]
    marks = db.session.scalars(sa.select(SlaMark).where(SlaMark.ticket_id == ticket.id)).all()
    assert {(m.target, m.kind) for m in marks} == {("first_response", "at_risk"), ("first_response", "breached")}


def test_breached_then_answered_is_missed(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket(priority="urgent", created_at=MONDAY_10H)
    sweep_sla(MONDAY_10H + timedelta(hours=5))
    assert ticket.first_response_state == SlaState.BREACHED
    services.reply_to_ticket(ticket, author=agent, body="Désolé du délai", now=MONDAY_10H + timedelta(hours=6))
    assert ticket.first_response_state == SlaState.MISSED


def test_recompute_never_moves_state_forward(make_ticket):
    ticket = make_ticket(priority="urgent", created_at=MONDAY_10H)
    recompute_sla(ticket, MONDAY_10H + timedelta(hours=10))
    assert ticket.first_response_state == SlaState.ON_TRACK  # the sweep records it, with its signal


def test_events_record_before_and_after(make_ticket, make_user):
    agent = make_user("agent")
    ticket = make_ticket()
    services.update_ticket(ticket, by=agent, priority="high")
    event = db.session.scalar(sa.select(TicketEvent).where(TicketEvent.kind == "priority"))
    assert event.data == {"before": "normal", "after": "high"}
    assert event.actor == agent


def test_message_count(make_ticket, count_rows):
    make_ticket()
    assert count_rows(Message) == 1


def test_sweep_works_through_several_batches(make_ticket):
    tickets = [make_ticket(priority="urgent", created_at=MONDAY_10H) for _ in range(5)]
    result = sweep_sla(MONDAY_10H + timedelta(hours=5), batch=2)
    assert (result.at_risk, result.breached) == (5, 5)
    assert {t.first_response_state for t in tickets} == {SlaState.BREACHED}
    events = db.session.scalars(sa.select(TicketEvent.kind).where(TicketEvent.kind.like("sla_%_%"))).all()
    assert events.count("sla_breached") == 5 and events.count("sla_at_risk") == 5

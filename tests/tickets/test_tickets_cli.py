"""`guichet sla sweep` and `guichet sla recompute` on a committed database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from tickets.models import SlaMark, SlaPolicy, SlaState, Ticket, TicketEvent

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _fresh(reference: str) -> Ticket:
    db.session.expire_all()
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))


@pytest.mark.committed
def test_sweep_records_once_and_commits(runner, make_ticket):
    reference = make_ticket(priority="urgent", created_at=T0).reference  # first response due in 4 h, 24/7
    make_ticket(created_at=T0)  # standard: 2 business days, nothing due yet
    db.session.commit()

    result = runner.invoke(args=["sla", "sweep", "--now", (T0 + timedelta(hours=5)).isoformat()])
    assert result.exit_code == 0, result.output
    assert "1 passage(s) à risque, 1 dépassement(s)" in result.output
    ticket = _fresh(reference)
    assert ticket.first_response_state == SlaState.BREACHED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaMark)) == 2

    again = runner.invoke(args=["sla", "sweep", "--now", (T0 + timedelta(hours=5)).isoformat()])
    assert again.exit_code == 0, again.output
    assert "0 passage(s) à risque, 0 dépassement(s)" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaMark)) == 2
    events = db.session.scalars(sa.select(TicketEvent.kind).where(TicketEvent.kind.like("sla_%"),
                                                                  TicketEvent.kind != "sla_policy")).all()
    assert sorted(events) == ["sla_at_risk", "sla_breached"]


@pytest.mark.committed
def test_sweep_without_now_uses_the_clock(runner, make_ticket):
    make_ticket(priority="urgent", created_at=datetime.now(UTC) - timedelta(hours=3, minutes=30))
    db.session.commit()
    result = runner.invoke(args=["sla", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 passage(s) à risque, 0 dépassement(s)" in result.output


def test_sweep_refuses_a_malformed_instant(runner):
    result = runner.invoke(args=["sla", "sweep", "--now", "hier soir"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


@pytest.mark.committed
def test_recompute_after_a_policy_change(runner, make_ticket, make_user):
    urgent = make_ticket(priority="urgent", created_at=T0)
    closed = make_ticket(priority="urgent", created_at=T0)
    from tickets import services

    services.change_status(closed, "closed", by=make_user("agent"), now=T0 + timedelta(minutes=5))
    references = (urgent.reference, closed.reference)
    assert urgent.first_response_due_at == T0 + timedelta(hours=4)
    policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.name == "Urgence 24/7"))
    policy.first_response_minutes = 8 * 60
    db.session.commit()

    later = (T0 + timedelta(hours=1)).isoformat()
    result = runner.invoke(args=["sla", "recompute", "--batch-size", "1", "--now", later])
    assert result.exit_code == 0, result.output
    assert "1 demande(s) active(s), 1 modifiée(s)" in result.output
    assert _fresh(references[0]).first_response_due_at == T0 + timedelta(hours=8)
    assert _fresh(references[1]).first_response_due_at is None
    result = runner.invoke(args=["sla", "recompute", "--now", later])
    assert "0 modifiée(s)" in result.output

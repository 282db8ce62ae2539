"""`guichet sla` commands: record due SLA steps (sweep), recompute due times after a policy change."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from crm.core.database import transaction
from crm.core.extensions import db, utcnow
from tickets.models import ACTIVE_STATUSES, Ticket

sla_cli = AppGroup("sla", help="Délais de traitement (SLA).")


class InstantType(click.ParamType):
    """An ISO 8601 instant; without an offset it is read as UTC."""

    name = "instant"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"date et heure ISO 8601 attendues (ex. 2026-11-02T10:00+01:00), reçu {value!r}", param, ctx)
        return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@sla_cli.command("sweep")
@click.option("--now", type=InstantType(), default=None, help="Instant de référence (par défaut : maintenant).")
def sweep_command(now: datetime | None) -> None:
    """Record the at-risk and breached steps that are due, once each, and commit."""
    from tickets.sla_tracking import sweep_sla

    with transaction():
        result = sweep_sla(now or utcnow())
    click.echo(f"Balayage SLA : {result}.")


def active_ticket_ids(after: int, batch: int) -> list[int]:
    """Ids of active tickets after an id, in id order (keyset batches)."""
    query = (sa.select(Ticket.id).where(Ticket.status.in_(ACTIVE_STATUSES), Ticket.id > after)
             .order_by(Ticket.id).limit(batch))
    return list(db.session.scalars(query))


@sla_cli.command("recompute")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--now", type=InstantType(), default=None, help="Instant de référence (par défaut : maintenant).")
def recompute_command(batch_size: int, now: datetime | None) -> None:
    """Choose the policy again and recompute due times of every active ticket, committing each batch."""
    from tickets.services import apply_sla_policy

    now = now or utcnow()
    last, total, changed = 0, 0, 0
    while ids := active_ticket_ids(last, batch_size):
        with transaction():
            for ticket in db.session.scalars(sa.select(Ticket).where(Ticket.id.in_(ids))).unique():
                before = (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at)
                apply_sla_policy(ticket, now=now)
                if (ticket.sla_policy_id, ticket.first_response_due_at, ticket.resolution_due_at) != before:
                    changed += 1
        db.session.expunge_all()
        total += len(ids)
        last = ids[-1]
    click.echo(f"Délais recalculés : {total} demande(s) active(s), {changed} modifiée(s).")


def init_app(app: Flask) -> None:
    """Register the `sla` command group."""
    app.cli.add_command(sla_cli)

"""Scheduled jobs of the tickets package (registered through crm.core.registry).

Jobs: ``sla_sweep`` (tickets.sla_tracking.sweep_sla), ``unassigned_check`` (signal ``unassigned_too_long``),
``triage_second_look`` (tickets.triage.second_looks, also run by `guichet outbox worker` at every round) and
``attachment_retention``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from crm.core.extensions import db, utcnow
from tickets import signals
from tickets.models import ACTIVE_STATUSES, Attachment, Message, SlaMark, Status, Ticket

#: The SlaMark (target, kind) recording that the "unassigned too long" alert was taken care of.
UNASSIGNED_MARK = ("assignment", "unassigned")


def check_unassigned(now: datetime | None = None) -> int:
    """Signal active tickets left unassigned too long (business time) to their queue manager; once per ticket."""
    from tickets.sla_tracking import business_calendar, next_open_instant

    now = now or utcnow()
    limit = timedelta(minutes=current_app.config["UNASSIGNED_ALERT_MINUTES"])
    target, kind = UNASSIGNED_MARK
    marked = sa.select(SlaMark.id).where(SlaMark.ticket_id == Ticket.id, SlaMark.target == target,
                                         SlaMark.kind == kind).exists()
    tickets = db.session.scalars(
        sa.select(Ticket)
        .where(Ticket.assignee_id.is_(None), Ticket.status.in_(ACTIVE_STATUSES),
               Ticket.status != Status.AUTO_ANSWERED, Ticket.created_at <= now - limit, ~marked)
        .order_by(Ticket.id).limit(500)
    ).all()
    count = 0
    for ticket in tickets:
        manager = ticket.queue.manager if ticket.queue else None
        if manager is None:
            continue
        policy = ticket.sla_policy
        if policy is not None and business_calendar(policy.calendar).between(ticket.created_at, now) < limit:
            continue
        answers = signals.unassigned_too_long.send(ticket, manager=manager, now=now,
                                                   notify_at=next_open_instant(ticket, now))
        if any(result is not None for _receiver, result in answers):
            db.session.add(SlaMark(ticket_id=ticket.id, target=target, kind=kind, created_at=now))
            count += 1
    db.session.flush()
    return count


def purge_attachments(closed_before: datetime) -> int:
    """Remove attachments of tickets closed before the limit; a file stays while another message uses it."""
    from tickets.attachments import stored_path

    rows = db.session.execute(
        sa.select(Attachment.id, Attachment.sha256)
        .join(Message, Message.id == Attachment.message_id).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Ticket.closed_at.is_not(None), Ticket.closed_at < closed_before)
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    db.session.execute(sa.delete(Attachment).where(Attachment.id.in_(ids)))
    for digest in {r.sha256 for r in rows}:
        still_used = db.session.scalar(sa.select(Attachment.id).where(Attachment.sha256 == digest).limit(1))
        if still_used is None:
            stored_path(digest).unlink(missing_ok=True)
    return len(ids)


def attachment_retention(now: datetime | None = None) -> dict[str, int]:
    """The retention job: attachments of tickets closed more than ATTACHMENT_RETENTION_DAYS ago (0: keep)."""
    days = current_app.config["ATTACHMENT_RETENTION_DAYS"]
    if not days or days <= 0:
        return {"attachments": 0}
    return {"attachments": purge_attachments((now or utcnow()) - timedelta(days=days))}


def attachment_orphans(now: datetime | None = None) -> dict[str, int]:
    """Stored files no attachment uses, older than a day: what a process killed between writing a file and
    committing its row left behind (a transaction that rolls back removes its own files at once)."""
    from tickets.attachments import remove_orphans

    return {"orphan_files": remove_orphans(timedelta(days=1))}


def _sla_sweep():
    from tickets.sla_tracking import sweep_sla

    return sweep_sla()


def _second_look():
    from tickets.triage import second_looks

    counts = second_looks()
    return counts if counts["looked"] or counts["skipped"] else None


def init_app(app: Flask) -> None:
    """Register the jobs (idempotent)."""
    from crm.core import registry

    zone = app.config["BABEL_DEFAULT_TIMEZONE"]
    registry.add_job(app, "triage_second_look", _second_look,
                     {"trigger": "interval", "seconds": app.config["TRIAGE_SECOND_LOOK_SECONDS"]})
    registry.add_worker_job(app, "triage_second_look")
    registry.add_job(app, "sla_sweep", _sla_sweep, {"trigger": "interval", "minutes": 1})
    registry.add_job(app, "unassigned_check", check_unassigned, {"trigger": "interval", "minutes": 5})
    registry.add_job(app, "attachment_retention", attachment_retention,
                     {"trigger": "cron", "hour": 3, "minute": 20, "timezone": zone})
    registry.add_job(app, "attachment_orphans", attachment_orphans,
                     {"trigger": "cron", "hour": 3, "minute": 40, "timezone": zone})

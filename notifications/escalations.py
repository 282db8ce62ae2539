"""SLA escalations per policy: warn the assignee, warn again at breach, tell the manager, raise or requeue.

The sweep (tickets.sla_tracking.sweep_sla) sends sla_at_risk / sla_breached once per ticket and target;
each step here also carries a dedup key (ticket, target, step, recipient), so a step fires once even if
the sweep runs twice or a scheduler dies half-way (its transaction is then rolled back as a whole).
E-mails of a business-hours policy are deferred to the calendar's next open instant; 24/7 policies
send at once.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from crm.extensions import db, utcnow
from notifications.services import notify_user
from notifications.subscribers import localized

log = logging.getLogger(__name__)

#: Used when a policy's escalation JSON leaves a step out.
DEFAULT_ESCALATION = {
    "warn_assignee": True,
    "notify_manager_on_breach": True,
    "raise_priority_on_breach": False,
    "reassign_to_queue_on_breach": False,
}
_TARGET_LABELS = {
    "first_response": ("première réponse", "first response"),
    "resolution": ("résolution", "resolution"),
}
_NEXT_PRIORITY = {"low": "normal", "normal": "high", "high": "urgent"}


def escalation_settings(ticket) -> dict:
    """The ticket's policy escalation settings over the defaults."""
    settings = dict(DEFAULT_ESCALATION)
    if ticket.sla_policy is not None:
        settings.update(ticket.sla_policy.escalation or {})
    return settings


def defer_to_open_time(ticket, now: datetime) -> datetime:
    """The first instant from now when the ticket's calendar is open (now itself for 24/7 policies)."""
    from tickets.sla_tracking import business_calendar

    policy = ticket.sla_policy
    if policy is None:
        return now
    try:
        return business_calendar(policy.calendar).next_open(now)
    except ValueError:  # a calendar that never opens: do not hold the warning forever
        return now


def _step_instant(ticket, target: str, kind: str) -> datetime:
    """When the sweep recorded this step (its `now`), so deferral follows the sweep's clock."""
    from tickets.models import SlaMark

    created = db.session.scalar(
        sa.select(SlaMark.created_at).where(SlaMark.ticket_id == ticket.id, SlaMark.target == target,
                                            SlaMark.kind == kind)
    )
    return created or utcnow()


def _target_label(locale: str | None, target: str) -> str:
    fr, en = _TARGET_LABELS.get(target, (target, target))
    return en if (locale or "fr").startswith("en") else fr


def on_sla_at_risk(ticket, target: str = "first_response", **_kw) -> None:
    """At the at-risk share: warn the assignee (or the queue manager when nobody has the ticket)."""
    settings = escalation_settings(ticket)
    if not settings.get("warn_assignee"):
        return
    recipient = ticket.assignee or (ticket.queue.manager if ticket.queue else None)
    if recipient is None:
        return
    now = _step_instant(ticket, target, "at_risk")
    due = getattr(ticket, f"{target}_due_at")
    notify_user(
        recipient, kind="sla_at_risk", dedup_key=f"sla:{ticket.id}:{target}:at_risk:warn:{recipient.id}",
        ticket=ticket, urgent=True, not_before=defer_to_open_time(ticket, now),
        title=localized(recipient.locale, "Délai de %(target)s bientôt dépassé : %(ref)s",
                        "%(target)s deadline at risk: %(ref)s", ref=ticket.reference,
                        target=_target_label(recipient.locale, target)),
        body=_due_text(recipient.locale, due, ticket.subject),
    )


def on_sla_breached(ticket, target: str = "first_response", **_kw) -> None:
    """At breach: warn the assignee again, tell the queue manager, optionally raise the priority or requeue."""
    settings = escalation_settings(ticket)
    now = _step_instant(ticket, target, "breached")
    not_before = defer_to_open_time(ticket, now)
    due = getattr(ticket, f"{target}_due_at")
    assignee = ticket.assignee
    manager = ticket.queue.manager if ticket.queue else None
    if settings.get("warn_assignee") and assignee is not None:
        notify_user(
            assignee, kind="sla_breached", dedup_key=f"sla:{ticket.id}:{target}:breached:warn:{assignee.id}",
            ticket=ticket, urgent=True, not_before=not_before,
            title=localized(assignee.locale, "Délai de %(target)s dépassé : %(ref)s",
                            "%(target)s deadline breached: %(ref)s", ref=ticket.reference,
                            target=_target_label(assignee.locale, target)),
            body=_due_text(assignee.locale, due, ticket.subject),
        )
    if settings.get("notify_manager_on_breach") and manager is not None:
        notify_user(
            manager, kind="sla_breached_manager", dedup_key=f"sla:{ticket.id}:{target}:breached:manager:{manager.id}",
            ticket=ticket, urgent=True, not_before=not_before,
            title=localized(manager.locale, "Escalade — délai de %(target)s dépassé : %(ref)s",
                            "Escalation — %(target)s deadline breached: %(ref)s", ref=ticket.reference,
                            target=_target_label(manager.locale, target)),
            body=_due_text(manager.locale, due, ticket.subject, assignee=assignee),
        )
    if settings.get("raise_priority_on_breach") and ticket.priority in _NEXT_PRIORITY:
        from tickets.services import update_ticket

        update_ticket(ticket, by=None, priority=_NEXT_PRIORITY[ticket.priority], now=now)
    if settings.get("reassign_to_queue_on_breach") and assignee is not None:
        from tickets.services import assign_ticket

        assign_ticket(ticket, None, by=None, now=now)


def _due_text(locale: str | None, due: datetime | None, subject: str, assignee=None) -> str:
    from notifications.emails import local_datetime

    lines = [subject]
    if due is not None:
        lines.append(localized(locale, "Échéance : %(due)s", "Due: %(due)s", due=local_datetime(due, locale or "fr")))
    if assignee is not None:
        lines.append(localized(locale, "Attribuée à : %(name)s", "Assigned to: %(name)s", name=assignee.name))
    return "\n".join(lines)

"""SLA escalation messages per policy: warn the assignee, warn again at breach, tell the manager.

The sweep (tickets.sla_tracking.sweep_sla) sends signals.sla_at_risk / sla_breached once per ticket
and target, with the sweep's ``now``, ``notify_at`` (the calendar's next open instant) and the policy's
``escalation`` settings; the breach receiver applies the actions (raise the priority, requeue) after the messages.
Each step here also carries a dedup key (ticket, target, step, recipient), so a step fires once even if
the sweep runs twice or a scheduler dies half-way (its transaction is then rolled back as a whole).
E-mails of a business-hours policy are deferred to ``notify_at``; 24/7 policies send at once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from crm.core.extensions import utcnow
from notifications.emails import local_datetime
from tickets.emails import localized, notify_staff
from tickets.models import Priority, Ticket
from tickets.services import assign_ticket, update_ticket
from tickets.sla_tracking import escalation_settings

log = logging.getLogger(__name__)

_NEXT_PRIORITY = {Priority.LOW: Priority.NORMAL, Priority.NORMAL: Priority.HIGH, Priority.HIGH: Priority.URGENT}

_TARGET_LABELS = {
    "first_response": ("première réponse", "first response"),
    "resolution": ("résolution", "resolution"),
}


def _target_label(locale: str | None, target: str) -> str:
    fr, en = _TARGET_LABELS.get(target, (target, target))
    return en if (locale or "fr").startswith("en") else fr


def on_sla_at_risk(ticket, target: str = "first_response", now: datetime | None = None,
                   notify_at: datetime | None = None, escalation: dict | None = None, **_kw) -> None:
    """At the at-risk share: warn the assignee (or the queue manager when nobody has the ticket)."""
    settings = escalation if escalation is not None else escalation_settings(ticket)
    if not settings.get("warn_assignee"):
        return
    recipient = ticket.assignee or (ticket.queue.manager if ticket.queue else None)
    if recipient is None:
        return
    not_before = notify_at or now or utcnow()
    due = getattr(ticket, f"{target}_due_at")
    notify_staff(
        recipient, ticket, kind="sla_at_risk", dedup_key=f"sla:{ticket.id}:{target}:at_risk:warn:{recipient.id}",
        urgent=True, not_before=not_before,
        title=localized(recipient.locale, "Délai de %(target)s bientôt dépassé : %(ref)s",
                        "%(target)s deadline at risk: %(ref)s", ref=ticket.reference,
                        target=_target_label(recipient.locale, target)),
        body=_due_text(recipient.locale, due, ticket.subject),
    )


def on_sla_breached(ticket, target: str = "first_response", now: datetime | None = None,
                    notify_at: datetime | None = None, escalation: dict | None = None, **_kw) -> None:
    """At breach: warn the assignee again, tell the queue manager, then apply the policy's actions."""
    settings = escalation if escalation is not None else escalation_settings(ticket)
    not_before = notify_at or now or utcnow()
    due = getattr(ticket, f"{target}_due_at")
    assignee = ticket.assignee
    manager = ticket.queue.manager if ticket.queue else None
    if settings.get("warn_assignee") and assignee is not None:
        notify_staff(
            assignee, ticket, kind="sla_breached", dedup_key=f"sla:{ticket.id}:{target}:breached:warn:{assignee.id}",
            urgent=True, not_before=not_before,
            title=localized(assignee.locale, "Délai de %(target)s dépassé : %(ref)s",
                            "%(target)s deadline breached: %(ref)s", ref=ticket.reference,
                            target=_target_label(assignee.locale, target)),
            body=_due_text(assignee.locale, due, ticket.subject),
        )
    if settings.get("notify_manager_on_breach") and manager is not None:
        notify_staff(
            manager, ticket, kind="sla_breached_manager",
            dedup_key=f"sla:{ticket.id}:{target}:breached:manager:{manager.id}",
            urgent=True, not_before=not_before,
            title=localized(manager.locale, "Escalade — délai de %(target)s dépassé : %(ref)s",
                            "Escalation — %(target)s deadline breached: %(ref)s", ref=ticket.reference,
                            target=_target_label(manager.locale, target)),
            body=_due_text(manager.locale, due, ticket.subject, assignee=assignee),
        )
    apply_breach_actions(ticket, settings, now or utcnow())


def _due_text(locale: str | None, due: datetime | None, subject: str, assignee=None) -> str:
    lines = [subject]
    if due is not None:
        lines.append(localized(locale, "Échéance : %(due)s", "Due: %(due)s", due=local_datetime(due, locale or "fr")))
    if assignee is not None:
        lines.append(localized(locale, "Attribuée à : %(name)s", "Assigned to: %(name)s", name=assignee.name))
    return "\n".join(lines)


def apply_breach_actions(ticket: Ticket, settings: dict, now: datetime) -> None:
    """The policy's actions at breach (after the messages): raise the priority, put back in the queue."""
    if settings.get("raise_priority_on_breach") and ticket.priority in _NEXT_PRIORITY:
        update_ticket(ticket, by=None, priority=_NEXT_PRIORITY[ticket.priority], now=now)
    if settings.get("reassign_to_queue_on_breach") and ticket.assignee is not None:
        assign_ticket(ticket, None, by=None, now=now)

"""Bulk actions of the agent queue: one service call per ticket, all or nothing, in the request's transaction.

Each ticket goes through the same service as on its own page (services.assign_ticket, update_ticket,
merge_tickets), so it gets the same events, notifications and SLA handling. The tickets are read within the
agent's scope (queries.actionable_clause); a ticket outside it, closed or merged cannot take the action and the
whole action is refused, with the references named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from crm.core.extensions import db, utcnow
from crm.core.models import User
from tickets import queries, services
from tickets.models import Queue, Status, Ticket

ASSIGN_ME, ASSIGN, MOVE, PRIORITY, DUPLICATE = "assign_me", "assign", "queue", "priority", "duplicate"
ACTION_LABELS = {
    ASSIGN_ME: "M'attribuer les demandes",
    ASSIGN: "Attribuer à un membre de l'équipe",
    MOVE: "Changer de file",
    PRIORITY: "Changer la priorité",
    DUPLICATE: "Clore comme doublons d'une demande",
}
#: At most this many tickets in one action (the largest page of the queue).
MAX_TICKETS = 200


@dataclass(frozen=True)
class BulkAction:
    """What to do to the selected tickets: the action and the value it needs."""

    action: str
    assignee: User | None = None
    queue: Queue | None = None
    priority: str | None = None
    target: Ticket | None = None


def selected_tickets(ids: list[int], user: User) -> list[Ticket]:
    """The selected tickets the user may act on, by reference, in one read."""
    wanted = sorted(set(ids))[:MAX_TICKETS]
    if not wanted:
        return []
    return list(db.session.scalars(
        sa.select(Ticket).where(Ticket.id.in_(wanted), queries.actionable_clause(user))
        .order_by(Ticket.reference).options(sa.orm.defaultload(Ticket.assignee).lazyload(User.roles))
    ))


def refusals(ids: list[int], tickets: list[Ticket], bulk: BulkAction) -> list[str]:
    """Why the action cannot be done, one line per ticket that cannot take it (empty: it can be done)."""
    reasons = []
    missing = len(set(ids)) - len(tickets)
    if missing:
        reasons.append(ngettext("%(num)d demande sélectionnée est hors de votre périmètre ou introuvable.",
                                "%(num)d demandes sélectionnées sont hors de votre périmètre ou introuvables.",
                                missing))
    target_closed = bulk.action == DUPLICATE and bulk.target is not None and bulk.target.status == Status.CLOSED
    for ticket in tickets:
        if ticket.status == Status.CLOSED or ticket.merged_into_id is not None:
            reasons.append(_("%(ref)s : la demande est clôturée.", ref=ticket.reference))
        elif bulk.action == DUPLICATE and bulk.target is not None and not target_closed:
            try:  # the ticket page's own rules for a merge
                services.check_merge(ticket, bulk.target)
            except services.TicketError as error:
                reasons.append(f"{ticket.reference} : {error}")
    if target_closed:  # said once, not for every ticket
        reasons.append(_("%(ref)s : la demande cible est clôturée.", ref=bulk.target.reference))
    return reasons


def apply_bulk_action(tickets: list[Ticket], bulk: BulkAction, *, by: User, now: datetime | None = None) -> int:
    """Apply the action to every ticket through its service; returns how many tickets changed.

    Raises services.TicketError on the first ticket that refuses it: the caller rolls the whole action back."""
    now = now or utcnow()
    changed = 0
    for ticket in tickets:
        if bulk.action in (ASSIGN_ME, ASSIGN):
            assignee = by if bulk.action == ASSIGN_ME else bulk.assignee
            if ticket.assignee_id != (assignee.id if assignee else None):
                services.assign_ticket(ticket, assignee, by=by, now=now)
                changed += 1
        elif bulk.action == MOVE:
            changed += bool(services.update_ticket(ticket, by=by, queue=bulk.queue, now=now))
        elif bulk.action == PRIORITY:  # an unknown priority: update_ticket refuses it
            changed += bool(services.update_ticket(ticket, by=by, priority=bulk.priority, now=now))
        elif bulk.action == DUPLICATE:
            if bulk.target is None:
                raise services.TicketError(_("Indiquez la référence de la demande à conserver."))
            services.merge_tickets(ticket, bulk.target, by=by, now=now)
            changed += 1
        else:
            raise services.TicketError(_("Action inconnue."))
    db.session.flush()
    return changed

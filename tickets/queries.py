"""Named queries for the agent queue and ticket lists: filters, indexed sorts, pagination.

The default view (active statuses, sorted by the next SLA due time, NULLs last, then id) is served by the
partial indexes declared on Ticket: the active predicate is written `Ticket.status.in_(ACTIVE_STATUSES)`,
in the index's order, so PostgreSQL can match it. Nothing here loops over tickets in Python or counts
millions of rows: pages are read with LIMIT n+1, and the total is an estimate capped at COUNT_CAP.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from crm.core.models import STAFF_ROLES, Role, User, UserRole
from tickets import identity, reference
from tickets.models import (
    ACTIVE_STATUSES,
    CannedResponse,
    Priority,
    Queue,
    QueueMember,
    SlaState,
    Status,
    Ticket,
    Topic,
)

PER_PAGE = 50
#: The queue shows "more than COUNT_CAP" rather than counting every matching row.
COUNT_CAP = 10_000

SORTS = {
    "due": "Échéance la plus proche",
    "due_desc": "Échéance la plus lointaine",
    "created": "Plus récentes d'abord",
    "oldest": "Plus anciennes d'abord",
    "updated": "Dernière modification",
    "updated_asc": "Modifiées il y a le plus longtemps",
    "reference": "Référence (croissante)",
    "reference_desc": "Référence (décroissante)",
    "subject": "Objet (de A à Z)",
    "subject_desc": "Objet (de Z à A)",
    "status": "Statut (nouvelles d'abord)",
    "status_desc": "Statut (closes d'abord)",
    "priority": "Priorité (urgentes d'abord)",
    "priority_asc": "Priorité (basses d'abord)",
}
#: Sortable columns of the queue table: column -> (its first sort, the reverse one).
COLUMN_SORTS = {
    "reference": ("reference", "reference_desc"),
    "subject": ("subject", "subject_desc"),
    "status": ("status", "status_desc"),
    "priority": ("priority", "priority_asc"),
    "due": ("due", "due_desc"),
    "updated": ("updated", "updated_asc"),
}
#: Values of QueueFilters.assignee besides a user id; "group": assigned to the viewer or in one of their queues.
ASSIGNEE_ME, ASSIGNEE_NONE, ASSIGNEE_ANY, ASSIGNEE_GROUP = "me", "none", "any", "group"
#: SLA states one can filter on (live states, computed from the stored instants and states).
SLA_FILTERS = (SlaState.ON_TRACK, SlaState.AT_RISK, SlaState.BREACHED)


@dataclass(frozen=True)
class QueueFilters:
    """What to list. Empty tuples mean "any"; empty `statuses` means the active statuses."""

    queue_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    topic_ids: tuple[int, ...] = ()
    #: "me" (needs viewer_id), "none" (unassigned), "any"/None, or a user id.
    assignee: str | int | None = None
    viewer_id: int | None = None
    #: "on_track", "at_risk" or "breached", evaluated at `now`.
    sla_state: str | None = None
    #: A reference, an e-mail address (or its start) or words of the subject.
    search: str = ""
    requester_email: str | None = None
    requester_id: int | None = None
    sort: str = "due"
    #: Instant at which SLA states are evaluated; None: now.
    now: datetime | None = field(default=None, compare=False)

    def with_(self, **changes) -> QueueFilters:
        """A copy with some fields changed."""
        return replace(self, **changes)


def _targets():
    return (
        (Ticket.first_response_state, Ticket.first_response_warn_at, Ticket.first_response_due_at),
        (Ticket.resolution_state, Ticket.resolution_warn_at, Ticket.resolution_due_at),
    )


def breached_clause(now: datetime):
    """A pending target is past due, or a target was recorded breached (also while paused)."""
    return sa.or_(
        Ticket.next_due_at <= now,
        Ticket.first_response_state == SlaState.BREACHED,
        Ticket.resolution_state == SlaState.BREACHED,
    )


def at_risk_clause(now: datetime):
    """Not breached, and a pending target is between its warning instant and its due instant."""
    risky = [sa.and_(warn <= now, due > now) for _state, warn, due in _targets()]
    recorded = [state == SlaState.AT_RISK for state, _warn, _due in _targets()]
    return sa.and_(sa.not_(sa.func.coalesce(breached_clause(now), False)), sa.or_(*risky, *recorded))


def on_track_clause(now: datetime):
    """Neither breached nor at risk."""
    return sa.not_(sa.func.coalesce(sa.or_(breached_clause(now), at_risk_clause(now)), False))


def live_sla_state(ticket: Ticket, now: datetime | None = None) -> str:
    """The state of one loaded ticket now, with the same rules as the SQL clauses (for displayed rows only)."""
    return ticket.sla_state_at(now or utcnow())


SLA_CLAUSES = {SlaState.BREACHED: breached_clause, SlaState.AT_RISK: at_risk_clause,
               SlaState.ON_TRACK: on_track_clause}


def _search_clause(text: str):
    text = text.strip()
    if not text:
        return None
    upper = text.upper()
    if upper.startswith("DEM-"):
        # A full reference hits the unique index; a partial one is a prefix match.
        return Ticket.reference == upper if len(upper) == 15 else Ticket.reference.startswith(upper)
    if "@" in text:
        return Ticket.requester_email.startswith(text.lower(), autoescape=True)
    pattern = sa.func.lower(Ticket.subject).contains(text.lower(), autoescape=True)
    return sa.or_(pattern, Ticket.requester_email.startswith(text.lower(), autoescape=True),
                  Ticket.reference == upper)


_STATUS_RANK = sa.case({s.value: rank for rank, s in enumerate(Status)}, value=Ticket.status, else_=len(Status))
_PRIORITY_RANK = sa.case({p.value: rank for rank, p in enumerate(Priority)}, value=Ticket.priority, else_=0)
#: sort key -> (expression, descending); the id breaks ties in the same direction, so every order is stable.
_ORDERS = {
    "due": (Ticket.next_due_at, False),
    "due_desc": (Ticket.next_due_at, True),
    "created": (Ticket.created_at, True),
    "oldest": (Ticket.created_at, False),
    "updated": (Ticket.updated_at, True),
    "updated_asc": (Ticket.updated_at, False),
    "reference": (Ticket.reference, False),
    "reference_desc": (Ticket.reference, True),
    "subject": (sa.func.lower(Ticket.subject), False),
    "subject_desc": (sa.func.lower(Ticket.subject), True),
    "status": (_STATUS_RANK, False),
    "status_desc": (_STATUS_RANK, True),
    "priority": (_PRIORITY_RANK, True),
    "priority_asc": (_PRIORITY_RANK, False),
}


#: Sorts whose order is descending (for aria-sort).
DESCENDING_SORTS = frozenset(sort for sort, (_expression, descending) in _ORDERS.items() if descending)


def _order(sort: str):
    expression, descending = _ORDERS.get(sort, _ORDERS["due"])
    if descending:
        return (expression.desc().nulls_last(), Ticket.id.desc())
    return (expression.asc().nulls_last(), Ticket.id.asc())


def member_queue_ids(user_id: int) -> sa.Select:
    """The ids of the queues (teams, référent groups) a user is a member of, as a subquery."""
    return sa.select(QueueMember.queue_id).where(QueueMember.user_id == user_id)


def own_or_group_clause(user_id: int):
    """Assigned to the user, or routed to one of their queues (their questions, for a référent)."""
    return sa.or_(Ticket.assignee_id == user_id, Ticket.queue_id.in_(member_queue_ids(user_id)))


def actionable_clause(user: User):
    """Tickets a staff member may act on: any for agents, managers and administrators; their own questions for a
    référent who holds no other staff role."""
    if user.has_role(Role.AGENT, Role.MANAGER):
        return sa.true()
    return own_or_group_clause(user.id)


def filter_clauses(filters: QueueFilters) -> list:
    """The WHERE clauses of a filter set."""
    now = filters.now or utcnow()
    clauses = []
    statuses = tuple(s for s in filters.statuses if s in set(Status))
    if not statuses or set(statuses) <= set(ACTIVE_STATUSES):
        # Written exactly as the partial indexes' predicate so the planner can use them.
        clauses.append(Ticket.status.in_(ACTIVE_STATUSES))
    if statuses and set(statuses) != set(ACTIVE_STATUSES):
        clauses.append(Ticket.status.in_(statuses) if len(statuses) > 1 else Ticket.status == statuses[0])
    if filters.queue_ids:
        ids = tuple(filters.queue_ids)
        clauses.append(Ticket.queue_id == ids[0] if len(ids) == 1 else Ticket.queue_id.in_(ids))
    priorities = tuple(p for p in filters.priorities if p in set(Priority))
    if priorities:
        clauses.append(Ticket.priority.in_(priorities))
    if filters.topic_ids:
        clauses.append(Ticket.topic_id.in_(tuple(filters.topic_ids)))
    assignee = filters.assignee
    if assignee == ASSIGNEE_ME:
        clauses.append(Ticket.assignee_id == filters.viewer_id if filters.viewer_id else sa.false())
    elif assignee == ASSIGNEE_NONE:
        clauses.append(Ticket.assignee_id.is_(None))
    elif assignee == ASSIGNEE_GROUP:
        clauses.append(own_or_group_clause(filters.viewer_id) if filters.viewer_id else sa.false())
    elif isinstance(assignee, int) or (isinstance(assignee, str) and assignee.isdigit()):
        clauses.append(Ticket.assignee_id == int(assignee))
    if filters.sla_state in SLA_CLAUSES:
        clauses.append(SLA_CLAUSES[SlaState(filters.sla_state)](now))
    search = _search_clause(filters.search or "")
    if search is not None:
        clauses.append(search)
    if filters.requester_email:
        clauses.append(Ticket.requester_email == filters.requester_email.strip().lower())
    if filters.requester_id is not None:
        clauses.append(Ticket.requester_id == filters.requester_id)
    return clauses


def queue_query(filters: QueueFilters | None = None) -> sa.Select:
    """SELECT tickets matching the filters, in the requested order (default: next SLA due time)."""
    filters = filters or QueueFilters()
    return sa.select(Ticket).where(*filter_clauses(filters)).order_by(*_order(filters.sort))


def _keyset_clause(filters: QueueFilters, after_id: int):
    """Rows after the given ticket in the default order (next_due_at NULLS LAST, id)."""
    due = db.session.scalar(sa.select(Ticket.next_due_at).where(Ticket.id == after_id))
    if due is None:
        return sa.and_(Ticket.next_due_at.is_(None), Ticket.id > after_id)
    return sa.or_(Ticket.next_due_at > due, sa.and_(Ticket.next_due_at == due, Ticket.id > after_id),
                  Ticket.next_due_at.is_(None))


@dataclass
class TicketPage:
    """One page of tickets; `total` is an estimate capped at COUNT_CAP (None when not counted)."""

    items: list[Ticket]
    page: int
    per_page: int
    has_next: bool
    total: int | None = None

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return max(self.page - 1, 1)

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def total_capped(self) -> bool:
        return self.total is not None and self.total > COUNT_CAP

    @property
    def page_count(self) -> int | None:
        """How many pages there are (None when not counted or beyond the capped count)."""
        if self.total is None or self.total_capped:
            return None
        return max(1, -(-self.total // self.per_page))

    @property
    def next_cursor(self) -> int | None:
        """The id to pass as `after` for the next page (default sort)."""
        return self.items[-1].id if self.items and self.has_next else None


@dataclass(frozen=True)
class Workload:
    """A staff member's active questions (assigned to them or routed to their groups), at risk and overdue."""

    open: int
    assigned: int
    at_risk: int
    breached: int


def workload(user_id: int, now: datetime | None = None) -> Workload:
    """The load of one staff member, in one statement."""
    now = now or utcnow()

    def number(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        sa.select(sa.func.count(Ticket.id), number(Ticket.assignee_id == user_id),
                  number(sa.func.coalesce(at_risk_clause(now), False)),
                  number(sa.func.coalesce(breached_clause(now), False)))
        .where(Ticket.status.in_(ACTIVE_STATUSES), own_or_group_clause(user_id))
    ).one()
    return Workload(*(int(value or 0) for value in row))


def count_tickets(filters: QueueFilters | None = None, cap: int = COUNT_CAP) -> int:
    """How many tickets match, counting at most cap + 1 rows (so it stays cheap at a million tickets)."""
    filters = filters or QueueFilters()
    inner = sa.select(Ticket.id).where(*filter_clauses(filters)).limit(cap + 1).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(inner))


def list_tickets(filters: QueueFilters | None = None, *, page: int = 1, per_page: int = PER_PAGE,
                 after: int | None = None, count: bool = False) -> TicketPage:
    """A page of the queue: by page number (offset) or, for the default sort, after a ticket id (keyset)."""
    filters = filters or QueueFilters()
    page = max(int(page or 1), 1)
    per_page = max(1, min(int(per_page), 200))
    query = queue_query(filters)
    if after is not None and filters.sort == "due":
        query = query.where(_keyset_clause(filters, after))
    else:
        query = query.offset((page - 1) * per_page)
    rows = db.session.scalars(query.limit(per_page + 1)).unique().all()
    total = count_tickets(filters) if count else None
    return TicketPage(items=list(rows[:per_page]), page=page, per_page=per_page,
                      has_next=len(rows) > per_page, total=total)


def requester_owns(user: User, ticket: Ticket) -> bool:
    """Whether the ticket is the user's: filed from their account, or in their address once confirmed."""
    return identity.owns(user, ticket)


def requester_tickets(*, user_id: int, email: str, limit: int = 200) -> list[Ticket]:
    """A requester's own tickets (by account, or by their address once confirmed), newest first."""
    query = (
        sa.select(Ticket)
        .where(identity.owned_by(user_id, email))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query).unique())


def staff_members() -> list[User]:
    """Active staff accounts, by name."""
    return list(db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role.in_([str(r) for r in STAFF_ROLES]),
                                             User.active.is_(True))
        .order_by(User.name).distinct().limit(500)
    ))


def active_queues() -> list[Queue]:
    """The queues in use, by name."""
    return list(db.session.scalars(sa.select(Queue).where(Queue.active.is_(True)).order_by(Queue.name)))


def all_topics() -> list[Topic]:
    """Every topic, in the order of the lists."""
    return list(db.session.scalars(sa.select(Topic).order_by(Topic.position, Topic.label)))


def canned_responses(ticket: Ticket) -> list[CannedResponse]:
    """Saved replies of the ticket's queue, then the global ones."""
    return list(db.session.scalars(
        sa.select(CannedResponse)
        .where(sa.or_(CannedResponse.queue_id == ticket.queue_id, CannedResponse.queue_id.is_(None)))
        .order_by(CannedResponse.queue_id.is_(None), CannedResponse.title)
    ))


#: session.info key: {queue id: its active members} read with the référent choice of the submission under way
MEMBERS = "tickets.queue_members"


def remember_members(queue_id: int, users: list[User]) -> None:
    """Keep a queue's active members read by another statement, for queue_member_users (forget_members ends)."""
    db.session.info.setdefault(MEMBERS, {})[queue_id] = users


def forget_members() -> None:
    db.session.info.pop(MEMBERS, None)


def queue_member_users(queue_id: int) -> list[User]:
    """The users who are members of a queue (active ones only when already read for the submission under way),
    in one statement (their roles not loaded)."""
    known = db.session.info.get(MEMBERS, {}).get(queue_id)
    if known is not None:
        return list(known)
    return list(db.session.scalars(
        sa.select(User).join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue_id).options(sa.orm.lazyload(User.roles)).order_by(User.id)
    ))


def active_topics() -> list[Topic]:
    """The topics offered to requesters, in their display order (read-only rows of the process cache)."""
    return list(reference.reference().ordered_topics)


def ticket_references(ids) -> dict[int, str]:
    """The public reference of each of these ticket ids."""
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Ticket.id, Ticket.reference).where(Ticket.id.in_(ids))).all())


def recent_tickets_of(organisation_ids: list[int], limit: int) -> list[Ticket]:
    """The latest requests of these organisations, newest first."""
    return list(db.session.scalars(
        sa.select(Ticket).where(Ticket.organisation_id.in_(organisation_ids))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
    ))

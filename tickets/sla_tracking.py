"""SLA on stored tickets: choose the policy, recompute due times from the event log, sweep states."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from crm.core import refcache
from crm.core.database import dialect_insert
from crm.core.extensions import db, utcnow
from notifications import services as notifications
from tickets import reference, signals
from tickets.models import (
    PAUSED_STATUSES,
    SlaCalendar,
    SlaMark,
    SlaPolicy,
    SlaState,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.sla import BusinessCalendar, Clock, PolicyCandidate, choose_policy, compute_clock

TARGETS = ("first_response", "resolution")
TARGET_LABELS = {"first_response": "Première réponse", "resolution": "Résolution"}
_RANK = {SlaState.ON_TRACK: 0, SlaState.AT_RISK: 1, SlaState.BREACHED: 2}


@lru_cache(maxsize=64)
def _calendar(key: tuple) -> BusinessCalendar:
    _id, timezone, country, subdivision, hours, closed = key
    return BusinessCalendar(
        {day: [tuple(r) for r in ranges] for day, ranges in hours},
        timezone=timezone, country=country, subdivision=subdivision,
        closed=[date.fromisoformat(d) for d in closed],
    )


def business_calendar(calendar: SlaCalendar) -> BusinessCalendar:
    """The BusinessCalendar of a stored calendar (cached on its content)."""
    hours = tuple(sorted(
        (day, tuple(tuple(r) for r in ranges)) for day, ranges in (calendar.hours or {}).items()
    ))
    key = (calendar.id, calendar.timezone, calendar.country, calendar.subdivision, hours,
           tuple(sorted(calendar.closed_days or ())))
    return _calendar(key)


# -- a ticket being opened: policies read once, the clock computed once -----------------------------------

_OPENING = "tickets.sla_opening"


@dataclass
class Opening:
    """What a submission reads once: set ``ticket`` as soon as it exists (tickets.workflow does)."""

    ticket: Ticket | None = None
    events: list[TicketEvent] = field(default_factory=list)
    deferring: bool = True
    pending: bool = False
    now: datetime | None = None


def current_opening(ticket: Ticket | None = None) -> Opening | None:
    """The submission under way in this session (for this ticket when given), or None."""
    scope = db.session.info.get(_OPENING)
    if scope is None or (ticket is not None and scope.ticket is not ticket):
        return None
    return scope


_opening = current_opening


@contextmanager
def opening() -> Iterator[Opening]:
    """While a new ticket is opened, triaged and timed (tickets.workflow.create_ticket): the clock is computed
    once at the end, from the events recorded meanwhile (a ticket being opened has no others, so the event log
    is not read back), and those events are written in one statement. Nothing is written if it fails."""
    scope = Opening()
    db.session.info[_OPENING] = scope
    try:
        yield scope
        scope.deferring = False
        if scope.pending and scope.ticket is not None:
            recompute_sla(scope.ticket, scope.now)
        db.session.flush()  # the ticket in its final state, its messages, its triage decision
        if scope.events:
            db.session.execute(sa.insert(TicketEvent), [
                {"ticket_id": e.ticket_id or scope.ticket.id, "actor_id": e.actor_id, "kind": e.kind,
                 "data": e.data, "created_at": e.created_at} for e in scope.events
            ])
    finally:
        if db.session.info.get(_OPENING) is scope:
            del db.session.info[_OPENING]


def remember_event(ticket: Ticket, event: TicketEvent) -> bool:
    """Keep an event of the ticket being opened, to be written with the others when it is (True), or False
    outside a submission (tickets.services.record_event then adds it to the session)."""
    scope = _opening(ticket)
    if scope is None:
        return False
    scope.events.append(event)
    return True


def choose_sla_policy(ticket: Ticket) -> tuple[SlaPolicy | None, str]:
    """The most specific active policy for the ticket's tier, priority, topic and queue, with the reason."""
    policies = reference.active_policies()
    by_id = {p.id: p for p in policies}
    queue_slugs = {p.queue_id: p.queue.slug for p in policies if p.queue_id is not None}
    candidates = [
        PolicyCandidate(id=p.id, name=p.name, tier=p.service_tier, priority=p.priority,
                        topic=p.topic_slug, queue=queue_slugs.get(p.queue_id))
        for p in policies
    ]
    chosen = choose_policy(
        candidates, tier=ticket.service_tier, priority=ticket.priority,
        topic=ticket.topic.slug if ticket.topic else None, queue=ticket.queue.slug if ticket.queue else None,
    )
    if chosen is None:
        return None, "Aucune politique de délai ne s'applique à cette demande."
    candidate, reason = chosen
    return refcache.attach(by_id[candidate.id]), reason


def pause_intervals(ticket: Ticket) -> list[tuple[datetime, datetime | None]]:
    """Intervals during which the ticket waited on the requester or stood resolved, from the event log."""
    pauses: list[tuple[datetime, datetime | None]] = []
    paused_since: datetime | None = None
    scope = _opening(ticket)
    if scope is not None:  # recorded in this order, hence the same order as (created_at, id)
        events = sorted((e for e in scope.events if e.kind == "status"), key=lambda e: e.created_at)
    elif ticket.id is not None:
        # without flushing the change being made (so that the ticket is written once, with its SLA columns):
        # the stored events, then this transaction's status events not written yet
        with db.session.no_autoflush:
            stored = db.session.scalars(
                sa.select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
                .order_by(TicketEvent.created_at, TicketEvent.id)
            ).all()
        unwritten = [e for e in db.session.new if isinstance(e, TicketEvent) and e.kind == "status"
                     and (e.ticket is ticket or e.ticket_id == ticket.id)]
        # (created_at, id) order: a stable sort keeps the stored order and puts the new ones after their equals
        events = sorted([*stored, *unwritten], key=lambda e: e.created_at) if unwritten else stored
    else:
        events = []
    for event in events:
        after = event.data.get("after")
        if after in PAUSED_STATUSES and paused_since is None:
            paused_since = event.created_at
        elif after not in PAUSED_STATUSES and paused_since is not None:
            pauses.append((paused_since, event.created_at))
            paused_since = None
    if paused_since is not None:
        pauses.append((paused_since, None))
    return pauses


@dataclass
class SlaView:
    """Both clocks of a ticket, for the ticket page and the API."""

    policy: SlaPolicy | None
    clocks: dict[str, Clock] = field(default_factory=dict)
    calendar: BusinessCalendar | None = None  # the policy's, that the clocks count in


def _stops(ticket: Ticket) -> dict[str, datetime | None]:
    done = ticket.status in (Status.RESOLVED, Status.CLOSED)
    resolved = (ticket.resolved_at or ticket.closed_at) if done else None
    first = ticket.first_responded_at
    if first is None or (resolved is not None and resolved < first):
        first = resolved
    return {"first_response": first, "resolution": resolved}


def policy_of(ticket: Ticket) -> SlaPolicy | None:
    """The ticket's SLA policy: an active one from the process cache (read-only, no query), else loaded."""
    if "sla_policy" in sa.inspect(ticket).dict:  # set or loaded in this session (a ticket being opened)
        return ticket.sla_policy
    if ticket.sla_policy_id is None:
        return None
    cached = next((p for p in reference.active_policies() if p.id == ticket.sla_policy_id), None)
    return cached if cached is not None else ticket.sla_policy


def ticket_clocks(ticket: Ticket, now: datetime | None = None, policy=...) -> SlaView:
    """Compute both SLA clocks of a ticket now (under another ``policy`` when given: a preview, nothing stored)."""
    now = now or utcnow()
    policy = policy_of(ticket) if policy is ... else policy
    view = SlaView(policy=policy)
    if policy is None:
        return view
    calendar = view.calendar = business_calendar(policy.calendar)
    share = policy.at_risk_share or current_app.config["SLA_AT_RISK_SHARE"]
    pauses = pause_intervals(ticket)
    stops = _stops(ticket)
    targets = {"first_response": policy.first_response_minutes, "resolution": policy.resolution_minutes}
    for target in TARGETS:
        view.clocks[target] = compute_clock(
            calendar, ticket.created_at, pauses, timedelta(minutes=targets[target]), now,
            at_risk_share=share, stopped_at=stops[target],
        )
    return view


def _running_state(clock: Clock) -> str:
    """What the state would be from the business time elapsed (pauses do not change it)."""
    if clock.elapsed > clock.target:
        return SlaState.BREACHED
    if clock.elapsed >= clock.target * clock.at_risk_share:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK


def recompute_sla(ticket: Ticket, now: datetime | None = None) -> SlaView | None:
    """Store due times, warning times and states of both targets; only the sweep moves states forward.

    While the ticket is being opened (see ``opening``) this only notes that the clock is to be computed, once,
    at the end: None then.
    """
    scope = _opening(ticket)
    if scope is not None and scope.deferring:
        scope.pending, scope.now = True, now
        return None
    view = ticket_clocks(ticket, now)
    pending: list[datetime] = []
    for target in TARGETS:
        clock = view.clocks.get(target)
        if clock is None:
            setattr(ticket, f"{target}_due_at", None)
            setattr(ticket, f"{target}_warn_at", None)
            continue
        setattr(ticket, f"{target}_due_at", clock.due_at)
        setattr(ticket, f"{target}_warn_at", clock.warn_at)
        stored = getattr(ticket, f"{target}_state")
        if clock.stopped:
            setattr(ticket, f"{target}_state", clock.state)
            setattr(ticket, f"{target}_seconds", int(clock.elapsed.total_seconds()))
            continue
        setattr(ticket, f"{target}_seconds", None)
        computed = _running_state(clock)
        if stored not in _RANK or _RANK[computed] < _RANK[stored]:
            setattr(ticket, f"{target}_state", computed if stored in _RANK else SlaState.ON_TRACK)
        if clock.due_at is not None:
            pending.append(clock.due_at)
    ticket.sla_paused = any(c.paused for c in view.clocks.values())
    ticket.next_due_at = min(pending) if pending and ticket.is_active else None
    return view


#: Used when a policy's escalation JSON leaves a step out (tickets.escalations reads the same settings).
DEFAULT_ESCALATION = {
    "warn_assignee": True,
    "notify_manager_on_breach": True,
    "raise_priority_on_breach": False,
    "reassign_to_queue_on_breach": False,
}


def escalation_settings(ticket: Ticket) -> dict:
    """The ticket's policy escalation settings over the defaults."""
    settings = dict(DEFAULT_ESCALATION)
    if ticket.sla_policy is not None:
        settings.update(ticket.sla_policy.escalation or {})
    return settings


def next_open_instant(ticket: Ticket, now: datetime) -> datetime:
    """The first instant from now when the ticket's calendar is open (now itself for 24/7 policies)."""
    policy = ticket.sla_policy
    if policy is None:
        return now
    try:
        return business_calendar(policy.calendar).next_open(now)
    except ValueError:  # a calendar that never opens: do not hold the warning forever
        return now


@dataclass
class SweepResult:
    at_risk: int = 0
    breached: int = 0

    def __str__(self) -> str:
        return f"{self.at_risk} passage(s) à risque, {self.breached} dépassement(s) enregistrés"


def _insert_marks(ticket_ids: list[int], target: str, kind: str, now: datetime) -> set[int]:
    """Record an SLA step for many tickets in one statement; return the ids not recorded before.

    An executemany, which SQLAlchemy sends as one multi-row INSERT … RETURNING from a statement compiled once
    (a .values([...]) list would be compiled afresh, one bound parameter per value, at every sweep)."""
    table = SlaMark.__table__
    statement = (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=["ticket_id", "target", "kind"])
        .returning(table.c.ticket_id)
    )
    rows = [{"ticket_id": i, "target": target, "kind": kind, "created_at": now} for i in ticket_ids]
    return set(db.session.scalars(statement, rows))


def _due_tickets(target: str, kind: str, now: datetime, batch: int):
    state = getattr(Ticket, f"{target}_state")
    if kind == SlaState.AT_RISK:
        condition = sa.and_(state == SlaState.ON_TRACK, getattr(Ticket, f"{target}_warn_at") <= now)
    else:
        condition = sa.and_(state.in_((SlaState.ON_TRACK, SlaState.AT_RISK)),
                            getattr(Ticket, f"{target}_due_at") <= now)
    # the policies (escalation settings, calendar) in one more statement, not one lazy load per policy
    query = (sa.select(Ticket).where(condition).order_by(Ticket.id).limit(batch)
             .options(selectinload(Ticket.sla_policy)))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return db.session.scalars(query).unique().all()


def sweep_sla(now: datetime | None = None, *, batch: int = 500) -> SweepResult:
    """Record at-risk and breached steps that are due, once each; send the matching signals."""
    now = now or utcnow()
    result = SweepResult()
    for kind, signal in ((SlaState.AT_RISK, signals.sla_at_risk), (SlaState.BREACHED, signals.sla_breached)):
        for target in TARGETS:
            while True:
                tickets = _due_tickets(target, kind, now, batch)
                if not tickets:
                    break
                ids = [ticket.id for ticket in tickets]
                db.session.execute(
                    sa.update(Ticket).where(Ticket.id.in_(ids)).values({f"{target}_state": kind})
                    .execution_options(synchronize_session=False)
                )
                recorded = _insert_marks(ids, target, kind, now)
                if recorded:
                    db.session.execute(sa.insert(TicketEvent.__table__), [
                        {"ticket_id": i, "kind": f"sla_{kind}", "created_at": now, "data": {"target": target}}
                        for i in sorted(recorded)
                    ])
                # The receivers' notifications and e-mails of the whole batch are written at the end of it in a
                # few statements (their recipients' choices, the notifications, the outbox rows and the threads
                # they continue), whatever the number of steps; marks and dedup keys keep each step once.
                with notifications.batch():
                    for ticket in tickets:
                        set_committed_value(ticket, f"{target}_state", kind)
                        if ticket.id in recorded:
                            settings = escalation_settings(ticket)
                            signal.send(ticket, target=target, now=now, notify_at=next_open_instant(ticket, now),
                                        escalation=settings)
                if kind == SlaState.AT_RISK:
                    result.at_risk += len(recorded)
                else:
                    result.breached += len(recorded)
                db.session.flush()
                if len(tickets) < batch:
                    break
    return result

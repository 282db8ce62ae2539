"""Named report queries for managers: SLA at risk and breached now, met rates and business-time percentiles."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from crm.organisations.models import SERVICE_TIER_LABELS
from tickets.models import Queue, SlaState, Ticket
from tickets.sla_tracking import TARGETS

#: States of a target whose clock still runs (or is paused) and whose steps the sweep records.
PENDING_STATES = (SlaState.ON_TRACK, SlaState.AT_RISK)
#: States of a target whose clock has stopped.
STOPPED_STATES = (SlaState.MET, SlaState.MISSED)
#: Percentiles shown on the manager page.
PERCENTILES = (0.5, 0.9)


def _columns(target: str):
    return (getattr(Ticket, f"{target}_state"), getattr(Ticket, f"{target}_warn_at"),
            getattr(Ticket, f"{target}_due_at"))


# "At risk" and "breached" are unions of small per-target, per-state parts, each served by an index on
# (state, instant) in due order, so that neither the list nor the count walks the whole active set.
# Pending or breached states only exist on active tickets (a stopped clock is met or missed), and a
# recorded at-risk state means the warning instant has passed (recompute lowers it otherwise).


def _at_risk_parts(now: datetime) -> list[tuple]:
    """(due column, condition) per target: recorded at risk, or on track with the warning passed (not swept)."""
    parts = []
    for target in TARGETS:
        state, warn_at, due_at = _columns(target)
        parts.append((due_at, sa.and_(state == SlaState.AT_RISK, due_at > now)))
        parts.append((due_at, sa.and_(state == SlaState.ON_TRACK, warn_at <= now, due_at > now)))
    return parts


def _breached_parts(now: datetime) -> list[tuple]:
    """(due column, condition) per target: recorded breached (also while paused), or pending and past due."""
    parts = []
    for target in TARGETS:
        state, _warn_at, due_at = _columns(target)
        parts.append((due_at, state == SlaState.BREACHED))
        parts.append((due_at, sa.and_(state.in_(PENDING_STATES), due_at <= now)))
    return parts


def _listing_query(parts: list[tuple], limit: int) -> sa.Select:
    """The first tickets of the union of parts, by the due time of the target concerned (NULL last)."""
    members = []
    for due_at, condition in parts:
        part = (sa.select(Ticket.id.label("id"), due_at.label("due")).where(condition)
                .order_by(due_at.asc().nulls_last(), Ticket.id).limit(limit).subquery())
        members.append(sa.select(part.c.id, part.c.due))
    union = sa.union_all(*members).subquery()
    ranked = sa.select(union.c.id, sa.func.min(union.c.due).label("due")).group_by(union.c.id).subquery()
    return (sa.select(Ticket).join(ranked, ranked.c.id == Ticket.id)
            .order_by(ranked.c.due.asc().nulls_last(), Ticket.id).limit(limit))


def _count(parts: list[tuple]) -> int:
    ids = sa.union(*(sa.select(Ticket.id).where(condition) for _due, condition in parts)).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(ids)) or 0


def at_risk_query(now: datetime, *, limit: int = 50) -> sa.Select:
    """SELECT the tickets with a pending target between its warning and due instants, the one due first first."""
    return _listing_query(_at_risk_parts(now), limit)


def breached_query(now: datetime, *, limit: int = 50) -> sa.Select:
    """SELECT the tickets with a breached target at `now`, the most overdue first (paused ones last)."""
    return _listing_query(_breached_parts(now), limit)


def tickets_at_risk(now: datetime | None = None, *, limit: int = 50) -> list[Ticket]:
    """Tickets at risk now, the one due first first."""
    return list(db.session.scalars(at_risk_query(now or utcnow(), limit=limit)).unique())


def tickets_breached(now: datetime | None = None, *, limit: int = 50) -> list[Ticket]:
    """Tickets with a breached target now, the most overdue first (paused ones last)."""
    return list(db.session.scalars(breached_query(now or utcnow(), limit=limit)).unique())


def count_at_risk(now: datetime | None = None) -> int:
    """How many tickets are at risk now."""
    return _count(_at_risk_parts(now or utcnow()))


def count_breached(now: datetime | None = None) -> int:
    """How many tickets have a breached target now."""
    return _count(_breached_parts(now or utcnow()))


def stopped_in_period(target: str, start: datetime, end: datetime):
    """Tickets whose clock for the target stopped in [start, end) (first response: reply, else resolution)."""
    if target == "first_response":
        in_period = sa.or_(
            sa.and_(Ticket.first_responded_at >= start, Ticket.first_responded_at < end),
            sa.and_(Ticket.first_responded_at.is_(None), Ticket.resolved_at >= start, Ticket.resolved_at < end),
        )
        return sa.and_(Ticket.first_response_state.in_(STOPPED_STATES), in_period)
    return sa.and_(Ticket.resolution_state.in_(STOPPED_STATES), Ticket.resolved_at >= start,
                   Ticket.resolved_at < end)


@dataclass
class MetRate:
    """Met and missed counts of one target in one group."""

    met: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        """Share met, or None when no clock stopped in the period."""
        return self.met / self.total if self.total else None


@dataclass
class MetRateRow:
    """One line of a met-rate table: a queue or a service tier, with both targets."""

    key: str | int | None
    label: str
    targets: dict[str, MetRate] = field(default_factory=lambda: {t: MetRate() for t in TARGETS})


def met_rates(start: datetime, end: datetime, *, by: str) -> list[MetRateRow]:
    """SLA met rate per queue (by="queue") or per service tier (by="tier") for both targets."""
    if by not in ("queue", "tier"):
        raise ValueError(f"unknown grouping {by!r}")
    rows: dict = {}
    for target in TARGETS:
        state = getattr(Ticket, f"{target}_state")
        met = sa.func.sum(sa.case((state == SlaState.MET, 1), else_=0))
        missed = sa.func.sum(sa.case((state == SlaState.MISSED, 1), else_=0))
        if by == "queue":
            query = (sa.select(Queue.id, Queue.name, met, missed).join(Queue, Queue.id == Ticket.queue_id)
                     .group_by(Queue.id, Queue.name))
        else:
            query = sa.select(Ticket.service_tier, Ticket.service_tier, met, missed).group_by(Ticket.service_tier)
        for key, label, n_met, n_missed in db.session.execute(query.where(stopped_in_period(target, start, end))):
            if by == "tier":  # the tier's name, not its code (translated where shown)
                label = SERVICE_TIER_LABELS.get(key, key) if key else ""
            row = rows.setdefault(key, MetRateRow(key=key, label=label or ""))
            row.targets[target] = MetRate(met=int(n_met or 0), missed=int(n_missed or 0))
    return sorted(rows.values(), key=lambda r: (r.key is None, r.label))


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """Linear-interpolation percentile, as PostgreSQL's percentile_cont computes it."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower))


@dataclass
class DurationStats:
    """Count and percentiles (seconds of business time) of one target in one group."""

    count: int = 0
    percentiles: dict[float, float | None] = field(default_factory=lambda: dict.fromkeys(PERCENTILES))

    @property
    def median(self) -> float | None:
        return self.percentiles.get(0.5)

    @property
    def p90(self) -> float | None:
        return self.percentiles.get(0.9)


def _percentiles_sql(target: str, start: datetime, end: datetime,
                     fractions: Iterable[float]) -> dict[int | None, DurationStats]:
    """Percentiles computed by PostgreSQL (percentile_cont), per queue and overall (key None)."""
    seconds = getattr(Ticket, f"{target}_seconds")
    aggregates = [sa.func.percentile_cont(f).within_group(seconds.asc()) for f in fractions]
    condition = sa.and_(stopped_in_period(target, start, end), seconds.is_not(None))
    result: dict[int | None, DurationStats] = {}
    grouped = sa.select(Ticket.queue_id, sa.func.count(seconds), *aggregates).where(condition).group_by(
        Ticket.queue_id)
    overall = sa.select(sa.literal(None), sa.func.count(seconds), *aggregates).where(condition)
    for query in (grouped, overall):
        for key, count, *values in db.session.execute(query):
            if count:
                result[key] = DurationStats(count=count, percentiles={
                    f: (float(v) if v is not None else None) for f, v in zip(fractions, values, strict=True)
                })
    return result


def _percentiles_python(target: str, start: datetime, end: datetime,
                        fractions: Iterable[float]) -> dict[int | None, DurationStats]:
    """The same numbers computed in Python (SQLite has no percentile_cont)."""
    seconds = getattr(Ticket, f"{target}_seconds")
    query = sa.select(Ticket.queue_id, seconds).where(stopped_in_period(target, start, end), seconds.is_not(None))
    groups: dict[int | None, list[int]] = defaultdict(list)
    for queue_id, value in db.session.execute(query):
        groups[queue_id].append(value)
        groups[None].append(value)
    return {
        key: DurationStats(count=len(values), percentiles={f: percentile_cont(values, f) for f in fractions})
        for key, values in groups.items()
    }


def duration_percentiles(start: datetime, end: datetime, *, fractions: Sequence[float] = PERCENTILES,
                         method: str | None = None) -> dict[str, dict[int | None, DurationStats]]:
    """Business-time percentiles of both targets per queue id and overall (None); SQL on PostgreSQL."""
    if method is None:
        method = "sql" if db.session.get_bind().dialect.name == "postgresql" else "python"
    compute = _percentiles_sql if method == "sql" else _percentiles_python
    return {target: compute(target, start, end, tuple(fractions)) for target in TARGETS}


def status_counts(start: datetime, end: datetime) -> dict[str, int]:
    """Tickets created in [start, end) per current status."""
    query = (sa.select(Ticket.status, sa.func.count()).where(Ticket.created_at >= start, Ticket.created_at < end)
             .group_by(Ticket.status))
    return {status: count for status, count in db.session.execute(query)}


def queue_names() -> dict[int, str]:
    """Queue names by id, for report labels."""
    return dict(db.session.execute(sa.select(Queue.id, Queue.name)).all())

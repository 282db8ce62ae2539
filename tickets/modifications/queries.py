"""Reading modification requests: the portal's (scoped in SQL), the référents' queue, the managers' figures, the
import report and the export of accepted changes."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from crm.core.extensions import db
from crm.portal.scope import Profiles, organisation_scope, project_scope
from crm.projects.models import PORTAL_STATES, Partner, Project
from tickets.models import Ticket
from tickets.modifications.kinds import KIND_ORDER
from tickets.modifications.models import ChangeRequest
from tickets.modifications.states import ACCEPTED_STATES, AGENCY_STATES, State

#: The agency's states as literals (not bound parameters): PostgreSQL then matches the partial indexes.
AT_AGENCY = sa.text("change_requests.state IN ({})".format(", ".join(f"'{s}'" for s in AGENCY_STATES)))
#: The queue's first page stops counting here ("plus de 1 000").
COUNT_CAP = 1000


def scoped_requests(profiles: Profiles) -> sa.Select:
    """The requests of the projects in the user's portal scope (drafts: only the filer's own)."""
    return (sa.select(ChangeRequest).join(Project, Project.id == ChangeRequest.project_id)
            .where(project_scope(profiles)))


def all_requests() -> sa.Select:
    """Every filed request (staff), newest first."""
    return (sa.select(ChangeRequest).where(ChangeRequest.state != State.DRAFT)
            .options(sa.orm.joinedload(ChangeRequest.ticket), sa.orm.joinedload(ChangeRequest.project))
            .order_by(ChangeRequest.updated_at.desc(), ChangeRequest.id.desc()))


def visible_to(profiles: Profiles, user_id: int) -> sa.ColumnElement[bool]:
    """A draft is its filer's alone; a filed request is seen by everyone whose scope reaches the project."""
    return sa.or_(ChangeRequest.state != State.DRAFT, ChangeRequest.filer_id == user_id)


def projects_in_scope(profiles: Profiles) -> sa.Select:
    """SELECT of the ids of the projects in the portal scope (crm.portal.scope.project_scope, the same projects),
    the SIREN and SIRET profiles resolved to their establishments' ids first.

    Joined through the SIREN, PostgreSQL cannot know how many partners an establishment has and takes the average
    (50 of 50,000 where a large one has 1,246): it then joins every project in scope to its requests and sorts them
    all. Given the ids, it estimates the partners from the column's statistics and walks ix_change_requests_updated
    backwards to the first page (bench/modifications_queue.py)."""
    establishments = Profiles(sirens=profiles.sirens, sirets=profiles.sirets)
    others = Profiles(rnsrs=profiles.rnsrs, person_id=profiles.person_id)
    reached = [project_scope(others)] if not others.is_empty else []
    if establishments.has_establishment:
        ids = db.session.scalars(organisation_scope(establishments)).all()
        if ids:
            reached.append(sa.and_(Project.state.in_([str(s) for s in PORTAL_STATES]), Project.id.in_(
                sa.select(Partner.project_id).where(Partner.organisation_id.in_(sorted(ids))))))
    return sa.select(Project.id).where(sa.or_(*reached) if reached else sa.false())


def portal_requests(profiles: Profiles, user_id: int, *, state: str | None = None,
                    project_id: int | None = None) -> sa.Select:
    """The tracking table: requests in scope, latest change first (walked in ix_change_requests_updated, the
    projects in scope as a semi-join), their ticket and project loaded for the page's rows."""
    query = (sa.select(ChangeRequest)
             .where(ChangeRequest.project_id.in_(projects_in_scope(profiles)), visible_to(profiles, user_id))
             .options(sa.orm.selectinload(ChangeRequest.ticket), sa.orm.selectinload(ChangeRequest.project))
             .order_by(ChangeRequest.updated_at.desc(), ChangeRequest.id.desc()))
    if state:
        query = query.where(ChangeRequest.state == state)
    if project_id is not None:
        query = query.where(ChangeRequest.project_id == project_id)
    return query


def request_in_scope(profiles: Profiles, user_id: int, request_id: int) -> ChangeRequest | None:
    """One request if the user's scope reaches its project (and, for a draft, if it is theirs)."""
    return db.session.scalar(scoped_requests(profiles).where(ChangeRequest.id == request_id,
                                                             visible_to(profiles, user_id)))


@dataclass(frozen=True)
class QueueFilters:
    kind: str | None = None
    state: str | None = None  # None: the states the agency works
    due_before: datetime | None = None


def agent_queue(filters: QueueFilters) -> sa.Select:
    """Requests at the agency, earliest due first (the ticket's due time, copied on the request; paused last).

    Without a state filter the rows come in order from the partial indexes ix_change_requests_agency_due and
    ix_change_requests_agency_kind_due: the first page stops after 50 rows (bench/modifications_queue.py)."""
    query = (sa.select(ChangeRequest, Ticket).join(Ticket, Ticket.id == ChangeRequest.ticket_id)
             .join(Project, Project.id == ChangeRequest.project_id)
             .options(sa.orm.contains_eager(ChangeRequest.project), sa.orm.lazyload(Ticket.topic),
                      sa.orm.lazyload(Ticket.queue))  # the page shows the assignee only
             .order_by(ChangeRequest.due_at.asc().nulls_last(), ChangeRequest.id))
    query = query.where(ChangeRequest.state == filters.state if filters.state else AT_AGENCY)
    if filters.kind:
        query = query.where(ChangeRequest.kind == filters.kind)
    if filters.due_before is not None:
        query = query.where(ChangeRequest.due_at <= filters.due_before)
    return query


def capped_count(query: sa.Select, cap: int = COUNT_CAP) -> int:
    """How many rows the query gives, counting no further than ``cap`` + 1."""
    inner = query.with_only_columns(ChangeRequest.id).order_by(None).limit(cap + 1).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(inner))


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` quantile (inclusive method), None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


@dataclass(frozen=True)
class KindFigures:
    kind: str
    filed: int
    decided: int
    accepted: int
    p50_days: float | None
    p90_days: float | None


def figures(start: datetime, end: datetime) -> list[KindFigures]:
    """Per kind over [start, end): requests filed, decided, accepted, and days from submission to decision
    (p50, p90) of those decided in the period."""
    filed = dict(db.session.execute(
        sa.select(ChangeRequest.kind, sa.func.count()).where(ChangeRequest.submitted_at >= start,
                                                              ChangeRequest.submitted_at < end)
        .group_by(ChangeRequest.kind)).all())
    durations: dict[str, list[float]] = {k: [] for k in KIND_ORDER}
    accepted: dict[str, int] = {k: 0 for k in KIND_ORDER}
    rows = db.session.execute(
        sa.select(ChangeRequest.kind, ChangeRequest.decision, ChangeRequest.submitted_at, ChangeRequest.decided_at)
        .where(ChangeRequest.decided_at >= start, ChangeRequest.decided_at < end,
               ChangeRequest.submitted_at.is_not(None))).all()
    for kind, decision, submitted, decided in rows:
        durations.setdefault(kind, []).append((decided - submitted).total_seconds() / 86400)
        if decision in (State.ACCEPTED, State.PARTLY_ACCEPTED):
            accepted[kind] = accepted.get(kind, 0) + 1
    return [KindFigures(kind, filed.get(kind, 0), len(durations.get(kind, [])), accepted.get(kind, 0),
                        percentile(sorted(durations.get(kind, [])), 0.5),
                        percentile(sorted(durations.get(kind, [])), 0.9)) for kind in KIND_ORDER]


_ACCEPTED = ChangeRequest.decision.in_([str(State.ACCEPTED), str(State.PARTLY_ACCEPTED)])


def unreflected_decisions() -> sa.Select:
    """Accepted requests the nightly import has not brought back yet (oldest decision first)."""
    return (sa.select(ChangeRequest).join(Project, Project.id == ChangeRequest.project_id)
            .options(sa.orm.contains_eager(ChangeRequest.project), sa.orm.joinedload(ChangeRequest.ticket))
            .where(_ACCEPTED, ChangeRequest.state.in_([str(s) for s in ACCEPTED_STATES]),
                   ChangeRequest.imported_request_id.is_(None))
            .order_by(ChangeRequest.decided_at, ChangeRequest.id))


def accepted_changes(since: datetime | None = None) -> sa.Select:
    """The accepted changes for the business systems, in decision order (``since``: decided from then on)."""
    query = (sa.select(ChangeRequest).join(Project, Project.id == ChangeRequest.project_id)
             .options(sa.orm.contains_eager(ChangeRequest.project), sa.orm.joinedload(ChangeRequest.ticket))
             .where(_ACCEPTED).order_by(ChangeRequest.decided_at, ChangeRequest.id))
    if since is not None:
        query = query.where(ChangeRequest.decided_at >= since)
    return query

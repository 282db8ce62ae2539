"""The portal's establishment requests (crm.portal.requests.Provider), read from the tickets within the scope.

Registered on crm.core.registry.set_portal_requests by tickets.init_app. Only the ticket's own columns are read:
never a message, nor the requester.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Flask

from crm.core import registry
from crm.core.extensions import db
from crm.portal.requests import RequestFigures, RequestRow, RequestScope, TargetRate
from crm.projects.models import Project
from tickets.models import ACTIVE_STATUSES, SLA_STATE_LABELS, STATUS_LABELS, SlaState, Survey, Ticket
from tickets.reports import stopped_in_period


def in_scope(scope: RequestScope) -> sa.ColumnElement[bool]:
    """SQL condition on Ticket: linked to an organisation or a project of the scope, and not merged away."""
    return sa.and_(Ticket.merged_into_id.is_(None), sa.or_(
        Ticket.organisation_id.in_(scope.organisation_ids), Ticket.laboratory_id.in_(scope.organisation_ids),
        Ticket.project_id.in_(scope.project_ids)))


def _filed(scope: RequestScope, start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(in_scope(scope), Ticket.created_at >= start, Ticket.created_at < end)


class TicketRequests:
    """The tickets as an establishment sees them in the portal."""

    def count(self, scope: RequestScope, start: datetime, end: datetime) -> int:
        return db.session.scalar(sa.select(sa.func.count(Ticket.id)).where(_filed(scope, start, end))) or 0

    def rows(self, scope: RequestScope, start: datetime, end: datetime, now: datetime, *, offset: int = 0,
             limit: int | None = None) -> list[RequestRow]:
        project = sa.case((Ticket.project_id.in_(scope.project_ids), Project.reference), else_=None)
        query = (sa.select(Ticket, project).outerjoin(Project, Project.id == Ticket.project_id)
                 .where(_filed(scope, start, end)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
                 .offset(offset).limit(limit).options(sa.orm.lazyload("*")))
        rows = []
        for ticket, reference in db.session.execute(query).all():
            first = ticket.target_state_at("first_response", now)
            resolution = ticket.target_state_at("resolution", now)
            rows.append(RequestRow(
                reference=ticket.reference, subject=ticket.subject, status=ticket.status,
                status_label=STATUS_LABELS.get(ticket.status, ticket.status), created_at=ticket.created_at,
                first_responded_at=ticket.first_responded_at, resolved_at=ticket.resolved_at,
                first_response_state=first, first_response_label=SLA_STATE_LABELS.get(first, first),
                resolution_state=resolution, resolution_label=SLA_STATE_LABELS.get(resolution, resolution),
                project_reference=reference))
        return rows

    def figures(self, scope: RequestScope, start: datetime, end: datetime) -> RequestFigures:
        filed, active = db.session.execute(sa.select(
            sa.func.count(Ticket.id),
            sa.func.count(Ticket.id).filter(Ticket.status.in_([str(s) for s in ACTIVE_STATUSES])),
        ).where(_filed(scope, start, end))).one()
        rates = {}
        for target in ("first_response", "resolution"):
            state = getattr(Ticket, f"{target}_state")
            met, missed = db.session.execute(sa.select(
                sa.func.count(Ticket.id).filter(state == SlaState.MET),
                sa.func.count(Ticket.id).filter(state == SlaState.MISSED),
            ).where(in_scope(scope), stopped_in_period(target, start, end))).one()
            rates[target] = TargetRate(met=int(met or 0), missed=int(missed or 0))
        answers, average, satisfied = db.session.execute(
            sa.select(sa.func.count(Survey.id), sa.func.avg(Survey.score),
                      sa.func.count(Survey.id).filter(Survey.score >= 4))
            .join(Ticket, Ticket.id == Survey.ticket_id)
            .where(in_scope(scope), Survey.answered_at.is_not(None), Survey.answered_at >= start,
                   Survey.answered_at < end)).one()
        return RequestFigures(filed=int(filed or 0), active=int(active or 0), first_response=rates["first_response"],
                              resolution=rates["resolution"], answers=int(answers or 0),
                              average_score=round(float(average), 2) if average is not None else None,
                              satisfied=int(satisfied or 0))


PROVIDER = TicketRequests()


def init_app(app: Flask) -> None:
    """Give the portal the establishments' requests (called by tickets.init_app)."""
    registry.set_portal_requests(app, PROVIDER)

"""Named queries of projects: payment totals, lookup by reference, the projects of a person."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from crm.core.extensions import db
from crm.projects.models import PORTAL_STATES, Partner, PaymentLine, Project

ZERO = Decimal("0.00")


def payment_totals(*conditions: sa.ColumnElement[bool],
                   project_ids: list[int] | None = None) -> dict[int, tuple[Decimal, Decimal]]:
    """Per project: (paid, remaining) over the payment lines of the partners meeting the conditions."""
    query = (
        sa.select(Partner.project_id, sa.func.coalesce(sa.func.sum(PaymentLine.paid_amount), 0),
                  sa.func.coalesce(sa.func.sum(PaymentLine.amount - PaymentLine.paid_amount), 0))
        .join(PaymentLine, PaymentLine.partner_id == Partner.id)
        .join(Project, Project.id == Partner.project_id)
        .where(*conditions)
        .group_by(Partner.project_id)
    )
    if project_ids is not None:
        query = query.where(Partner.project_id.in_(project_ids))
    return {pid: (Decimal(paid), Decimal(rest)) for pid, paid, rest in db.session.execute(query).all()}


def project_payment_totals(project: Project) -> tuple[Decimal, Decimal]:
    """(paid, remaining) over the payment lines of every partner of the project."""
    return payment_totals(project_ids=[project.id]).get(project.id, (ZERO, ZERO))


@dataclass(frozen=True)
class Amounts:
    """Aid granted, paid and what remains to pay on it: remaining is granted − paid, so the three add up."""

    granted: Decimal
    paid: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.granted - self.paid


def project_amounts(project: Project, *conditions: sa.ColumnElement[bool]) -> Amounts:
    """The amounts of the project's partners meeting the conditions; of the whole project without any.

    The whole project's aid is its funding decision's (the sum of its partners' when it has none).
    """
    granted = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Partner.aid_granted), 0))
                                .where(Partner.project_id == project.id, *conditions))
    if not conditions and project.aid_granted is not None:
        granted = project.aid_granted
    paid = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PaymentLine.paid_amount), 0))
                             .join(Partner, Partner.id == PaymentLine.partner_id)
                             .where(Partner.project_id == project.id, *conditions))
    return Amounts(Decimal(granted).quantize(ZERO), Decimal(paid).quantize(ZERO))


def partner_amounts(*conditions: sa.ColumnElement[bool], project_ids: list[int] | None = None) -> dict[int, Amounts]:
    """Per project (of the ids, or all): the amounts of its partners meeting the conditions (one statement)."""
    paid = (sa.select(sa.func.coalesce(sa.func.sum(PaymentLine.paid_amount), 0))
            .where(PaymentLine.partner_id == Partner.id).correlate(Partner).scalar_subquery())
    rows = db.session.execute(
        sa.select(Partner.project_id, sa.func.coalesce(sa.func.sum(Partner.aid_granted), 0),
                  sa.func.coalesce(sa.func.sum(paid), 0))
        .join(Project, Project.id == Partner.project_id)
        .where(*conditions, *([Partner.project_id.in_(project_ids)] if project_ids is not None else []))
        .group_by(Partner.project_id))
    return {pid: Amounts(Decimal(granted).quantize(ZERO), Decimal(paid).quantize(ZERO)) for pid, granted, paid in rows}


def project_by_reference(reference: str) -> Project | None:
    """The project with this reference (spaces around it ignored), if any."""
    return db.session.scalar(sa.select(Project).where(Project.reference == reference.strip()))


def projects_of_organisations(ids: list[int]) -> sa.Select:
    """Every project (all states) with a partner establishment or laboratory among the ids."""
    partners = sa.select(Partner.project_id).where(
        sa.or_(Partner.organisation_id.in_(ids), Partner.laboratory_id.in_(ids)))
    return sa.select(Project).where(Project.id.in_(partners)).order_by(Project.call_year.desc().nulls_last(),
                                                                        Project.reference)


def _with_partners():
    """Load a project's partners with their establishment and laboratory in the same statement."""
    return sa.orm.joinedload(Project.partners).options(sa.orm.joinedload(Partner.organisation),
                                                       sa.orm.joinedload(Partner.laboratory))


def projects_by_references(references: list[str]) -> list[Project]:
    """The projects with these references (written in capitals, as the business systems do), partners loaded,
    in one query."""
    wanted = sorted({r.strip().upper() for r in references if r and r.strip()})
    if not wanted:
        return []
    return list(db.session.scalars(sa.select(Project).where(Project.reference.in_(wanted))
                                   .options(_with_partners())).unique())


def active_projects_of_person(person_id: int) -> list[Project]:
    """The projects in an active state (not closed nor abandoned) that this person coordinates or of which they
    lead a partner (scientific or administrative lead), partners loaded, most recent call first."""
    led = sa.select(Partner.project_id).where(sa.or_(Partner.scientific_lead_id == person_id,
                                                     Partner.administrative_lead_id == person_id))
    query = (sa.select(Project)
             .where(Project.state.in_([str(s) for s in PORTAL_STATES]),
                    sa.or_(Project.coordinator_id == person_id, Project.id.in_(led)))
             .options(_with_partners())
             .order_by(Project.call_year.desc().nulls_last(), Project.reference))
    return list(db.session.scalars(query).unique())


def projects_by_ids(ids: list[int]) -> list[Project]:
    """The projects with these ids, by reference."""
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Project).where(Project.id.in_(ids)).order_by(Project.reference)))

"""Named queries of projects: payment totals, lookup by reference."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from crm.core.extensions import db
from crm.projects.models import Partner, PaymentLine, Project

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


def project_by_reference(reference: str) -> Project | None:
    """The project with this reference (spaces around it ignored), if any."""
    return db.session.scalar(sa.select(Project).where(Project.reference == reference.strip()))


def projects_of_organisations(ids: list[int]) -> sa.Select:
    """Every project (all states) with a partner establishment or laboratory among the ids."""
    partners = sa.select(Partner.project_id).where(
        sa.or_(Partner.organisation_id.in_(ids), Partner.laboratory_id.in_(ids)))
    return sa.select(Project).where(Project.id.in_(partners)).order_by(Project.call_year.desc().nulls_last(),
                                                                        Project.reference)

"""The agency's figures on annexes: waiting now, median validation time by establishment, share approved at first pass.

Validation time runs from the first publication to the approval (calendar time). Approved at first pass: the
approved version is the first one (no correction was asked).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crm.core.extensions import db
from crm.organisations.models import Organisation
from crm.portal.exports import ExportColumn
from crm.projects.models import Partner
from tickets.annexes.models import PENDING_STATES, AnnexState, FinancialAnnex


@dataclass(frozen=True)
class Waiting:
    published: int
    corrections: int
    overdue: int

    @property
    def total(self) -> int:
        return self.published + self.corrections


@dataclass(frozen=True)
class EstablishmentRow:
    name: str
    siret: str
    waiting: int
    approved: int
    median_seconds: float | None
    first_pass: int

    @property
    def median_days(self) -> float | None:
        return None if self.median_seconds is None else round(self.median_seconds / 86400, 1)

    @property
    def first_pass_share(self) -> float | None:
        return None if not self.approved else self.first_pass / self.approved


def waiting(today: date) -> Waiting:
    counts = dict(db.session.execute(
        sa.select(FinancialAnnex.state, sa.func.count())
        .where(FinancialAnnex.state.in_([str(s) for s in PENDING_STATES])).group_by(FinancialAnnex.state)).all())
    overdue = db.session.scalar(sa.select(sa.func.count()).select_from(FinancialAnnex).where(
        FinancialAnnex.state == AnnexState.PUBLISHED, FinancialAnnex.due_on < today)) or 0
    return Waiting(counts.get(AnnexState.PUBLISHED, 0), counts.get(AnnexState.CORRECTIONS, 0), overdue)


def by_establishment() -> list[EstablishmentRow]:
    """One row per establishment with annexes, most waiting first."""
    durations: dict[int, list[float]] = {}
    first_pass: dict[int, int] = {}
    for org_id, approved_at, published_at, version in db.session.execute(
        sa.select(Partner.organisation_id, FinancialAnnex.approved_at, FinancialAnnex.first_published_at,
                  FinancialAnnex.approved_version).select_from(FinancialAnnex)
        .join(Partner, Partner.id == FinancialAnnex.partner_id).where(FinancialAnnex.state == AnnexState.APPROVED)
    ):
        durations.setdefault(org_id, []).append(max((approved_at - published_at).total_seconds(), 0.0))
        first_pass[org_id] = first_pass.get(org_id, 0) + (version == 1)
    pending = dict(db.session.execute(
        sa.select(Partner.organisation_id, sa.func.count()).select_from(FinancialAnnex)
        .join(Partner, Partner.id == FinancialAnnex.partner_id)
        .where(FinancialAnnex.state.in_([str(s) for s in PENDING_STATES])).group_by(Partner.organisation_id)).all())
    ids = sorted(set(durations) | set(pending))
    names = {i: (n, s) for i, n, s in db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.siret).where(Organisation.id.in_(ids)))}
    rows = [EstablishmentRow(names[i][0], names[i][1] or "", pending.get(i, 0), len(durations.get(i, [])),
                             statistics.median(durations[i]) if durations.get(i) else None, first_pass.get(i, 0))
            for i in ids if i in names]
    return sorted(rows, key=lambda r: (-r.waiting, r.name))


def first_pass_share(rows: list[EstablishmentRow]) -> float | None:
    approved = sum(r.approved for r in rows)
    return sum(r.first_pass for r in rows) / approved if approved else None


COLUMNS = [ExportColumn("Établissement", width=40), ExportColumn("SIRET", width=16),
           ExportColumn("Annexes en attente", "int", 12), ExportColumn("Annexes approuvées", "int", 12),
           ExportColumn("Délai médian de validation (heures)", "int", 16),
           ExportColumn("Approuvées du premier coup (%)", "int", 14)]


def export_rows(rows: list[EstablishmentRow]) -> list[list]:
    return [[r.name, r.siret, r.waiting, r.approved,
             None if r.median_seconds is None else round(r.median_seconds / 3600),
             None if r.first_pass_share is None else round(100 * r.first_pass_share)] for r in rows]

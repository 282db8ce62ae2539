"""Who sees which annexes, as SQL conditions, and the agency's queue.

A référent sees the annexes of the partners whose establishment carries a SIREN or a SIRET they were designated
for and still hold as a portal profile, in projects of their portal scope (crm.portal.scope).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from crm.core.extensions import db
from crm.core.models import User
from crm.organisations.models import Organisation
from crm.portal.models import PortalGrant
from crm.portal.scope import Profiles
from crm.projects.models import PORTAL_STATES, Partner, Project
from tickets.annexes.models import PENDING_STATES, AnnexReferent, FinancialAnnex, ReferentKind


@dataclass(frozen=True)
class Designations:
    """The SIRENs and SIRETs a user validates annexes for (designated and still held as a profile), and the ids of
    the establishments that carry them (resolved once: the queue's plan then knows how many partners match)."""

    sirens: frozenset[str] = frozenset()
    sirets: frozenset[str] = frozenset()
    organisation_ids: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not self.organisation_ids


def designations_of(user: User | None, profiles: Profiles) -> Designations:
    if user is None or not getattr(user, "is_authenticated", False):
        return Designations()
    rows = db.session.execute(
        sa.select(AnnexReferent.kind, AnnexReferent.identifier).where(AnnexReferent.user_id == user.id)).all()
    sirens = {i for k, i in rows if k == ReferentKind.HEADQUARTERS and i in profiles.sirens}
    sirets = {i for k, i in rows if k == ReferentKind.ENTITY and i in profiles.sirets}
    match = ([Organisation.siren.in_(sorted(sirens))] if sirens else []) + (
        [Organisation.siret.in_(sorted(sirets))] if sirets else [])
    ids = db.session.scalars(sa.select(Organisation.id).where(sa.or_(*match))).all() if match else []
    return Designations(frozenset(sirens), frozenset(sirets), frozenset(ids))


def referent_scope(designations: Designations, profiles: Profiles) -> sa.ColumnElement[bool]:
    """SQL condition on FinancialAnnex: the annexes this référent validates.

    FinancialAnnex.organisation_id is always its partner's establishment (a cascading foreign key). The
    designations only count the SIRENs and SIRETs the user holds (designations_of), so such a partner puts its
    project in the user's portal scope (crm.portal.scope.project_scope) as soon as the project is in a visible
    state: the condition is that one, without re-running the whole portal scope for every row.
    """
    if designations.is_empty:
        return sa.false()
    visible = sa.select(Project.id).where(Project.state.in_([str(s) for s in PORTAL_STATES]))
    return sa.and_(FinancialAnnex.organisation_id.in_(sorted(designations.organisation_ids)),
                   FinancialAnnex.project_id.in_(visible))


#: What every list row shows: the project, the partner and its establishment, joined to the page's own query (one
#: round trip, not three; each is a many-to-one that always exists, read by its primary key after the LIMIT).
ROW_LOADS = (joinedload(FinancialAnnex.project, innerjoin=True),
             joinedload(FinancialAnnex.partner, innerjoin=True).joinedload(Partner.organisation, innerjoin=True))


def referent_annexes(designations: Designations, profiles: Profiles, *, pending_only: bool = True) -> sa.Select:
    """The référent's annexes, earliest deadline first (waiting ones only by default)."""
    query = sa.select(FinancialAnnex).where(referent_scope(designations, profiles))
    if pending_only:
        query = query.where(FinancialAnnex.state.in_([str(s) for s in PENDING_STATES]))
    return query.options(*ROW_LOADS).order_by(FinancialAnnex.due_on, FinancialAnnex.id)


def referent_annex(designations: Designations, profiles: Profiles, annex_id: int) -> FinancialAnnex | None:
    return db.session.scalar(sa.select(FinancialAnnex).where(
        FinancialAnnex.id == annex_id, referent_scope(designations, profiles)))


@dataclass(frozen=True)
class QueueFilters:
    states: tuple[str, ...] = tuple(str(s) for s in PENDING_STATES)
    overdue_on: date | None = None  # only annexes whose deadline is before this day
    project: str = ""


def agency_queue(filters: QueueFilters) -> sa.Select:
    """The agency's queue: annexes by state, earliest deadline first (index ix_financial_annexes_state_due)."""
    query = sa.select(FinancialAnnex)
    if filters.states:
        query = query.where(FinancialAnnex.state.in_(filters.states))
    if filters.overdue_on is not None:
        query = query.where(FinancialAnnex.due_on < filters.overdue_on)
    if filters.project:
        query = query.where(FinancialAnnex.project_id.in_(
            sa.select(Project.id).where(Project.reference == filters.project.strip())))
    return query.options(*ROW_LOADS).order_by(FinancialAnnex.due_on, FinancialAnnex.id)


#: session.info key: {(SIREN, SIRET): référents} while remembered_referents() holds
_REMEMBERED = "annexes.referents"


@contextmanager
def remembered_referents() -> Iterator[None]:
    """Inside, referents_for() reads each establishment's référents once (the nightly import publishes many
    annexes of the same establishments, while nobody designates anyone)."""
    if _REMEMBERED in db.session.info:
        yield
        return
    db.session.info[_REMEMBERED] = {}
    try:
        yield
    finally:
        db.session.info.pop(_REMEMBERED, None)


def referents_for(organisation: Organisation) -> list[User]:
    """The active users designated for this establishment (its SIRET or its SIREN) who still hold the profile."""
    remembered = db.session.info.get(_REMEMBERED)
    key = (organisation.siren, organisation.siret)
    if remembered is not None and key in remembered:
        return remembered[key]
    found = _referents_for(organisation)
    if remembered is not None:
        remembered[key] = found
    return found


def _referents_for(organisation: Organisation) -> list[User]:
    conditions = []
    if organisation.siren:
        conditions.append(sa.and_(AnnexReferent.kind == ReferentKind.HEADQUARTERS,
                                  AnnexReferent.identifier == organisation.siren))
    if organisation.siret:
        conditions.append(sa.and_(AnnexReferent.kind == ReferentKind.ENTITY,
                                  AnnexReferent.identifier == organisation.siret))
    if not conditions:
        return []
    held = sa.select(PortalGrant.id).where(PortalGrant.user_id == AnnexReferent.user_id,
                                           PortalGrant.kind == AnnexReferent.kind,
                                           PortalGrant.identifier == AnnexReferent.identifier).exists()
    return list(db.session.scalars(
        sa.select(User).join(AnnexReferent, AnnexReferent.user_id == User.id)
        .where(sa.or_(*conditions), held, User.active.is_(True)).distinct().order_by(User.id)))


def designations_for(kind: str, identifier: str) -> list[AnnexReferent]:
    return list(db.session.scalars(sa.select(AnnexReferent).where(
        AnnexReferent.kind == kind, AnnexReferent.identifier == identifier).order_by(AnnexReferent.id)))


def grant_holders(kind: str, identifier: str) -> list[User]:
    """The active users holding this establishment profile: those who may be designated."""
    return list(db.session.scalars(
        sa.select(User).join(PortalGrant, PortalGrant.user_id == User.id)
        .where(PortalGrant.kind == kind, PortalGrant.identifier == identifier, User.active.is_(True))
        .order_by(User.name, User.id)))


def project_annexes(project: Project) -> dict[int, FinancialAnnex]:
    """The project's annexes by partner id."""
    return {a.partner_id: a for a in db.session.scalars(
        sa.select(FinancialAnnex).where(FinancialAnnex.project_id == project.id))}


def annex_of_partner(partner_id: int) -> FinancialAnnex | None:
    return db.session.scalar(sa.select(FinancialAnnex).where(FinancialAnnex.partner_id == partner_id))

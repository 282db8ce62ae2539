"""The portal scope: which projects (and partners) a user's profiles let them see, as SQL conditions.

Every portal list, detail, indicator, export and API call filters with `project_scope()`; nothing is
hidden by leaving a link out. Closed and abandoned projects are never in scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import abort, has_request_context, request

from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.organisations.models import ContactRole, Organisation, OrgContact, Person
from crm.portal.models import PortalGrant, ProfileKind
from crm.projects.models import PORTAL_STATES, Partner, Project, TeamMember

_establishment = sa.orm.aliased(Organisation, name="scope_establishment")
_laboratory = sa.orm.aliased(Organisation, name="scope_laboratory")


@dataclass(frozen=True)
class Profiles:
    """What a user's scope is built from: granted identifiers and their person in the business data."""

    sirens: frozenset[str] = frozenset()
    sirets: frozenset[str] = frozenset()
    rnsrs: frozenset[str] = frozenset()
    person_id: int | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.sirens or self.sirets or self.rnsrs or self.person_id)

    @property
    def establishment(self) -> Profiles:
        """Only the establishment profiles (SIREN, SIRET, RNSR), without the person's own links."""
        return Profiles(sirens=self.sirens, sirets=self.sirets, rnsrs=self.rnsrs)

    @property
    def has_establishment(self) -> bool:
        return bool(self.sirens or self.sirets or self.rnsrs)


def load_profiles(user) -> Profiles:
    """Read a user's granted identifiers, their person, and the laboratories that person directs."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Profiles()
    grants = db.session.execute(
        sa.select(PortalGrant.kind, PortalGrant.identifier).where(PortalGrant.user_id == user.id)
    ).all()
    by_kind: dict[str, set[str]] = {k: set() for k in ProfileKind}
    for kind, identifier in grants:
        by_kind.setdefault(kind, set()).add(identifier)
    person_id = db.session.scalar(sa.select(Person.id).where(Person.user_id == user.id))
    if person_id is not None:
        directed = db.session.scalars(
            sa.select(Organisation.rnsr)
            .join(OrgContact, OrgContact.organisation_id == Organisation.id)
            .where(OrgContact.person_id == person_id, OrgContact.role == ContactRole.LAB_DIRECTOR,
                   Organisation.rnsr.is_not(None))
        ).all()
        by_kind[ProfileKind.LAB_DIRECTOR].update(directed)
    return Profiles(
        sirens=frozenset(by_kind[ProfileKind.HEADQUARTERS]),
        sirets=frozenset(by_kind[ProfileKind.ENTITY]),
        rnsrs=frozenset(by_kind[ProfileKind.LAB_DIRECTOR]),
        person_id=person_id,
    )


def profiles_of(user) -> Profiles:
    """The user's profiles, read once per request."""
    if not has_request_context():
        return load_profiles(user)
    cache = request.environ.setdefault("guichet.portal_profiles", {})
    key = getattr(user, "id", None)
    if key not in cache:
        cache[key] = load_profiles(user)
    return cache[key]


def _partner_match(profiles: Profiles) -> list[sa.ColumnElement[bool]]:
    """Conditions on Partner (joined to its establishment and laboratory) for the establishment profiles."""
    conditions: list[sa.ColumnElement[bool]] = []
    if profiles.sirens:
        conditions.append(_establishment.siren.in_(sorted(profiles.sirens)))
    if profiles.sirets:
        conditions.append(_establishment.siret.in_(sorted(profiles.sirets)))
    if profiles.rnsrs:
        conditions.append(_laboratory.rnsr.in_(sorted(profiles.rnsrs)))
    if profiles.person_id is not None:
        conditions.append(Partner.scientific_lead_id == profiles.person_id)
        conditions.append(Partner.administrative_lead_id == profiles.person_id)
    return conditions


def _partners_joined():
    return (
        sa.select(Partner.project_id)
        .join(_establishment, _establishment.id == Partner.organisation_id)
        .outerjoin(_laboratory, _laboratory.id == Partner.laboratory_id)
    )


def organisation_scope(profiles: Profiles) -> sa.Select:
    """SELECT of the ids of the organisations the establishment profiles designate (SIREN, SIRET, RNSR)."""
    conditions = []
    if profiles.sirens:
        conditions.append(Organisation.siren.in_(sorted(profiles.sirens)))
    if profiles.sirets:
        conditions.append(Organisation.siret.in_(sorted(profiles.sirets)))
    if profiles.rnsrs:
        conditions.append(Organisation.rnsr.in_(sorted(profiles.rnsrs)))
    return sa.select(Organisation.id).where(sa.or_(*conditions) if conditions else sa.false())


def project_scope(profiles: Profiles, today: date | None = None) -> sa.ColumnElement[bool]:
    """SQL condition on Project: visible state and reached by at least one of the profiles.

    A person reaches the projects they coordinate, those of which they lead a partner, and those of whose
    team they are a member until their end date (``today``, in Paris, by default).
    """
    if profiles.is_empty:
        return sa.false()
    reached = [Project.id.in_(_partners_joined().where(sa.or_(*_partner_match(profiles))))]
    if profiles.person_id is not None:
        reached.append(Project.coordinator_id == profiles.person_id)
        reached.append(Project.id.in_(sa.select(TeamMember.project_id).where(
            TeamMember.person_id == profiles.person_id, TeamMember.current(today or paris_today()))))
    return sa.and_(Project.state.in_([str(s) for s in PORTAL_STATES]), sa.or_(*reached))


def partner_scope(profiles: Profiles) -> sa.ColumnElement[bool]:
    """SQL condition on Partner: the partners whose financial lines the user sees in a visible project.

    A coordinator sees every partner of their projects; the other profiles see the partners they match.
    """
    if profiles.is_empty:
        return sa.false()
    own = sa.select(Partner.id).join(_establishment, _establishment.id == Partner.organisation_id).outerjoin(
        _laboratory, _laboratory.id == Partner.laboratory_id).where(sa.or_(*_partner_match(profiles)))
    conditions = [Partner.id.in_(own)]
    if profiles.person_id is not None:
        conditions.append(Partner.project_id.in_(
            sa.select(Project.id).where(Project.coordinator_id == profiles.person_id)))
    return sa.or_(*conditions)


def visible_projects(profiles: Profiles) -> sa.Select:
    """SELECT of the projects in scope (add filters, ordering and paging to it)."""
    return sa.select(Project).where(project_scope(profiles))


def project_in_scope(profiles: Profiles, reference: str) -> Project | None:
    """The project with this reference if the profiles reach it, else None."""
    return db.session.scalar(sa.select(Project).where(Project.reference == reference, project_scope(profiles)))


def project_in_scope_or_404(profiles: Profiles, reference: str) -> Project:
    """The project with this reference if the profiles reach it, else 404 (never 403: no existence leak)."""
    project = project_in_scope(profiles, reference)
    if project is None:
        abort(404)
    return project

"""Named queries of the portal; those on projects start from the scope filter of crm/portal/scope.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from crm.core.database import LIKE_ESCAPE, like_pattern
from crm.core.extensions import db
from crm.core.models import User
from crm.organisations.models import Organisation
from crm.portal.models import PortalGrant, ProfileRequest, RequestState
from crm.portal.scope import Profiles, partner_scope, project_scope
from crm.projects import queries as project_queries
from crm.projects.models import PORTAL_STATES, Deliverable, Partner, Project
from crm.projects.queries import ZERO


@dataclass
class ProjectCriteria:
    """Multi-criteria search: every field is optional."""

    call_code: str | None = None
    acronym: str | None = None
    reference: str | None = None
    state: str | None = None
    partner: str | None = None
    start_from: date | None = None
    end_before: date | None = None


def search_projects(profiles: Profiles, criteria: ProjectCriteria) -> sa.Select:
    """The projects in scope matching the criteria, most recent call first."""
    query = sa.select(Project).where(project_scope(profiles))
    if criteria.call_code:
        query = query.where(Project.call_code == criteria.call_code)
    if criteria.acronym:
        query = query.where(Project.acronym.ilike(like_pattern(criteria.acronym), escape=LIKE_ESCAPE))
    if criteria.reference:
        query = query.where(Project.reference.ilike(like_pattern(criteria.reference), escape=LIKE_ESCAPE))
    if criteria.state:
        query = query.where(Project.state == criteria.state)
    if criteria.start_from:
        query = query.where(Project.start_date >= criteria.start_from)
    if criteria.end_before:
        query = query.where(Project.scientific_end_date <= criteria.end_before)
    if criteria.partner:
        lab = sa.orm.aliased(Organisation)
        pattern = like_pattern(criteria.partner)
        matching = (
            sa.select(Partner.project_id)
            .join(Organisation, Organisation.id == Partner.organisation_id)
            .outerjoin(lab, lab.id == Partner.laboratory_id)
            .where(sa.or_(Organisation.name.ilike(pattern, escape=LIKE_ESCAPE),
                          lab.name.ilike(pattern, escape=LIKE_ESCAPE),
                          Organisation.siret == criteria.partner.replace(" ", ""),
                          lab.rnsr == criteria.partner.strip().upper()))
        )
        query = query.where(Project.id.in_(matching))
    return query.order_by(Project.call_year.desc().nulls_last(), Project.reference)


def calls_in_scope(profiles: Profiles) -> list[tuple[str, str]]:
    """(code, name) of the calls of the projects in scope, for the search form."""
    rows = db.session.execute(
        sa.select(Project.call_code, sa.func.max(Project.call_name)).where(project_scope(profiles))
        .group_by(Project.call_code).order_by(Project.call_code)
    ).all()
    return [(code, name or code) for code, name in rows]


def projects_by_state(profiles: Profiles) -> dict[str, int]:
    """How many projects in scope are in each portal state."""
    rows = db.session.execute(
        sa.select(Project.state, sa.func.count()).where(project_scope(profiles)).group_by(Project.state)
    ).all()
    counts = {str(state): 0 for state in PORTAL_STATES}
    counts.update({state: n for state, n in rows})
    return counts


def scoped_deliverables(profiles: Profiles) -> sa.Select:
    """Deliverables of the projects in scope, with their project."""
    return (sa.select(Deliverable, Project).join(Project, Project.id == Deliverable.project_id)
            .where(project_scope(profiles)))


def late_deliverables(profiles: Profiles, today: date) -> sa.Select:
    """Deliverables in scope not submitted and past due, oldest first."""
    return scoped_deliverables(profiles).where(Deliverable.overdue(today)).order_by(
        Deliverable.due_date, Project.reference, Deliverable.code)


def submitted_deliverables(profiles: Profiles) -> sa.Select:
    """Deliverables in scope already submitted, latest first."""
    return scoped_deliverables(profiles).where(Deliverable.submitted_on.is_not(None)).order_by(
        Deliverable.submitted_on.desc(), Project.reference, Deliverable.code)


def count(query: sa.Select) -> int:
    """The number of rows a query returns."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def payment_totals(profiles: Profiles, project_ids: list[int] | None = None) -> dict[int, tuple[Decimal, Decimal]]:
    """Per project in scope: (paid, remaining) over the payment lines of the partners the user sees."""
    return project_queries.payment_totals(project_scope(profiles), partner_scope(profiles), project_ids=project_ids)


def followed_partner(profiles: Profiles, project: Project) -> Partner | None:
    """The partner through which these profiles follow the project (the coordinating one first)."""
    return db.session.scalar(
        sa.select(Partner).where(Partner.project_id == project.id, partner_scope(profiles))
        .order_by(Partner.is_coordinator.desc(), Partner.number).limit(1)
    )


def visible_partners(profiles: Profiles, project: Project) -> set[int]:
    """Ids of the project's partners whose payment schedule the user sees."""
    return set(db.session.scalars(
        sa.select(Partner.id).where(Partner.project_id == project.id, partner_scope(profiles))).all())


def indicators(profiles: Profiles, today: date) -> dict:
    """The activity figures: projects by state, late and submitted deliverables, amounts."""
    by_state = projects_by_state(profiles)
    aid = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Project.aid_granted), 0))
                            .where(project_scope(profiles)))
    totals = payment_totals(profiles)
    paid = sum((paid for paid, _r in totals.values()), ZERO)
    whole_paid = sum((paid for paid, _r in project_queries.payment_totals(project_scope(profiles)).values()), ZERO)
    partners_aid = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Partner.aid_granted), 0))
                                     .join(Project, Project.id == Partner.project_id)
                                     .where(project_scope(profiles), partner_scope(profiles)))
    return {
        "projects": sum(by_state.values()),
        #: Both levels, each adding up: the whole projects', and the partners' the user follows.
        "amounts": [("project", project_queries.Amounts(Decimal(aid).quantize(ZERO), whole_paid)),
                    ("partners", project_queries.Amounts(Decimal(partners_aid).quantize(ZERO), paid))],
        "by_state": by_state,
        "late_deliverables": count(late_deliverables(profiles, today)),
        "submitted_deliverables": count(submitted_deliverables(profiles)),
        "aid_granted": Decimal(aid),
        "paid": paid,
        "remaining": sum((rest for _p, rest in totals.values()), ZERO),
    }


def user_grants(user: User) -> list[PortalGrant]:
    """The establishment profiles granted to the user, by kind and identifier."""
    return db.session.scalars(sa.select(PortalGrant).where(PortalGrant.user_id == user.id)
                              .order_by(PortalGrant.kind, PortalGrant.identifier)).all()


def user_profile_requests(user: User) -> list[ProfileRequest]:
    """The user's profile requests, latest first."""
    return db.session.scalars(sa.select(ProfileRequest).where(ProfileRequest.user_id == user.id)
                              .order_by(ProfileRequest.created_at.desc())).all()


def pending_profile_requests() -> list[ProfileRequest]:
    """Profile requests awaiting an administrator's decision, oldest first."""
    return db.session.scalars(sa.select(ProfileRequest).where(ProfileRequest.state == RequestState.PENDING)
                              .order_by(ProfileRequest.created_at)).all()


def granted_profiles() -> sa.Select:
    """Every granted profile, latest first (to paginate)."""
    return sa.select(PortalGrant).order_by(PortalGrant.granted_at.desc())

"""Organisations seen by the agency: family (sub-entities, laboratories), contacts, notes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext

from crm.core.changes import record_change
from crm.core.database import LIKE_ESCAPE, like_pattern
from crm.core.extensions import db
from crm.core.models import STAFF_ROLES, User, UserRole
from crm.organisations.models import (
    SERVICE_TIER_LABELS,
    Interaction,
    Organisation,
    OrgContact,
    Person,
    laboratory_supervisors,
)


def organisation_family_ids(org_id: int) -> list[int]:
    """The organisation, its sub-entities at every level, and the laboratories they supervise."""
    ids, frontier = {org_id}, {org_id}
    while frontier:
        children = set(db.session.scalars(
            sa.select(Organisation.id).where(Organisation.parent_id.in_(frontier))).all()) - ids
        ids |= children
        frontier = children
    labs = set(db.session.scalars(sa.select(laboratory_supervisors.c.laboratory_id).where(
        laboratory_supervisors.c.organisation_id.in_(ids))).all())
    return sorted(ids | labs)


def related_organisations(org: Organisation, family: list[int]) -> list[Organisation]:
    """The other organisations of the family, by kind then name."""
    return db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(family), Organisation.id != org.id)
                              .order_by(Organisation.kind, Organisation.name)).all()


def search_organisations(text: str) -> sa.Select:
    """Organisations whose name, code, SIREN, SIRET or RNSR matches."""
    query = sa.select(Organisation)
    text = (text or "").strip()
    if text:
        compact = text.replace(" ", "").upper()
        query = query.where(sa.or_(Organisation.name.ilike(like_pattern(text), escape=LIKE_ESCAPE),
                                   Organisation.code == text, Organisation.siren == compact,
                                   Organisation.siret == compact, Organisation.rnsr == compact))
    return query.order_by(Organisation.name)


def contacts_of_organisations(ids: list[int]) -> list[OrgContact]:
    """The roles people hold in these organisations."""
    return db.session.scalars(
        sa.select(OrgContact).join(Person).where(OrgContact.organisation_id.in_(ids))
        .options(sa.orm.joinedload(OrgContact.person), sa.orm.joinedload(OrgContact.organisation))
        .order_by(Person.last_name, Person.first_name)
    ).all()


def interactions_of(org_id: int, limit: int = 50) -> list[Interaction]:
    """The latest notes agents recorded about this organisation."""
    return db.session.scalars(
        sa.select(Interaction).where(Interaction.organisation_id == org_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(limit)
    ).all()


def record_interaction(org: Organisation, *, author: User, kind: str, occurred_at: datetime, subject: str,
                       body: str = "") -> Interaction:
    """Record a call, a meeting, an exchange or a note about an organisation."""
    note = Interaction(organisation_id=org.id, author_id=author.id, kind=kind, occurred_at=occurred_at,
                       subject=subject.strip(), body=body.strip())
    db.session.add(note)
    db.session.flush()
    return note


# -- the service an organisation receives: its tier and the agency's named contact (issue 11, part 4) ---------

ORGANISATION_SERVICE = "organisation_service"


class ServiceError(ValueError):
    """A change of an organisation's service was refused; ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def staff_members() -> list[User]:
    """The accounts that may be an organisation's agency contact (agents, référents, managers, admins), by name."""
    staff = sa.select(UserRole.user_id).where(UserRole.role.in_([str(r) for r in STAFF_ROLES]))
    return list(db.session.scalars(sa.select(User).where(User.id.in_(staff), User.active.is_(True))
                                   .order_by(User.name, User.id)))


def service_snapshot(org: Organisation) -> dict:
    return {"service_tier": org.service_tier,
            "agency_contact": org.agency_contact.email if org.agency_contact is not None else None}


def set_organisation_service(org: Organisation, *, tier: str | None, contact: User | None,
                             by: User | None) -> bool:
    """Set the organisation's own service tier (None: its parent's) and agency contact; recorded in its history.

    True when something changed. The tier applies to requests linked from now on (tickets keep the tier they were
    given, with where it came from); the contact must be a staff account."""
    if tier is not None and tier not in SERVICE_TIER_LABELS:
        raise ServiceError(gettext("Niveau de service inconnu : %(value)s.", value=tier), "service_tier")
    if contact is not None and not contact.is_staff:
        raise ServiceError(gettext("L'interlocuteur privilégié doit être un membre de l'équipe de l'agence."),
                           "agency_contact")
    before = service_snapshot(org)
    org.service_tier, org.agency_contact = tier, contact
    db.session.flush()
    record = record_change(ORGANISATION_SERVICE, org.id, "updated", by=by, before=before,
                           after=service_snapshot(org))
    db.session.flush()
    return record is not None

"""Organisations seen by the agency: family (sub-entities, laboratories), contacts, notes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from crm.core.database import LIKE_ESCAPE, like_pattern
from crm.core.extensions import db
from crm.core.models import User
from crm.organisations.models import Interaction, Organisation, OrgContact, Person, laboratory_supervisors


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

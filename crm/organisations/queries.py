"""Named queries of organisations and people: the person behind an address or an account."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from crm.core.extensions import db
from crm.organisations.models import Organisation, Person


def person_by_email(email: str) -> Person | None:
    """The person the business systems know at this address (any case), with their organisation, in one query.

    The import stores addresses in lower case (crm.imports.entities.parse_person), so the unique index serves."""
    email = (email or "").strip().lower()
    if not email:
        return None
    return db.session.scalar(sa.select(Person).where(Person.email == email)
                             .options(joinedload(Person.organisation)))


def person_of_user(user_id: int, email: str) -> Person | None:
    """The person linked to this account, else the one known at its address."""
    return db.session.scalar(
        sa.select(Person).where(sa.or_(Person.user_id == user_id, Person.email == (email or "").strip().lower()))
        .options(joinedload(Person.organisation)).order_by(Person.user_id.is_(None)).limit(1))


def organisations_by_ids(ids: list[int]) -> dict[int, Organisation]:
    """The organisations with these ids, by id."""
    if not ids:
        return {}
    return {o.id: o for o in db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids)))}


def organisation_by_identifier(text: str) -> Organisation | None:
    """The organisation with this code, SIRET, RNSR or (headquarters) SIREN, as typed by an agent."""
    text = (text or "").strip()
    if not text:
        return None
    compact = text.replace(" ", "").upper()
    return db.session.scalar(
        sa.select(Organisation).where(sa.or_(Organisation.code == text, Organisation.siret == compact,
                                             Organisation.rnsr == compact, Organisation.siren == compact))
        .order_by(Organisation.parent_id.is_not(None), Organisation.id).limit(1))  # a SIREN: its headquarters

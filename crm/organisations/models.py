"""Organisations (SIREN / SIRET / RNSR, hierarchy, service tier), people, their roles, interaction notes."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User


class OrgKind(enum.StrEnum):
    HEADQUARTERS = "headquarters"
    ENTITY = "entity"
    LABORATORY = "laboratory"
    OTHER = "other"


ORG_KIND_LABELS = {
    OrgKind.HEADQUARTERS: "Siège",
    OrgKind.ENTITY: "Entité (délégation régionale, centre, établissement secondaire)",
    OrgKind.LABORATORY: "Laboratoire",
    OrgKind.OTHER: "Autre organisme",
}

#: Service tiers: the family of SLA policies that applies to an organisation's requests.
SERVICE_TIER_LABELS = {
    "standard": "Standard",
    "prioritaire": "Prioritaire",
    "premium": "Premium",
}


class ContactRole(enum.StrEnum):
    LAB_DIRECTOR = "lab_director"
    OFFICER = "officer"
    LEGAL_REPRESENTATIVE = "legal_representative"
    FINANCIAL_CONTACT = "financial_contact"


CONTACT_ROLE_LABELS = {
    ContactRole.LAB_DIRECTOR: "Directeur ou directrice de laboratoire",
    ContactRole.OFFICER: "Correspondant de l'établissement",
    ContactRole.LEGAL_REPRESENTATIVE: "Représentant légal",
    ContactRole.FINANCIAL_CONTACT: "Contact financier",
}


laboratory_supervisors = sa.Table(
    "laboratory_supervisors",
    db.metadata,
    sa.Column("laboratory_id", sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


class Organisation(db.Model):
    """A headquarters (SIREN), an entity attached to it (SIRET), a laboratory (RNSR) or another body."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default=OrgKind.OTHER)
    name: Mapped[str] = mapped_column(sa.String(255))
    siren: Mapped[str | None] = mapped_column(sa.String(9), index=True)
    siret: Mapped[str | None] = mapped_column(sa.String(14), unique=True)
    rnsr: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"),
                                                  index=True)
    service_tier: Mapped[str | None] = mapped_column(sa.String(30))
    #: The agency's named contact for this organisation (« interlocuteur privilégié »), a staff account.
    agency_contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    city: Mapped[str] = mapped_column(sa.String(120), default="")
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Organisation]] = relationship(back_populates="parent", order_by="Organisation.name")
    supervisors: Mapped[list[Organisation]] = relationship(
        secondary=laboratory_supervisors,
        primaryjoin=lambda: Organisation.id == laboratory_supervisors.c.laboratory_id,
        secondaryjoin=lambda: Organisation.id == laboratory_supervisors.c.organisation_id,
        order_by="Organisation.name",
    )
    contacts: Mapped[list[OrgContact]] = relationship(back_populates="organisation",
                                                      cascade="all, delete-orphan")
    agency_contact: Mapped[User | None] = relationship(foreign_keys=[agency_contact_id])

    @property
    def kind_label(self) -> str:
        return ORG_KIND_LABELS.get(self.kind, self.kind)

    @property
    def identifier(self) -> str:
        """The identifier that names this organisation in the portal profiles."""
        return self.rnsr or self.siret or self.siren or self.code

    @property
    def effective_service_tier(self) -> str:
        """Its own service tier, else its nearest parent's, else 'standard'."""
        node, seen = self, set()
        while node is not None and node.id not in seen:
            if node.service_tier:
                return node.service_tier
            seen.add(node.id)
            node = node.parent
        return "standard"

    def __str__(self) -> str:
        return self.name


class Person(db.Model):
    """Someone the business systems know: coordinator, lead, director, establishment officer."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    first_name: Mapped[str] = mapped_column(sa.String(100), default="")
    last_name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id", ondelete="SET NULL"),
                                                        index=True)
    #: The portal account of this person, created at registration (never touched by the import).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    user: Mapped[User | None] = relationship()
    roles: Mapped[list[OrgContact]] = relationship(back_populates="person", cascade="all, delete-orphan")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self) -> str:
        return self.full_name


class OrgContact(db.Model):
    """A person's role in an organisation (laboratory director, officer, legal representative…)."""

    __tablename__ = "organisation_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(30))

    organisation: Mapped[Organisation] = relationship(back_populates="contacts")
    person: Mapped[Person] = relationship(back_populates="roles")

    __table_args__ = (sa.UniqueConstraint("organisation_id", "person_id", "role",
                                          name="uq_organisation_contacts_role"),)

    @property
    def role_label(self) -> str:
        return CONTACT_ROLE_LABELS.get(self.role, self.role)


class InteractionKind(enum.StrEnum):
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    NOTE = "note"


INTERACTION_KIND_LABELS = {
    InteractionKind.CALL: "Appel téléphonique",
    InteractionKind.MEETING: "Réunion",
    InteractionKind.EMAIL: "Échange de courriels",
    InteractionKind.NOTE: "Note",
}


class Interaction(db.Model):
    """A note an agent records about an organisation: a call, a meeting, an exchange."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(20), default=InteractionKind.NOTE)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    author: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_interactions_org_occurred", "organisation_id", "occurred_at"),)

    @property
    def kind_label(self) -> str:
        return INTERACTION_KIND_LABELS.get(self.kind, self.kind)

"""Portal access: establishment profiles granted by admins, profile requests, password links."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User


class ProfileKind(enum.StrEnum):
    """The six portal profiles; the first three are granted, the last three follow the project data."""

    HEADQUARTERS = "headquarters"
    ENTITY = "entity"
    LAB_DIRECTOR = "lab_director"
    COORDINATOR = "coordinator"
    SCIENTIFIC_LEAD = "scientific_lead"
    ADMINISTRATIVE_LEAD = "administrative_lead"


PROFILE_LABELS = {
    ProfileKind.HEADQUARTERS: "Siège (SIREN)",
    ProfileKind.ENTITY: "Entité : délégation, centre, établissement secondaire (SIRET)",
    ProfileKind.LAB_DIRECTOR: "Directeur ou directrice de laboratoire (RNSR)",
    ProfileKind.COORDINATOR: "Coordinateur ou coordinatrice",
    ProfileKind.SCIENTIFIC_LEAD: "Responsable scientifique",
    ProfileKind.ADMINISTRATIVE_LEAD: "Responsable administratif",
}
#: Profiles an administrator grants on request, with the identifier each is bound to.
GRANTED_PROFILES = {
    ProfileKind.HEADQUARTERS: "SIREN",
    ProfileKind.ENTITY: "SIRET",
    ProfileKind.LAB_DIRECTOR: "RNSR",
}


class PortalGrant(db.Model):
    """An establishment profile an administrator granted: headquarters, entity or laboratory."""

    __tablename__ = "portal_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    identifier: Mapped[str] = mapped_column(sa.String(14))
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])

    __table_args__ = (sa.UniqueConstraint("user_id", "kind", "identifier", name="uq_portal_grants_profile"),)

    @property
    def kind_label(self) -> str:
        return PROFILE_LABELS.get(self.kind, self.kind)


class RequestState(enum.StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


REQUEST_STATE_LABELS = {
    RequestState.PENDING: "En attente",
    RequestState.GRANTED: "Accordée",
    RequestState.REFUSED: "Refusée",
}


class ProfileRequest(db.Model):
    """A portal user's request for an establishment profile, decided by an administrator."""

    __tablename__ = "portal_profile_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    identifier: Mapped[str] = mapped_column(sa.String(14))
    message: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[str] = mapped_column(sa.String(10), default=RequestState.PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def kind_label(self) -> str:
        return PROFILE_LABELS.get(self.kind, self.kind)

    @property
    def state_label(self) -> str:
        return REQUEST_STATE_LABELS.get(self.state, self.state)


class PasswordToken(db.Model):
    """A single-use, expiring link to set a portal password; only its SHA-256 digest is stored."""

    __tablename__ = "portal_password_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

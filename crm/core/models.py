"""User accounts, roles and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow


class Role(enum.StrEnum):
    """What a staff or requester account may do."""

    REQUESTER = "requester"
    AGENT = "agent"
    REFERENT = "referent"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.REQUESTER: "Demandeur",
    Role.AGENT: "Agent de support",
    Role.REFERENT: "Référent métier",
    Role.MANAGER: "Responsable",
    Role.ADMIN: "Administrateur",
}

STAFF_ROLES = (Role.AGENT, Role.REFERENT, Role.MANAGER, Role.ADMIN)


class User(UserMixin, db.Model):
    """A person who logs in: requester, agent, référent, manager or administrator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    locale: Mapped[str] = mapped_column(sa.String(5), default="fr")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    #: Part of the login session's identifier: raising it (logout, new password) ends every session opened before.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login's session identifier, "id:version": a session of an earlier version no longer loads."""
        return f"{self.id}:{self.session_version}"

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, *roles: str) -> bool:
        """True when the user holds one of the roles; administrators hold them all."""
        names = self.role_names
        return Role.ADMIN in names or any(str(r) in names for r in roles)

    @property
    def is_staff(self) -> bool:
        return self.has_role(*STAFF_ROLES)

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserRole(db.Model):
    """One role held by a user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles")


class ApiToken(db.Model):
    """A personal API token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(12))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    def is_expired(self, now: datetime) -> bool:
        """Whether the token's expiry, if it has one, has passed."""
        return self.expires_at is not None and self.expires_at <= now


class CacheVersion(db.Model):
    """The current token of a cached namespace of reference data (crm.core.refcache)."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(32))


class ChangeRecord(db.Model):
    """One edit of configuration (SLA policy, calendar, queue, organisation's service…): who, when, before/after."""

    __tablename__ = "change_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What was changed: a kind ("sla_policy", "queue", "organisation_service", …) and the row's id.
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(20))  # created, updated, deactivated, activated, deleted, …
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: {field: [before, after]} for the fields that changed (JSON values).
    changes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    comment: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_change_records_object", "object_type", "object_id", "created_at"),)

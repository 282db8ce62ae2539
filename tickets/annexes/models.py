"""Annex référents, financial annexes with their versions, reviews and audit trail, funding-decision readiness."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.projects.models import BudgetAmounts, Partner, Project
from tickets.annexes.budget import CATEGORIES, Figures

Rate = sa.Numeric(5, 2)


class ReferentKind(enum.StrEnum):
    """The establishment profiles that designate annex référents, by the identifier they are bound to."""

    HEADQUARTERS = "headquarters"  # SIREN: every entity of the establishment
    ENTITY = "entity"  # SIRET: that entity only


class AnnexState(enum.StrEnum):
    PUBLISHED = "published"
    CORRECTIONS = "corrections_requested"
    APPROVED = "approved"


ANNEX_STATE_LABELS = {
    AnnexState.PUBLISHED: "En attente de validation",
    AnnexState.CORRECTIONS: "Corrections demandées",
    AnnexState.APPROVED: "Approuvée",
}
#: States in which the annex waits for someone (the establishment or the agency).
PENDING_STATES = (AnnexState.PUBLISHED, AnnexState.CORRECTIONS)


def _pending_clause():
    return sa.text("state IN ('published', 'corrections_requested')")


class ReviewDecision(enum.StrEnum):
    APPROVED = "approved"
    CORRECTIONS = "corrections_requested"


class AnnexReferent(db.Model):
    """A portal user an establishment designated to validate its annexes (by SIREN or SIRET)."""

    __tablename__ = "annex_referents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    identifier: Mapped[str] = mapped_column(sa.String(14))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    designated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    designated_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    designated_by: Mapped[User | None] = relationship(foreign_keys=[designated_by_id])

    __table_args__ = (sa.UniqueConstraint("kind", "identifier", "user_id", name="uq_annex_referents_designation"),)


class FinancialAnnex(db.Model):
    """The financial annex of one partner of a project: where its validation stands, its current version."""

    __tablename__ = "financial_annexes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(unique=True)
    #: The partner's establishment, kept equal to it by the foreign key below (ON UPDATE CASCADE: a partner the
    #: import moves to another establishment takes its annex along): the référents' queue reads it directly.
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    state: Mapped[str] = mapped_column(sa.String(24), default=AnnexState.PUBLISHED)
    current_version: Mapped[int] = mapped_column(default=1)
    #: The last day (Paris) the establishment has to answer.
    due_on: Mapped[date]
    first_published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The version approved and the digest of its canonical serialisation (tickets.annexes.budget).
    approved_version: Mapped[int | None]
    approved_digest: Mapped[str | None] = mapped_column(sa.String(64))
    #: The scheduler's steps for the current version, each done once: reminder before, escalation after.
    reminder_sent_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship()
    partner: Mapped[Partner] = relationship()
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    versions: Mapped[list[AnnexVersion]] = relationship(
        back_populates="annex", order_by="AnnexVersion.number", cascade="all, delete-orphan", passive_deletes=True)
    reviews: Mapped[list[AnnexReview]] = relationship(
        back_populates="annex", order_by="AnnexReview.id", cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (
        sa.ForeignKeyConstraint(["partner_id", "organisation_id"],
                                ["project_partners.id", "project_partners.organisation_id"],
                                onupdate="CASCADE", ondelete="CASCADE",
                                name="fk_financial_annexes_partner_establishment"),
        # The agency's queue of waiting annexes, earliest deadline first (and its count, index-only).
        sa.Index("ix_financial_annexes_pending_due", "due_on", "id",
                 postgresql_where=_pending_clause(), sqlite_where=_pending_clause()),
        # A référent's queue: the waiting annexes of their establishments, earliest deadline first.
        sa.Index("ix_financial_annexes_org_pending_due", "organisation_id", "due_on", "id",
                 postgresql_include=["project_id", "partner_id"],
                 postgresql_where=_pending_clause(), sqlite_where=_pending_clause()),
        # The queue filtered on another state, and the scheduler's reminders and escalations.
        sa.Index("ix_financial_annexes_state_due", "state", "due_on", "id"),
    )

    @property
    def state_label(self) -> str:
        return ANNEX_STATE_LABELS.get(self.state, self.state)

    @property
    def version(self) -> AnnexVersion:
        return next(v for v in self.versions if v.number == self.current_version)

    @property
    def reference(self) -> str:
        return f"{self.project.reference}-P{self.partner.number}"

    def subject(self) -> dict:
        """What the annex is about, in the canonical serialisation of its digest."""
        return {"project": self.project.reference, "partner": self.partner.number,
                "siret": self.partner.organisation.siret or "", "version": self.current_version}


#: What the annexes' foreign key to (partner, establishment) refers to: declared here, above crm.projects.
sa.Index("uq_project_partners_id_organisation", Partner.__table__.c.id, Partner.__table__.c.organisation_id,
         unique=True)


class AnnexVersion(BudgetAmounts, db.Model):
    """One published version of an annex: its figures and their digest, never changed afterwards."""

    __tablename__ = "annex_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    annex_id: Mapped[int] = mapped_column(sa.ForeignKey("financial_annexes.id", ondelete="CASCADE"))
    number: Mapped[int]
    rate: Mapped[Decimal] = mapped_column(Rate)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    digest: Mapped[str] = mapped_column(sa.String(64))
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)

    annex: Mapped[FinancialAnnex] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("annex_id", "number", name="uq_annex_versions_number"),)

    @property
    def figures(self) -> Figures:
        return Figures({c: getattr(self, c) for c in CATEGORIES}, self.requested_aid, self.rate)


class AnnexReview(db.Model):
    """A référent's answer on one version: approval (with the digest approved) or corrections, line by line."""

    __tablename__ = "annex_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    annex_id: Mapped[int] = mapped_column(sa.ForeignKey("financial_annexes.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    decision: Mapped[str] = mapped_column(sa.String(24))
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    digest: Mapped[str] = mapped_column(sa.String(64))
    #: Corrections asked, per line (tickets.annexes.budget.LINES): {"staff": "…"}.
    comments: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    annex: Mapped[FinancialAnnex] = relationship(back_populates="reviews")
    reviewer: Mapped[User | None] = relationship()


class AnnexEvent(db.Model):
    """One step of a project's annexes and decision readiness in the audit trail: who, when, what."""

    __tablename__ = "annex_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    annex_id: Mapped[int | None] = mapped_column(sa.ForeignKey("financial_annexes.id", ondelete="CASCADE"),
                                                 index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_annex_events_project_created", "project_id", "created_at"),)


class FundingDecision(db.Model):
    """A project's funding decision on the agency's side: marked ready to issue once every annex is approved."""

    __tablename__ = "funding_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    ready_at: Mapped[datetime | None]
    ready_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship()
    ready_by: Mapped[User | None] = relationship()

    @property
    def is_ready(self) -> bool:
        return self.ready_at is not None

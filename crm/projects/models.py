"""Funded projects: consortium partners, payment schedules, deliverables, modification requests."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.organisations.models import Organisation, Person

Money = sa.Numeric(14, 2)


class ProjectState(enum.StrEnum):
    SUBMISSION = "submission"
    SELECTED = "selected"
    CONTRACTING = "contracting"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"


PROJECT_STATE_LABELS = {
    ProjectState.SUBMISSION: "Soumission en cours",
    ProjectState.SELECTED: "Sélectionné",
    ProjectState.CONTRACTING: "En conventionnement",
    ProjectState.FOLLOW_UP: "En suivi",
    ProjectState.CLOSED: "Clos",
    ProjectState.ABANDONED: "Abandonné",
}
#: The states the portal shows; closed and abandoned projects are excluded.
PORTAL_STATES = (ProjectState.SUBMISSION, ProjectState.SELECTED, ProjectState.CONTRACTING,
                 ProjectState.FOLLOW_UP)


class ModificationKind(enum.StrEnum):
    EXTENSION = "extension"
    AMOUNTS = "amounts"
    BENEFICIARY_ENTRY = "beneficiary_entry"
    BENEFICIARY_WITHDRAWAL = "beneficiary_withdrawal"
    TEAM = "team"
    ADMINISTRATIVE = "administrative"
    COORDINATOR = "coordinator"


MODIFICATION_KIND_LABELS = {
    ModificationKind.EXTENSION: "Prolongation ou modification des travaux",
    ModificationKind.AMOUNTS: "Modification des montants",
    ModificationKind.BENEFICIARY_ENTRY: "Entrée d'un bénéficiaire",
    ModificationKind.BENEFICIARY_WITHDRAWAL: "Retrait d'un bénéficiaire",
    ModificationKind.TEAM: "Modification de l'équipe projet",
    ModificationKind.ADMINISTRATIVE: "Modification d'informations administratives (RIB, adresse, SIRET)",
    ModificationKind.COORDINATOR: "Changement de coordinateur ou d'organisme gestionnaire",
}


class ModificationState(enum.StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


MODIFICATION_STATE_LABELS = {
    ModificationState.SUBMITTED: "Déposée",
    ModificationState.UNDER_REVIEW: "En instruction",
    ModificationState.ACCEPTED: "Acceptée",
    ModificationState.REFUSED: "Refusée",
    ModificationState.WITHDRAWN: "Retirée",
}


class Project(db.Model):
    """A project submitted to a call, as the business systems describe it."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    acronym: Mapped[str] = mapped_column(sa.String(60), index=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    call_code: Mapped[str] = mapped_column(sa.String(40), index=True)
    call_name: Mapped[str] = mapped_column(sa.String(255), default="")
    call_year: Mapped[int | None]
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    decision_number: Mapped[str | None] = mapped_column(sa.String(40))
    aid_granted: Mapped[Decimal | None] = mapped_column(Money)
    start_date: Mapped[date | None]
    scientific_end_date: Mapped[date | None]
    duration_months: Mapped[int | None]
    coordinator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id", ondelete="SET NULL"),
                                                       index=True)
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    coordinator: Mapped[Person | None] = relationship()
    partners: Mapped[list[Partner]] = relationship(back_populates="project", order_by="Partner.number",
                                                   cascade="all, delete-orphan", passive_deletes=True)
    deliverables: Mapped[list[Deliverable]] = relationship(
        back_populates="project", order_by="Deliverable.due_date, Deliverable.code",
        cascade="all, delete-orphan", passive_deletes=True)
    modification_requests: Mapped[list[ModificationRequest]] = relationship(
        back_populates="project", order_by="ModificationRequest.submitted_on.desc()",
        cascade="all, delete-orphan", passive_deletes=True)
    team: Mapped[list[TeamMember]] = relationship(
        back_populates="project", order_by="TeamMember.start_date, TeamMember.id",
        cascade="all, delete-orphan", passive_deletes=True)

    @property
    def state_label(self) -> str:
        return PROJECT_STATE_LABELS.get(self.state, self.state)

    def __str__(self) -> str:
        return f"{self.acronym} ({self.reference})"


class CallState(enum.StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


CALL_STATE_LABELS = {CallState.UPCOMING: "À venir", CallState.OPEN: "Ouvert", CallState.CLOSED: "Clos"}


class Call(db.Model):
    """A call for proposals as people name it: code, name, acronyms and other names, dates and state.

    Projects point at a call by its code (``Project.call_code``, no foreign key: the business systems' files
    may name a call before it is described here). Triage detects the call a question is about from these.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    #: Acronyms written in questions ("AAPG", "JCJC"), without the year.
    acronyms: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: Other names people use ("appel générique", "extensions territoriales").
    aliases: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    year: Mapped[int | None]
    opens_on: Mapped[date | None]
    closes_on: Mapped[date | None]
    #: The longest a project of this call may last, extensions included (None: the agency's general rule).
    max_duration_months: Mapped[int | None]
    state: Mapped[str] = mapped_column(sa.String(20), default=CallState.OPEN)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def state_label(self) -> str:
        return CALL_STATE_LABELS.get(self.state, self.state)

    def __str__(self) -> str:
        return f"{self.name or self.code} ({self.code})"


class Partner(db.Model):
    """A consortium member: an establishment, optionally a laboratory, and its two leads."""

    __tablename__ = "project_partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    laboratory_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    scientific_lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id", ondelete="SET NULL"),
                                                           index=True)
    administrative_lead_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL"), index=True)
    is_coordinator: Mapped[bool] = mapped_column(default=False)
    aid_granted: Mapped[Decimal | None] = mapped_column(Money)
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    project: Mapped[Project] = relationship(back_populates="partners")
    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    laboratory: Mapped[Organisation | None] = relationship(foreign_keys=[laboratory_id])
    scientific_lead: Mapped[Person | None] = relationship(foreign_keys=[scientific_lead_id])
    administrative_lead: Mapped[Person | None] = relationship(foreign_keys=[administrative_lead_id])
    payment_lines: Mapped[list[PaymentLine]] = relationship(
        back_populates="partner", order_by="PaymentLine.number", cascade="all, delete-orphan",
        passive_deletes=True)

    __table_args__ = (sa.UniqueConstraint("project_id", "number", name="uq_project_partners_number"),)


class TeamMember(db.Model):
    """A member of the project team (researcher, engineer, doctoral student), with their role and dates.

    A person sees in the portal the projects of whose team they are a member, until their end date.
    """

    __tablename__ = "project_team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(100), default="")
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    project: Mapped[Project] = relationship(back_populates="team")
    person: Mapped[Person] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("project_id", "person_id", name="uq_project_team_members_member"),
        sa.CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                           name="team_dates_ordered"),
    )

    def is_current(self, today: date) -> bool:
        """Still a member on that day: no end date, or an end date not yet past."""
        return self.end_date is None or self.end_date >= today

    @classmethod
    def current(cls, today: date):
        """SQL condition: the membership has not ended before today."""
        return sa.or_(cls.end_date.is_(None), cls.end_date >= today)


class BudgetAmounts:
    """The amounts of a partner's budget, by category, and the aid requested: the same columns in the budget the
    business systems send (PartnerBudget) and in each version of the financial annex made from it
    (tickets.annexes.models.AnnexVersion)."""

    staff: Mapped[Decimal] = mapped_column(Money)
    equipment: Mapped[Decimal] = mapped_column(Money)
    missions: Mapped[Decimal] = mapped_column(Money)
    subcontracting: Mapped[Decimal] = mapped_column(Money)
    overheads: Mapped[Decimal] = mapped_column(Money)
    requested_aid: Mapped[Decimal] = mapped_column(Money)


class PartnerBudget(BudgetAmounts, db.Model):
    """A partner's budget as the agency's business systems send it (import file `financial_annexes`).

    The nightly import keeps it and announces the lines it created or changed
    (`crm.imports.signals.partner_budgets_imported`); the annexes (tickets.annexes) publish a new version of the
    partner's financial annex when its figures differ from the current version's.
    """

    __tablename__ = "project_partner_budgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("project_partners.id", ondelete="CASCADE"), unique=True)
    #: The aid rate that applies, in percent.
    rate: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    __table_args__ = (
        sa.UniqueConstraint("project_id", "partner_id", name="uq_project_partner_budgets_partner"),
        sa.CheckConstraint("rate >= 0 AND rate <= 100", name="budget_rate_percent"),
    )


class PaymentLine(db.Model):
    """One line of a partner's payment schedule: amount due, amount paid."""

    __tablename__ = "payment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("project_partners.id", ondelete="CASCADE"))
    number: Mapped[int]
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    due_date: Mapped[date | None]
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    paid_on: Mapped[date | None]
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    partner: Mapped[Partner] = relationship(back_populates="payment_lines")

    __table_args__ = (sa.UniqueConstraint("partner_id", "number", name="uq_payment_lines_number"),)

    @property
    def remaining(self) -> Decimal:
        return (self.amount or Decimal("0")) - (self.paid_amount or Decimal("0"))


class Deliverable(db.Model):
    """A deliverable expected from the project, possibly a condition of a payment."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(300))
    due_date: Mapped[date] = mapped_column(index=True)
    submitted_on: Mapped[date | None]
    conditions_payment: Mapped[bool] = mapped_column(default=False)
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    project: Mapped[Project] = relationship(back_populates="deliverables")

    __table_args__ = (sa.UniqueConstraint("project_id", "code", name="uq_deliverables_code"),)

    def is_late(self, today: date) -> bool:
        """Not submitted and past due, or submitted after the due date."""
        if self.submitted_on is None:
            return self.due_date < today
        return self.submitted_on > self.due_date

    @classmethod
    def overdue(cls, today: date):
        """SQL condition: not submitted and past due."""
        return sa.and_(cls.submitted_on.is_(None), cls.due_date < today)


class ModificationRequest(db.Model):
    """A request to amend the project's agreement, and where its processing stands."""

    __tablename__ = "modification_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(sa.String(30))
    kind: Mapped[str] = mapped_column(sa.String(30))
    state: Mapped[str] = mapped_column(sa.String(20))
    submitted_on: Mapped[date | None]
    decided_on: Mapped[date | None]
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    row_hash: Mapped[str] = mapped_column(sa.String(32), default="")

    project: Mapped[Project] = relationship(back_populates="modification_requests")

    __table_args__ = (sa.UniqueConstraint("project_id", "number", name="uq_modification_requests_number"),)

    @property
    def kind_label(self) -> str:
        return MODIFICATION_KIND_LABELS.get(self.kind, self.kind)

    @property
    def state_label(self) -> str:
        return MODIFICATION_STATE_LABELS.get(self.state, self.state)

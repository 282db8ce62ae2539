"""A modification request filed online: its ticket (reference, history, SLA), the form's data, who files and
co-validates, the decision, and the imported request (crm.projects) that shows the change recorded."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.organisations.models import Person
from crm.projects.models import ModificationRequest, Partner, Project
from tickets.models import Ticket
from tickets.modifications.kinds import KIND_LABELS
from tickets.modifications.states import AGENCY_STATES, STATE_LABELS, State

#: The filer's role on the project (the three who may file).
ROLE_LABELS = {
    "scientific_lead": "Responsable scientifique",
    "administrative_lead": "Responsable administratif",
    "coordinator": "Coordinateur",
}


#: The states the agency works (states.AGENCY_STATES), as the partial indexes' condition.
_AT_AGENCY = sa.text("state IN ({})".format(", ".join(f"'{s}'" for s in AGENCY_STATES)))


class ChangeRequest(db.Model):
    """A modification request filed from the portal, worked as a ticket until the business systems show it."""

    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey(Project.id, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    state: Mapped[str] = mapped_column(sa.String(24), default=State.DRAFT)
    #: The ticket, from the submission on (a draft has none): its reference, messages, events and SLA clocks.
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey(Ticket.id, ondelete="SET NULL"), unique=True)
    filer_id: Mapped[int | None] = mapped_column(sa.ForeignKey(User.id, ondelete="SET NULL"), index=True)
    filer_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey(Person.id, ondelete="SET NULL"))
    filer_role: Mapped[str] = mapped_column(sa.String(24))
    #: The partner the filer acts for (their establishment).
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey(Partner.id, ondelete="SET NULL"))
    #: The designated other party (None when the kind needs no co-validation).
    co_validator_person_id: Mapped[int | None] = mapped_column(sa.ForeignKey(Person.id, ondelete="SET NULL"),
                                                               index=True)
    co_validated_at: Mapped[datetime | None]
    co_validated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey(User.id, ondelete="SET NULL"))
    #: The form's clean values (strings: ISO dates, decimal amounts), by field name (tickets.modifications.kinds).
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: The documents given at submission: [{"slug", "filename", "sha256", "size"}] (files: the ticket's attachments).
    documents: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: accepted, partly_accepted or refused (kept once the request is recorded or closed).
    decision: Mapped[str | None] = mapped_column(sa.String(20))
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey(User.id, ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: The request as the nightly import brought it back (the change is in the business systems).
    #: The ticket's next due time (None: clock paused or stopped), copied here so that the queue is walked in an
    #: index (tickets.modifications.sync keeps it equal to the ticket's, whatever changes the ticket).
    due_at: Mapped[datetime | None]
    imported_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(ModificationRequest.id, ondelete="SET NULL"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    ticket: Mapped[Ticket | None] = relationship()
    filer: Mapped[User | None] = relationship(foreign_keys=[filer_id])
    filer_person: Mapped[Person | None] = relationship(foreign_keys=[filer_person_id])
    partner: Mapped[Partner | None] = relationship()
    co_validator: Mapped[Person | None] = relationship(foreign_keys=[co_validator_person_id])
    co_validated_by: Mapped[User | None] = relationship(foreign_keys=[co_validated_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    imported_request: Mapped[ModificationRequest | None] = relationship()

    __table_args__ = (
        sa.Index("ix_change_requests_project_state", "project_id", "state"),
        sa.Index("ix_change_requests_state_kind", "state", "kind"),
        # The agency's queue, earliest due first: overall and per kind (bench/modifications_queue.py).
        sa.Index("ix_change_requests_agency_due", "due_at", "id",
                 postgresql_where=_AT_AGENCY, sqlite_where=_AT_AGENCY),
        sa.Index("ix_change_requests_agency_kind_due", "kind", "due_at", "id",
                 postgresql_where=_AT_AGENCY, sqlite_where=_AT_AGENCY),
        sa.Index("ix_change_requests_updated", "updated_at", "id"),
        sa.Index("ix_change_requests_decided_at", "decided_at"),
        sa.Index("ix_change_requests_submitted_at", "submitted_at"),
    )

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.filer_role, self.filer_role)

    @property
    def reference(self) -> str:
        """The ticket's reference once submitted, else a draft number."""
        return self.ticket.reference if self.ticket is not None else f"BROUILLON-{self.id}"

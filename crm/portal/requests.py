"""An establishment's requests in the portal: which ones (the scope, as SQL) and what is shown of them.

The requests are tickets, and crm.portal may not import tickets: the tickets package registers a `Provider`
(crm.core.registry.set_portal_requests) that reads them within a `RequestScope` built here from the user's
establishment profiles. Shown: reference, subject, state, dates, SLA met or missed, the project when it is in
the scope; never the messages, nor who asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from crm.core import registry
from crm.portal.scope import Profiles, organisation_scope, project_scope
from crm.projects.models import Project


@dataclass(frozen=True)
class RequestScope:
    """The requests a user's establishment profiles reach: linked to one of these organisations (establishment
    or laboratory) or to one of these projects (SELECTs of ids, to use in ``IN``)."""

    organisation_ids: sa.Select
    project_ids: sa.Select


def request_scope(profiles: Profiles, today: date | None = None) -> RequestScope | None:
    """The scope of the headquarters, entity and laboratory profiles; None without any of them.

    The person's own links (coordinator, leads, team) do not open other people's requests.
    """
    if not profiles.has_establishment:
        return None
    establishment = profiles.establishment
    return RequestScope(organisation_ids=organisation_scope(establishment),
                        project_ids=sa.select(Project.id).where(project_scope(establishment, today)))


@dataclass(frozen=True)
class RequestRow:
    """One request as the portal shows it; SLA states are those of now (``met``, ``missed``, ``breached``…)."""

    reference: str
    subject: str
    status: str
    status_label: str
    created_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    first_response_state: str
    first_response_label: str
    resolution_state: str
    resolution_label: str
    #: The project's reference, only when the project is in the scope.
    project_reference: str | None = None


@dataclass(frozen=True)
class TargetRate:
    """Met and missed counts of one SLA target over the period (clocks stopped in it)."""

    met: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        """Share met, or None when no clock stopped in the period."""
        return self.met / self.total if self.total else None


@dataclass(frozen=True)
class RequestFigures:
    """The figures of the period: requests filed, still active, SLA met rates, satisfaction."""

    filed: int = 0
    active: int = 0
    first_response: TargetRate = field(default_factory=TargetRate)
    resolution: TargetRate = field(default_factory=TargetRate)
    answers: int = 0
    average_score: float | None = None
    satisfied: int = 0  # scores 4 and 5

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.answers if self.answers else None


class Provider(Protocol):
    """What the tickets package gives the portal; every method filters by the scope in its SQL."""

    def count(self, scope: RequestScope, start: datetime, end: datetime) -> int:
        """How many requests of the scope were filed in [start, end)."""

    def rows(self, scope: RequestScope, start: datetime, end: datetime, now: datetime, *, offset: int = 0,
             limit: int | None = None) -> list[RequestRow]:
        """The requests of the scope filed in [start, end), latest first, SLA states as of ``now``."""

    def figures(self, scope: RequestScope, start: datetime, end: datetime) -> RequestFigures:
        """Requests filed, SLA met rates (clocks stopped in the period) and satisfaction (answers in it)."""


def provider() -> Provider | None:
    """The registered provider, or None when no package provides requests."""
    return registry.portal_requests(current_app)


@dataclass(frozen=True)
class Paging:
    """One page of a counted list, with what the pagination macro (crm/_forms.html) reads."""

    page: int
    per_page: int
    total: int

    @classmethod
    def of(cls, requested: int, per_page: int, total: int) -> Paging:
        """The requested page, brought back between the first and the last one (any integer is accepted)."""
        last = max(1, -(-total // per_page))
        return cls(min(max(1, requested), last), per_page, total)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

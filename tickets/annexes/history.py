"""An annex's history for its pages: each version with its differences from the one before and its reviews."""

from __future__ import annotations

from dataclasses import dataclass

from tickets.annexes import budget
from tickets.annexes.models import AnnexReview, AnnexVersion, FinancialAnnex


@dataclass(frozen=True)
class VersionView:
    version: AnnexVersion
    changes: list[budget.Change]
    reviews: list[AnnexReview]


@dataclass(frozen=True)
class AnnexView:
    current: AnnexVersion
    changes: list[budget.Change]  # of the current version from the previous one (empty for a first version)
    versions: list[VersionView]  # newest first
    #: True when the approval recorded no longer matches the current version's digest.
    approval_outdated: bool


def annex_view(annex: FinancialAnnex) -> AnnexView:
    reviews: dict[int, list[AnnexReview]] = {}
    for review in annex.reviews:
        reviews.setdefault(review.version, []).append(review)
    views, previous = [], None
    for version in annex.versions:
        changes = budget.differences(previous.figures, version.figures) if previous else []
        views.append(VersionView(version, changes, reviews.get(version.number, [])))
        previous = version
    current = annex.version
    outdated = annex.approved_digest is not None and annex.approved_digest != current.digest
    return AnnexView(current, views[-1].changes if views else [], list(reversed(views)), outdated)

"""Exports: the managers' figures (xlsx, CSV for spreadsheets) and the accepted changes for the business systems
(CSV and JSON in the format docs/modification-requests.md describes)."""

from __future__ import annotations

import csv
import io
import json

from crm.core.extensions import utcnow
from crm.portal.exports import ExportColumn
from crm.portal.exports import table as table  # the views write their tables with it
from tickets.modifications.kinds import KIND_LABELS
from tickets.modifications.models import ChangeRequest
from tickets.modifications.queries import KindFigures

FORMAT = "guichet.modifications.accepted/1"
FIGURE_COLUMNS = [
    ExportColumn("Type de demande", width=50), ExportColumn("Déposées", "int", 12), ExportColumn("Décidées", "int", 12),
    ExportColumn("Acceptées", "int", 12), ExportColumn("Délai médian (jours)", width=18),
    ExportColumn("Délai 90e centile (jours)", width=22),
]
#: The columns of the accepted-changes CSV, in order (their meaning: docs/modification-requests.md).
ACCEPTED_FIELDS = ["reference", "project_reference", "kind", "decision", "decided_at", "decided_by", "filer_email",
                   "filer_role", "partner_number", "partner_siret", "imported_number", "data", "decision_reason"]


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def figure_rows(figures: list[KindFigures]) -> list[list]:
    return [[KIND_LABELS.get(f.kind, f.kind), f.filed, f.decided, f.accepted, _days(f.p50_days), _days(f.p90_days)]
            for f in figures]


def accepted_record(item: ChangeRequest) -> dict:
    """One accepted change, as both formats write it."""
    partner = item.partner
    return {
        "reference": item.reference, "project_reference": item.project.reference, "kind": item.kind,
        "decision": item.decision, "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "decided_by": item.decided_by.email if item.decided_by else None,
        "filer_email": item.filer.email if item.filer else None, "filer_role": item.filer_role,
        "partner_number": partner.number if partner else None,
        "partner_siret": partner.organisation.siret if partner else None,
        "imported_number": item.imported_request.number if item.imported_request else None,
        "data": dict(sorted(item.data.items())), "decision_reason": item.decision_reason,
    }


def accepted_json(items: list[ChangeRequest]) -> bytes:
    document = {"format": FORMAT, "generated_at": utcnow().isoformat(), "items": [accepted_record(i) for i in items]}
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def accepted_csv(items: list[ChangeRequest]) -> bytes:
    """Comma-separated, UTF-8 without BOM, ISO dates, the form's data as one JSON column (for programs)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ACCEPTED_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        record = accepted_record(item)
        record["data"] = json.dumps(record["data"], ensure_ascii=False, sort_keys=True)
        writer.writerow(record)
    return buffer.getvalue().encode("utf-8")

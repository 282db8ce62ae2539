"""The managers' reports (SLA, expert module, satisfaction) as spreadsheet tables (.xlsx with typed cells, CSV),
one per table of their pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from flask import Response

from crm.core.i18n import paris_today
from crm.portal.exports import ExportColumn, table
from expert.models import OUTCOME_LABELS
from expert.queries import Gap, Rates
from tickets.models import Ticket
from tickets.reports import Concern, DurationStats, MetRate, MetRateRow, SeriesPoint
from tickets.sla_tracking import TARGET_LABELS, TARGETS
from tickets.surveys import SatisfactionRow


@dataclass(frozen=True)
class Report:
    """One exported table: its sheet title, file name part and columns."""

    title: str
    slug: str
    columns: list[ExportColumn]


def _hours(seconds: float | timedelta | None) -> float | None:
    """Business time in hours (one decimal shown), a number for the spreadsheet."""
    if seconds is None:
        return None
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    return round(seconds / 3600, 2)


def _rate_columns() -> list[ExportColumn]:
    columns = []
    for target in TARGETS:
        label = TARGET_LABELS[target]
        columns += [ExportColumn(f"{label} — respectés", "int", 14), ExportColumn(f"{label} — manqués", "int", 14),
                    ExportColumn(f"{label} — dont encore ouverts", "int", 16),
                    ExportColumn(f"{label} — taux", "percent", 12)]
    return columns


def _rate_cells(rate: MetRate) -> list:
    return [rate.met, rate.missed, rate.overdue, rate.rate]


def _duration_columns() -> list[ExportColumn]:
    columns = []
    for target in TARGETS:
        label = TARGET_LABELS[target]
        columns += [ExportColumn(f"{label} — nombre", "int", 12),
                    ExportColumn(f"{label} — médiane (heures ouvrées)", "decimal", 16),
                    ExportColumn(f"{label} — 90e centile (heures ouvrées)", "decimal", 16)]
    return columns


def _duration_cells(stats: DurationStats | None) -> list:
    if stats is None or not stats.count:
        return [0, None, None]
    return [stats.count, _hours(stats.median), _hours(stats.p90)]


NOW_COLUMNS = [
    ExportColumn("Référence", width=18), ExportColumn("Objet", width=50), ExportColumn("File", width=30),
    ExportColumn("Attribuée à", width=24), ExportColumn("Délai concerné", width=22),
    ExportColumn("Échéance", "datetime", 17), ExportColumn("Temps ouvré restant (heures)", "decimal", 16),
    ExportColumn("Horloge suspendue", "bool", 12),
]
REPORTS = {
    "a-risque": Report("À risque", "sla-a-risque", NOW_COLUMNS),
    "depassees": Report("Dépassées", "sla-depassees", NOW_COLUMNS),
    "taux-par-file": Report("Taux par file", "sla-taux-par-file", [ExportColumn("File", width=30), *_rate_columns()]),
    "taux-par-niveau": Report("Taux par niveau", "sla-taux-par-niveau",
                              [ExportColumn("Niveau de service", width=20), *_rate_columns()]),
    "temps": Report("Temps ouvrés", "sla-temps", [ExportColumn("File", width=30), *_duration_columns()]),
    "evolution": Report("Évolution", "sla-evolution", [
        ExportColumn("Du", "date", 12), ExportColumn("Au", "date", 12), ExportColumn("Demandes déposées", "int", 12),
        *_rate_columns(), *_duration_columns()]),
}


def now_rows(tickets: Sequence[Ticket], concerns_of: Callable[[Ticket], list[Concern]]) -> list[list]:
    """One row per ticket and target at risk (or breached), the time left in business hours (negative: late)."""
    rows = []
    for ticket in tickets:
        for concern in concerns_of(ticket):
            rows.append([ticket.reference, ticket.subject, ticket.queue.name,
                         ticket.assignee.name if ticket.assignee else "", TARGET_LABELS[concern.target],
                         concern.due, _hours(concern.left), ticket.sla_paused])
    return rows


def rate_rows(rows: Sequence[MetRateRow]) -> list[list]:
    """One row per queue or tier; a ticket without a tier is "Non renseigné"."""
    return [[row.label or "Non renseigné", *(cell for t in TARGETS for cell in _rate_cells(row.targets[t]))]
            for row in rows]


def duration_rows(percentiles: dict, rows: Sequence[tuple[int | None, str]]) -> list[list]:
    """One row per queue, then all queues together."""
    return [[label if key is not None else "Toutes les files",
             *(cell for t in TARGETS for cell in _duration_cells(percentiles[t].get(key)))] for key, label in rows]


def series_rows(points: Sequence[SeriesPoint]) -> list[list]:
    """One row per week or month."""
    return [[p.bucket.first, p.bucket.last, p.submitted, *(c for t in TARGETS for c in _rate_cells(p.rates[t])),
             *(c for t in TARGETS for c in _duration_cells(p.durations[t]))] for p in points]


def _period_columns() -> list[ExportColumn]:
    return [ExportColumn("Du", "date", 12), ExportColumn("Au", "date", 12)]


EXPERT_REPORTS = {
    "evolution": Report("Module expert", "expert-evolution", [
        *_period_columns(), ExportColumn("Demandes triées", "int", 12),
        ExportColumn("Réponses automatiques envoyées", "int", 14),
        ExportColumn("Taux de réponse automatique", "percent"), ExportColumn("Taux de résolution confirmée", "percent"),
        ExportColumn("Taux de recours à un conseiller", "percent"),
        ExportColumn("Conversations de l'assistant", "int", 14),
        ExportColumn("Conversations résolues sans demande", "int", 14),
        ExportColumn("Part résolue sans demande", "percent"),
    ]),
    "issues": Report("Issues du tri", "expert-issues",
                     [ExportColumn("Issue", width=50), ExportColumn("Demandes", "int")]),
    "lacunes": Report("Lacunes", "expert-lacunes", [
        ExportColumn("Groupe", width=40), ExportColumn("Questions du groupe", "int", 12),
        ExportColumn("Demande", width=20), ExportColumn("Question", width=80)]),
}
SATISFACTION_COLUMNS = [ExportColumn("Réponses", "int", 12), ExportColumn("Note moyenne /5", "decimal", 12),
                        ExportColumn("Satisfaits (4 ou 5)", "percent", 14), ExportColumn("Notes faibles", "int", 12)]
#: report slug -> (dimension of tickets.surveys, its column header)
SATISFACTION_DIMENSIONS = {"par-file": ("queue", "File"), "par-agent": ("agent", "Agent ou référent"),
                           "par-theme": ("topic", "Thème"), "par-etablissement": ("organisation", "Établissement")}
SATISFACTION_REPORTS = {
    "evolution": Report("Satisfaction", "satisfaction-evolution", [*_period_columns(), *SATISFACTION_COLUMNS]),
    **{slug: Report(f"Satisfaction {header.lower()}"[:31], f"satisfaction-{slug}",
                    [ExportColumn(header, width=40), *SATISFACTION_COLUMNS])
       for slug, (_dimension, header) in SATISFACTION_DIMENSIONS.items()},
}


def expert_series_rows(series: Sequence[tuple]) -> list[list]:
    return [[step.first, step.last, rates.total, rates.auto_answered, rates.auto_answer_rate, rates.deflection_rate,
             rates.escalation_rate, started, resolved, resolved / started if started else None]
            for step, rates, (started, resolved) in series]


def expert_outcome_rows(rates: Rates) -> list[list]:
    return [[label, rates.by_outcome.get(key, 0)] for key, label in OUTCOME_LABELS.items()]


def gap_rows(gaps: Sequence[Gap]) -> list[list]:
    """One row per question of each gap, with the request (or assistant conversation) it comes from."""
    return [[gap.label, gap.count, reference, question] for gap in gaps for reference, question in gap.questions]


def _satisfaction_cells(row: SatisfactionRow) -> list:
    if not row.answers:
        return [0, None, None, 0]
    return [row.answers, row.average, row.satisfied_share, row.low]


def satisfaction_series_rows(series: Sequence[tuple]) -> list[list]:
    return [[step.first, step.last, *_satisfaction_cells(row)] for step, row in series]


def satisfaction_rows(rows: Sequence[SatisfactionRow]) -> list[list]:
    return [[row.label, *_satisfaction_cells(row)] for row in rows]


def attachment(fmt: str, report: Report, rows: list[list]) -> Response:
    """A report as a download: guichet-<report>-<today>.xlsx or .csv, never cached."""
    body, mimetype = table(fmt, report.title, report.columns, rows)
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="guichet-{report.slug}-{paris_today().isoformat()}.{fmt}"',
        "Cache-Control": "no-store"})

"""Portal reports as Excel (.xlsx, typed cells, date and euro formats) and CSV, limited to the scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from crm.core.extensions import db
from crm.portal.queries import ZERO, scoped_deliverables
from crm.portal.requests import RequestRow
from crm.portal.scope import Profiles, partner_scope, project_scope
from crm.projects.models import PROJECT_STATE_LABELS, Deliverable, Project
from crm.projects.queries import Amounts, partner_amounts

DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
PERCENT_FORMAT = "0.0 %"
DECIMAL_FORMAT = "0.0"
EURO_FORMAT = '#,##0.00\\ "€"'
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportColumn:
    header: str
    # text, int, date, datetime (Paris wall time), euro, bool, percent (a share, 0.85), decimal (one decimal shown),
    # label (a French label, translated on the page)
    kind: str = "text"
    width: int = 16


PROJECT_COLUMNS = [
    ExportColumn("Référence", width=20), ExportColumn("Acronyme"), ExportColumn("Titre", width=50),
    ExportColumn("Appel", width=14), ExportColumn("Édition", "int", 9), ExportColumn("État", "label", 20),
    ExportColumn("N° de décision", width=18), ExportColumn("Aide accordée au projet", "euro", 16),
    ExportColumn("Aide accordée à vos partenaires", "euro", 16), ExportColumn("Versé à vos partenaires", "euro", 16),
    ExportColumn("Reste à verser à vos partenaires", "euro", 16), ExportColumn("Début", "date", 12),
    ExportColumn("Fin scientifique", "date", 14), ExportColumn("Durée (mois)", "int", 12),
    ExportColumn("Coordinateur", width=24),
    ExportColumn("Partenaires", "int", 12),
]
DELIVERABLE_COLUMNS = [
    ExportColumn("Référence du projet", width=20), ExportColumn("Acronyme"),
    ExportColumn("Fin scientifique", "date", 14), ExportColumn("N° de décision", width=18),
    ExportColumn("État du projet", "label", 20), ExportColumn("Livrable", width=8),
    ExportColumn("Livrable attendu", width=40), ExportColumn("Échéance", "date", 12),
    ExportColumn("Remis le", "date", 12), ExportColumn("Conditionne un versement", "bool", 12),
    ExportColumn("Situation", width=18),
]

REQUEST_COLUMNS = [
    ExportColumn("Référence", width=18), ExportColumn("Objet", width=50), ExportColumn("État", width=22),
    ExportColumn("Projet", width=20), ExportColumn("Déposée le", "date", 12),
    ExportColumn("Première réponse le", "date", 14), ExportColumn("Résolue le", "date", 12),
    ExportColumn("Délai de première réponse", width=18), ExportColumn("Délai de résolution", width=18),
]


def deliverable_status(deliverable: Deliverable, today: date) -> str:
    """Submitted, submitted late, late or upcoming (in French, for reports)."""
    if deliverable.submitted_on is not None:
        return "Remis en retard" if deliverable.submitted_on > deliverable.due_date else "Remis"
    return "En retard" if deliverable.due_date < today else "À venir"


def project_rows(profiles: Profiles) -> list[list]:
    """One row per project in scope: the project's aid, and the granted, paid and remaining of the user's partners."""
    projects = db.session.scalars(
        sa.select(Project).where(project_scope(profiles)).order_by(Project.reference)
        .options(sa.orm.selectinload(Project.partners), sa.orm.joinedload(Project.coordinator))
    ).all()
    amounts = partner_amounts(project_scope(profiles), partner_scope(profiles))
    rows = []
    for p in projects:
        own = amounts.get(p.id, Amounts(ZERO, ZERO))
        rows.append([p.reference, p.acronym, p.title, p.call_code, p.call_year, PROJECT_STATE_LABELS.get(p.state),
                     p.decision_number, p.aid_granted, own.granted, own.paid, own.remaining, p.start_date,
                     p.scientific_end_date,
                     p.duration_months, p.coordinator.full_name if p.coordinator else "", len(p.partners)])
    return rows


def deliverable_rows(profiles: Profiles, today: date) -> list[list]:
    """One row per deliverable of the projects in scope."""
    rows = []
    query = scoped_deliverables(profiles).order_by(Project.reference, Deliverable.due_date, Deliverable.code)
    for d, p in db.session.execute(query).all():
        rows.append([p.reference, p.acronym, p.scientific_end_date, p.decision_number,
                     PROJECT_STATE_LABELS.get(p.state), d.code, d.title, d.due_date, d.submitted_on,
                     d.conditions_payment, deliverable_status(d, today)])
    return rows


def _paris_day(instant: datetime | None) -> date | None:
    if instant is None:
        return None
    return instant.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def request_rows(requests: list[RequestRow]) -> list[list]:
    """One row per request of the establishment (no message, no requester), days in Paris time."""
    return [[r.reference, r.subject, r.status_label, r.project_reference or "", _paris_day(r.created_at),
             _paris_day(r.first_responded_at), _paris_day(r.resolved_at), r.first_response_label,
             r.resolution_label] for r in requests]


def to_xlsx(title: str, columns: list[ExportColumn], rows: Iterable[list]) -> bytes:
    """A real workbook: typed cells (numbers, dates, booleans), euro and date formats, frozen header."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=True):
            cell = WriteOnlyCell(sheet, value=_xlsx_value(column, value))
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula stays text
            if column.kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


NUMBER_FORMATS = {"date": DATE_FORMAT, "datetime": DATETIME_FORMAT, "euro": EURO_FORMAT, "percent": PERCENT_FORMAT,
                  "decimal": DECIMAL_FORMAT}


def table(fmt: str, title: str, columns: list[ExportColumn], rows: list[list]) -> tuple[bytes, str]:
    """A table as (.xlsx bytes, mimetype) or (CSV bytes, mimetype)."""
    if fmt == "xlsx":
        return to_xlsx(title, columns, rows), XLSX_MIMETYPE
    return to_csv(columns, rows), "text/csv; charset=utf-8"


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def _xlsx_value(column: ExportColumn, value):
    if value is None or value == "":
        return None
    if column.kind == "euro" and isinstance(value, Decimal):
        return float(value)  # Excel stores numbers as doubles; the cell format shows 2 decimals
    if column.kind == "datetime" and isinstance(value, datetime):  # Excel has no time zone: Paris wall time
        return value.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).replace(tzinfo=None)
    return value


def to_csv(columns: list[ExportColumn], rows: Iterable[list]) -> bytes:
    """CSV for French spreadsheets: UTF-8 with BOM, ';' separated, decimal comma, dates DD/MM/YYYY."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow([_csv_value(c, v) for c, v in zip(columns, row, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_value(column: ExportColumn, value) -> str:
    if value is None:
        return ""
    if column.kind == "date" and isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if column.kind == "datetime" and isinstance(value, datetime):
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        return value.astimezone(zone).strftime("%d/%m/%Y %H:%M")
    if column.kind == "euro":
        return f"{Decimal(value):.2f}".replace(".", ",")
    if column.kind == "percent":
        return f"{float(value) * 100:.1f}".replace(".", ",") + " %"
    if column.kind == "decimal":
        return f"{float(value):.1f}".replace(".", ",")
    if column.kind == "bool":
        return "oui" if value else "non"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formula injection

"""Portal pages on the demo export set: search, sheet, activity, reporting, Excel and CSV exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import factories_crm
import pytest
import sqlalchemy as sa
from factories_crm import portal_user
from openpyxl import load_workbook

from crm.core.extensions import db
from crm.demo.projects import DIRECTOR_EMAIL, DIRECTOR_LAB_CODE, UNIV_SIREN
from crm.organisations.models import Organisation, Person
from crm.portal.models import PortalGrant
from crm.projects.models import PORTAL_STATES, Deliverable, Partner, Project

demo, demo_dir = factories_crm.demo, factories_crm.demo_dir  # fixtures


def references(html: str) -> set[str]:
    return set(re.findall(r'href="/portail/projets/(ANR-[^"/]+)"', html))


def lab_projects() -> set[str]:
    """What the demo laboratory director must see, computed independently of crm.portal.scope."""
    lab = db.session.scalar(sa.select(Organisation).where(Organisation.code == DIRECTOR_LAB_CODE))
    return set(db.session.scalars(
        sa.select(Project.reference).join(Partner).where(Partner.laboratory_id == lab.id,
                                                         Project.state.in_([str(s) for s in PORTAL_STATES]))
    ).all())


@pytest.fixture
def director(demo, make_user, login):
    person = db.session.scalar(sa.select(Person).where(Person.email == DIRECTOR_EMAIL))
    return login(portal_user(make_user, person))


@pytest.fixture
def headquarters(demo, make_user, login):
    user = portal_user(make_user)
    db.session.add(PortalGrant(user_id=user.id, kind="headquarters", identifier=UNIV_SIREN))
    db.session.flush()
    return login(user)


def all_pages(client, url: str) -> set[str]:
    found, page = set(), 1
    while True:
        html = client.get(f"{url}{'&' if '?' in url else '?'}page={page}").get_data(as_text=True)
        found |= references(html)
        if "Page suivante" not in html:
            return found
        page += 1


def test_laboratory_director_sees_exactly_their_laboratory(director, client):
    expected = lab_projects()
    assert 3 <= len(expected) < 60
    assert all_pages(client, "/portail/") == expected
    html = client.get("/portail/").get_data(as_text=True)
    assert f"{len(expected)} projets trouvés" in html


def test_search_by_criteria(headquarters, client):
    everything = all_pages(client, "/portail/")
    assert len(everything) > 20  # paginated: 20 per page
    follow = all_pages(client, "/portail/?state=follow_up")
    assert follow and follow < everything
    assert all(db.session.scalar(sa.select(Project.state).where(Project.reference == r)) == "follow_up"
               for r in follow)
    one = db.session.scalar(sa.select(Project).where(Project.reference == sorted(everything)[0]))
    assert references(client.get(f"/portail/?acronym={one.acronym.lower()}").get_data(as_text=True)) >= {
        one.reference}
    assert references(client.get(f"/portail/?reference={one.reference}").get_data(as_text=True)) == {one.reference}
    by_call = all_pages(client, f"/portail/?call={one.call_code}")
    assert one.reference in by_call and by_call <= everything
    assert all_pages(client, "/portail/?partner=Biotech") <= everything
    assert all_pages(client, "/portail/?start_from=2030-01-01") == set()
    assert all_pages(client, "/portail/?partner=%25") == set()  # a wildcard is taken literally


def test_project_sheet_shows_money_partners_deliverables_modifications(director, client):
    reference = sorted(lab_projects())[0]
    html = client.get(f"/portail/projets/{reference}").get_data(as_text=True)
    for heading in ("Aide accordée", "Reste à verser", "Partenaires et laboratoires", "Échéancier des versements",
                    "Livrables", "Demandes de modification"):
        assert heading in html
    assert "Laboratoire de matériaux et catalyse" in html


def test_activity_counts_and_late_deliverables(director, client):
    expected = lab_projects()
    html = client.get("/portail/activite").get_data(as_text=True)
    counts = dict(re.findall(r'data-indicator="(\w+)">(\d+)<', html))
    assert sum(int(counts[s]) for s in map(str, PORTAL_STATES)) == len(expected)
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    late = db.session.scalar(sa.select(sa.func.count()).select_from(Deliverable).join(Project).where(
        Project.reference.in_(expected), Deliverable.submitted_on.is_(None), Deliverable.due_date < today))
    assert int(counts["late"]) == late


def test_excel_export_is_typed_and_limited_to_scope(director, client):
    response = client.get("/portail/bilan/projets.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Référence" and rows[0][7] == "Aide accordée au projet"
    assert rows[0][8:11] == ("Aide accordée à vos partenaires", "Versé à vos partenaires",
                             "Reste à verser à vos partenaires")
    assert all(round(r[8] - r[9] - r[10], 2) == 0 for r in rows[1:])  # their partners: granted − paid = remaining
    assert {r[0] for r in rows[1:]} == lab_projects()
    typed = [row for row in sheet.iter_rows(min_row=2) if row[11].value is not None]
    assert typed, "some projects have dates"
    assert isinstance(typed[0][11].value, datetime) and typed[0][11].number_format == "DD/MM/YYYY"
    assert isinstance(typed[0][7].value, int | float) and "€" in typed[0][7].number_format
    assert isinstance(typed[0][4].value, int)


def test_deliverables_exports_xlsx_and_csv(director, client):
    sheet = load_workbook(io.BytesIO(client.get("/portail/bilan/livrables.xlsx").data)).active
    xlsx_refs = {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert xlsx_refs and xlsx_refs <= lab_projects()
    response = client.get("/portail/bilan/livrables.csv")
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Référence du projet"
    assert {r[0] for r in rows[1:]} == xlsx_refs
    assert {r[10] for r in rows[1:]} <= {"Remis", "Remis en retard", "En retard", "À venir"}
    assert client.get("/portail/bilan/autre.csv").status_code == 404


def test_reporting_page_and_projects_csv(headquarters, client):
    html = client.get("/portail/bilan").get_data(as_text=True)
    assert "Synthèse des projets" in html and "Synthèse des livrables" in html
    rows = list(csv.reader(io.StringIO(client.get("/portail/bilan/projets.csv").data.decode("utf-8-sig")),
                           delimiter=";"))
    assert {r[0] for r in rows[1:]} == all_pages(client, "/portail/")
    amounts = [r[7] for r in rows[1:] if r[7]]
    assert amounts and all(re.fullmatch(r"\d+,\d\d", a) for a in amounts)


def test_csv_and_xlsx_neutralise_formulas():
    from crm.portal.exports import PROJECT_COLUMNS, to_csv, to_xlsx

    row = ["=HYPERLINK(\"http://x\")", "A", "T", "C", 2025, "É", None, None, None, None, None, None, None, None, "", 0]
    assert b"'=HYPERLINK" in to_csv(PROJECT_COLUMNS, [row])
    sheet = load_workbook(io.BytesIO(to_xlsx("t", PROJECT_COLUMNS, [row]))).active
    assert sheet["A2"].data_type == "s"


def test_pages_need_login_and_empty_scope_explains(client, make_user, login):
    assert client.get("/portail/").status_code == 302
    login(make_user("requester"))
    html = client.get("/portail/").get_data(as_text=True)
    assert "Aucun projet n&#39;est rattaché à votre compte" in html or "Aucun projet n'est rattaché" in html
    assert client.get("/portail/activite").status_code == 200

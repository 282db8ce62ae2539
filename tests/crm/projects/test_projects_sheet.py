"""The staff project sheet: totals over every partner's payment lines, reached by reference too."""

from __future__ import annotations

from decimal import Decimal

from crm.organisations.models import OrgKind
from crm.projects.queries import project_by_reference, project_payment_totals
from tests.factories_crm import make_org, make_partner, make_project


def test_staff_sheet_totals_every_partner_and_state(client, make_user, login):
    project = make_project(state="closed")
    make_partner(project, make_org(OrgKind.ENTITY), lines=(("1000.00", "400.00"), ("500.00", "0.00")))
    make_partner(project, make_org(OrgKind.ENTITY), lines=(("250.50", "250.50"),))
    empty = make_project()
    assert project_payment_totals(project) == (Decimal("650.50"), Decimal("1100.00"))
    assert project_payment_totals(empty) == (Decimal("0.00"), Decimal("0.00"))
    assert project_by_reference(f"  {project.reference} ") == project
    login(make_user("agent"))
    html = client.get(f"/crm/projets/{project.id}").get_data(as_text=True)
    assert "650,50" in html and "299\u202f349,50" in html  # paid, and the project's aid (300,000) less it

"""The portal API under /api/v1/portal, and the demo seeder of establishments and projects."""

from __future__ import annotations

from decimal import Decimal

import factories_crm
import sqlalchemy as sa
from factories_crm import make_org, make_partner, make_person, make_project, portal_user

from crm.core import services
from crm.core.extensions import db
from crm.demo.accounts import DEMO_PASSWORD
from crm.demo.projects import DIRECTOR_EMAIL, PORTAL_ACCOUNTS, seed
from crm.imports.models import ImportRun
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant, ProfileRequest
from crm.projects.models import Project

demo_dir = factories_crm.demo_dir  # fixture


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {services.create_api_token(user, 'test')[1]}"}


def test_api_lists_reads_and_counts_within_scope(client, make_user):
    lead = make_person()
    lab = make_org(OrgKind.LABORATORY)
    mine = make_project(acronym="MIEN", state="follow_up")
    make_partner(mine, make_org(OrgKind.ENTITY), laboratory=lab, scientific_lead=lead, lines=(("1000", "400"),),
                 aid_granted=Decimal("1000"))
    make_partner(mine, make_org(OrgKind.ENTITY), lines=(("500", "500"),), aid_granted=Decimal("2000"))  # not theirs
    other = make_project(acronym="AUTRE")
    make_partner(other, make_org(OrgKind.ENTITY))
    headers = bearer(portal_user(make_user, lead))
    page = client.get("/api/v1/portal/projects", headers=headers).get_json()
    assert [p["reference"] for p in page["items"]] == [mine.reference]
    assert page["items"][0]["paid"] == "400.00" and page["items"][0]["remaining"] == "600.00"
    detail = client.get(f"/api/v1/portal/projects/{mine.reference}", headers=headers).get_json()
    assert detail["partners"][0]["rnsr"] == lab.rnsr
    assert detail["partners"][0]["payment_lines"][0]["amount"] == "1000.00"
    assert detail["amounts"] == {"project": {"granted": "300000.00", "paid": "900.00", "remaining": "299100.00"},
                                 "partners": {"granted": "1000.00", "paid": "400.00", "remaining": "600.00"}}
    missing = client.get(f"/api/v1/portal/projects/{other.reference}", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert client.get("/api/v1/portal/indicators", headers=headers).get_json()["projects"] == 1
    assert client.get("/api/v1/portal/projects?state=closed", headers=headers).status_code == 422
    assert client.get("/api/v1/portal/projects").status_code == 401


def test_api_search_filters(client, make_user):
    user = portal_user(make_user)
    hq = make_org(OrgKind.HEADQUARTERS)
    db.session.add(PortalGrant(user_id=user.id, kind="headquarters", identifier=hq.siren))
    for acronym, call in (("ALPHA", "AAPG2024"), ("BETA", "AAPG2025"), ("GAMMA", "AAPG2025")):
        make_partner(make_project(acronym=acronym, call_code=call), hq)
    headers = bearer(user)
    by_call = client.get("/api/v1/portal/projects?call=AAPG2025", headers=headers).get_json()
    assert sorted(p["acronym"] for p in by_call["items"]) == ["BETA", "GAMMA"]
    by_acronym = client.get("/api/v1/portal/projects?acronym=alp", headers=headers).get_json()
    assert [p["acronym"] for p in by_acronym["items"]] == ["ALPHA"]
    paged = client.get("/api/v1/portal/projects?per_page=2&page=2", headers=headers).get_json()
    assert paged["total"] == 3 and paged["pages"] == 2 and len(paged["items"]) == 1


def test_demo_seeder_imports_and_opens_portal_accounts(app, client, make_user, login):
    admin, agent = make_user("admin"), make_user("agent")
    context = {"users": {"admin": admin, "agent": agent}}
    seed(context)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 60
    assert db.session.scalar(sa.select(ImportRun.trigger)) == "demo"
    assert all(services.user_by_email(e) is not None for _l, e in PORTAL_ACCOUNTS)
    assert len(context["organisations"]) == 15 and len(context["projects"]) == 60
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProfileRequest)) == 1
    director = services.user_by_email(DIRECTOR_EMAIL)
    login(director, DEMO_PASSWORD)
    html = client.get("/portail/").get_data(as_text=True)
    assert "projets trouvés" in html and "Mes projets" in html

"""Property-based: random organisations, projects, team members, requests and links; no profile ever sees a
project or a request outside its scope, and every one in scope is seen, through every list, detail, indicator,
export and API call."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from factories_crm import (
    make_deliverable,
    make_org,
    make_partner,
    make_person,
    make_project,
    make_team_member,
    make_ticket_row,
)
from flask import g
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from crm.core import services
from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant
from crm.portal.scope import load_profiles, project_scope
from crm.projects.models import Project, ProjectState

HIDDEN = {ProjectState.CLOSED, ProjectState.ABANDONED}
PASSWORD = "motdepasse-de-test-1"


@st.composite
def worlds(draw):
    n_hq = draw(st.integers(1, 2))
    entity_parents = draw(st.lists(st.integers(0, n_hq - 1), max_size=3))
    n_labs, n_people = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    n_establishments = n_hq + len(entity_parents)
    maybe_person = st.none() | st.integers(0, n_people - 1)
    partner = st.fixed_dictionaries({
        "org": st.integers(0, n_establishments - 1), "lab": st.none() | st.integers(0, n_labs - 1),
        "sci": maybe_person, "adm": maybe_person})
    member = st.fixed_dictionaries({"person": st.integers(0, n_people - 1), "ended": st.booleans()})
    projects = draw(st.lists(st.fixed_dictionaries({
        "state": st.sampled_from([str(s) for s in ProjectState]), "coordinator": maybe_person,
        "partners": st.lists(partner, max_size=3), "late": st.booleans(),
        "team": st.lists(member, max_size=2, unique_by=lambda m: m["person"])}), min_size=1, max_size=6))
    n_projects = len(projects)
    requests = draw(st.lists(st.fixed_dictionaries({
        "org": st.none() | st.integers(0, n_establishments - 1), "lab": st.none() | st.integers(0, n_labs - 1),
        "project": st.none() | st.integers(0, n_projects - 1)}), max_size=5))
    some = st.sets  # at most one grant of each kind keeps examples small
    user = st.fixed_dictionaries({
        "hq": some(st.integers(0, n_hq - 1), max_size=1),
        "entities": some(st.integers(0, len(entity_parents) - 1), max_size=1) if entity_parents else st.just(set()),
        "labs": some(st.integers(0, n_labs - 1), max_size=1), "person": maybe_person,
        "directs": some(st.integers(0, n_labs - 1), max_size=1)})
    users = draw(st.lists(user, min_size=2, max_size=2))
    if users[0]["person"] is not None and users[0]["person"] == users[1]["person"]:
        users[1]["person"] = None
    return {"n_hq": n_hq, "entity_parents": entity_parents, "n_labs": n_labs, "n_people": n_people,
            "projects": projects, "requests": requests, "users": users}


def build(spec: dict, accounts: list) -> tuple[dict, list[set[str]], list[set[str]], list[set[str] | None]]:
    """Create the world; return the projects by reference and, per account, the expected project references,
    late ones, and request references (None: no establishment profile, no requests page)."""
    for account in accounts:  # forget the previous example's links
        db.session.execute(sa.delete(PortalGrant).where(PortalGrant.user_id == account.id))
        db.session.execute(sa.text("UPDATE people SET user_id = NULL WHERE user_id = :u"), {"u": account.id})
    hqs = [make_org(OrgKind.HEADQUARTERS) for _ in range(spec["n_hq"])]
    establishments = hqs + [make_org(OrgKind.ENTITY, parent=hqs[i]) for i in spec["entity_parents"]]
    entities = establishments[spec["n_hq"]:]
    labs = [make_org(OrgKind.LABORATORY) for _ in range(spec["n_labs"])]
    people = [make_person() for _ in range(spec["n_people"])]
    projects = {}
    for p in spec["projects"]:
        project = make_project(state=p["state"],
                               coordinator=people[p["coordinator"]] if p["coordinator"] is not None else None)
        for link in p["partners"]:
            make_partner(project, establishments[link["org"]],
                         laboratory=labs[link["lab"]] if link["lab"] is not None else None,
                         scientific_lead=people[link["sci"]] if link["sci"] is not None else None,
                         administrative_lead=people[link["adm"]] if link["adm"] is not None else None,
                         lines=(("1000", "250"),))
        make_deliverable(project, "L1", date(2000, 1, 1) if p["late"] else date(2999, 1, 1))
        for m in p["team"]:
            make_team_member(project, people[m["person"]],
                             end=paris_today() - timedelta(days=1) if m["ended"] else None)
        projects[project.reference] = (project, p)
    ordered = list(projects.values())
    requests = []
    for r in spec["requests"]:
        ticket = make_ticket_row(organisation=establishments[r["org"]] if r["org"] is not None else None,
                                 laboratory=labs[r["lab"]] if r["lab"] is not None else None,
                                 project=ordered[r["project"]][0] if r["project"] is not None else None)
        requests.append((ticket.reference, r))
    expected, late, expected_requests = [], [], []
    for account, u in zip(accounts, spec["users"], strict=True):
        sirens = {hqs[i].siren for i in u["hq"]}
        sirets = {entities[i].siret for i in u["entities"]}
        rnsrs = {labs[i].rnsr for i in u["labs"]}
        for i in u["hq"]:
            db.session.add(PortalGrant(user_id=account.id, kind="headquarters", identifier=hqs[i].siren))
        for i in u["entities"]:
            db.session.add(PortalGrant(user_id=account.id, kind="entity", identifier=entities[i].siret))
        for i in u["labs"]:
            db.session.add(PortalGrant(user_id=account.id, kind="lab_director", identifier=labs[i].rnsr))
        person = people[u["person"]] if u["person"] is not None else None
        if person is not None:
            person.user_id = account.id
            for i in u["directs"]:
                make_person_director(person, labs[i])
                rnsrs.add(labs[i].rnsr)
        seen, establishment_seen = set(), set()
        for reference, (_project, p) in projects.items():
            if p["state"] in HIDDEN:
                continue
            reached = person is not None and p["coordinator"] == u["person"]
            reached |= person is not None and any(m["person"] == u["person"] and not m["ended"] for m in p["team"])
            for link in p["partners"]:
                org = establishments[link["org"]]
                lab = labs[link["lab"]] if link["lab"] is not None else None
                by_establishment = (org.siren in sirens or org.siret in sirets
                                    or (lab is not None and lab.rnsr in rnsrs))
                if by_establishment:
                    establishment_seen.add(reference)
                reached |= by_establishment or (person is not None and u["person"] in (link["sci"], link["adm"]))
            if reached:
                seen.add(reference)
        expected.append(seen)
        late.append({r for r in seen if projects[r][1]["late"]})
        if not (sirens or sirets or rnsrs):
            expected_requests.append(None)  # a person's own links never open other people's requests
            continue
        reachable = set()
        for reference, r in requests:
            org = establishments[r["org"]] if r["org"] is not None else None
            lab = labs[r["lab"]] if r["lab"] is not None else None
            project_ref = ordered[r["project"]][0].reference if r["project"] is not None else None
            if ((org is not None and (org.siren in sirens or org.siret in sirets))
                    or (lab is not None and lab.rnsr in rnsrs) or project_ref in establishment_seen):
                reachable.add(reference)
        expected_requests.append(reachable)
    db.session.flush()
    return projects, expected, late, expected_requests


def make_person_director(person, lab) -> None:
    from crm.organisations.models import OrgContact

    exists = db.session.scalar(sa.select(OrgContact).where(OrgContact.person_id == person.id,
                                                           OrgContact.organisation_id == lab.id))
    if exists is None:
        db.session.add(OrgContact(person_id=person.id, organisation_id=lab.id, role="lab_director"))
        db.session.flush()


def list_references(client) -> set[str]:
    found, page = set(), 1
    while True:
        html = client.get(f"/portail/?page={page}").get_data(as_text=True)
        found |= set(re.findall(r'href="/portail/projets/([^"/]+)"', html))
        if "Page suivante" not in html:
            return found
        page += 1


def csv_references(client, name: str) -> set[str]:
    text = client.get(f"/portail/bilan/{name}.csv").data.decode("utf-8-sig")
    return {row[0] for row in list(csv.reader(io.StringIO(text), delimiter=";"))[1:]}


def xlsx_references(client, name: str) -> set[str]:
    sheet = load_workbook(io.BytesIO(client.get(f"/portail/bilan/{name}.xlsx").data)).active
    return {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}


def request_rows(client, fmt: str) -> list[tuple[str, str]]:
    """(request reference, project reference) of the requests export."""
    response = client.get(f"/portail/bilan/demandes.{fmt}")
    assert response.status_code == 200
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))[1:]
    else:
        rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(min_row=2, values_only=True))
    return [(row[0], row[3] or "") for row in rows]


def check_requests(client, projects: dict, expected: set[str] | None, seen_projects: set[str]) -> None:
    """The requests page and its exports show exactly the expected requests, naming only projects in scope."""
    page = client.get("/portail/demandes")
    if expected is None:
        assert page.status_code == 404
        assert client.get("/portail/bilan/demandes.csv").status_code == 404
        return
    html = page.get_data(as_text=True)
    assert set(re.findall(r'data-request="([^"]+)"', html)) == expected
    assert set(re.findall(r'href="/portail/projets/([^"/]+)"', html)) <= seen_projects
    assert re.search(r'data-indicator="filed">(\d+)<', html).group(1) == str(len(expected))
    for fmt in ("csv", "xlsx"):
        rows = request_rows(client, fmt)
        assert {reference for reference, _p in rows} == expected and len(rows) == len(expected)
        assert {project for _r, project in rows} - {""} <= seen_projects


def check(client, token: str, account, projects: dict, expected: set[str], late: set[str]) -> None:
    """Every way of reading projects shows exactly the expected ones."""
    g.pop("_login_user", None)  # requests share the test's app context: forget the other client's user
    sql = set(db.session.scalars(sa.select(Project.reference).where(project_scope(load_profiles(account)))).all())
    assert sql & set(projects) == expected
    assert list_references(client) & set(projects) == expected
    for reference in projects:
        status = client.get(f"/portail/projets/{reference}").status_code
        assert status == (200 if reference in expected else 404), reference
    activity = client.get("/portail/activite").get_data(as_text=True)
    counts = dict(re.findall(r'data-indicator="(\w+)">(\d+)<', activity))
    assert sum(int(counts[s]) for s in ("submission", "selected", "contracting", "follow_up")) == len(expected)
    assert int(counts["late"]) == len(late)
    assert csv_references(client, "projets") == expected
    assert xlsx_references(client, "projets") == expected
    assert csv_references(client, "livrables") == expected  # one deliverable per project
    headers = {"Authorization": f"Bearer {token}"}
    api = client.get("/api/v1/portal/projects?per_page=200", headers=headers).get_json()
    assert {item["reference"] for item in api["items"]} == expected and api["total"] == len(expected)
    for reference in projects:
        status = client.get(f"/api/v1/portal/projects/{reference}", headers=headers).status_code
        assert status == (200 if reference in expected else 404), reference
    indicators = client.get("/api/v1/portal/indicators", headers=headers).get_json()
    assert indicators["projects"] == len(expected) and indicators["late_deliverables"] == len(late)


def test_no_profile_ever_sees_outside_its_scope(app, make_user):
    accounts = [make_user("requester") for _ in range(2)]
    clients, tokens = [], []
    for account in accounts:
        client = app.test_client()
        g.pop("_login_user", None)
        assert client.post("/connexion", data={"email": account.email, "password": PASSWORD}).status_code == 302
        clients.append(client)
        tokens.append(services.create_api_token(account, "hypothesis")[1])
    db.session.flush()

    @settings(max_examples=25, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(worlds())
    def prop(spec):
        projects, expected, late, requests = build(spec, accounts)
        for account, client, token, seen, overdue, reachable in zip(accounts, clients, tokens, expected, late,
                                                                     requests, strict=True):
            check(client, token, account, projects, seen, overdue)
            check_requests(client, projects, reachable, seen)

    prop()

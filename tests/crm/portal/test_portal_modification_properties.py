"""Property-based, for the modification requests (issue 12): random projects, partners, leads and requests; through
the tracking table, the request pages, the project sheet's forms and the API, each profile sees exactly the
requests of the projects in its scope (a draft: its filer's alone), may file only as scientific lead, coordinator
or administrative lead, and is offered the co-validation only when designated."""

from __future__ import annotations

import contextlib
import re

import sqlalchemy as sa
from factories_crm import make_org, make_partner, make_person, make_project
from flask import g
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crm.core import services as core_services
from crm.core.extensions import db
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant
from crm.projects.models import ProjectState
from tickets.attachments import IncomingFile
from tickets.modifications import services
from tickets.modifications.demo import PDF, seed_reference

HIDDEN = {ProjectState.CLOSED, ProjectState.ABANDONED}
PASSWORD = "motdepasse-de-test-1"
EXTENSION = {"new_end_date": "2029-06-30", "reason": "Retard"}


@st.composite
def worlds(draw):
    n_hq, n_people = draw(st.integers(1, 2)), draw(st.integers(2, 4))
    maybe_person = st.none() | st.integers(0, n_people - 1)
    partner = st.fixed_dictionaries({"org": st.integers(0, n_hq - 1), "sci": maybe_person, "adm": maybe_person})
    projects = draw(st.lists(st.fixed_dictionaries({
        "state": st.sampled_from([str(s) for s in ProjectState]), "coordinator": maybe_person,
        "partners": st.lists(partner, max_size=2)}), min_size=1, max_size=4))
    requests = draw(st.lists(st.fixed_dictionaries({
        "project": st.integers(0, len(projects) - 1), "filer": st.integers(0, 1), "submit": st.booleans()}),
        max_size=4))
    users = draw(st.lists(st.fixed_dictionaries({"hq": st.sets(st.integers(0, n_hq - 1), max_size=1),
                                                 "person": st.integers(0, n_people - 1)}),
                          min_size=2, max_size=2, unique_by=lambda u: u["person"]))
    return {"n_hq": n_hq, "n_people": n_people, "projects": projects, "requests": requests, "users": users}


def build(spec: dict, accounts: list):
    """The world; per account the expected visible request ids, files-on projects, co-validations offered."""
    for account in accounts:
        db.session.execute(sa.delete(PortalGrant).where(PortalGrant.user_id == account.id))
        db.session.execute(sa.text("UPDATE people SET user_id = NULL WHERE user_id = :u"), {"u": account.id})
    hqs = [make_org(OrgKind.HEADQUARTERS) for _ in range(spec["n_hq"])]
    people = [make_person() for _ in range(spec["n_people"])]
    for account, u in zip(accounts, spec["users"], strict=True):
        people[u["person"]].user_id = account.id
        for i in u["hq"]:
            db.session.add(PortalGrant(user_id=account.id, kind="headquarters", identifier=hqs[i].siren))
    db.session.flush()
    projects = []
    for p in spec["projects"]:
        project = make_project(state=p["state"], scientific_end_date=None,
                               coordinator=people[p["coordinator"]] if p["coordinator"] is not None else None)
        for number, link in enumerate(p["partners"]):
            make_partner(project, hqs[link["org"]], is_coordinator=number == 0,
                         scientific_lead=people[link["sci"]] if link["sci"] is not None else None,
                         administrative_lead=people[link["adm"]] if link["adm"] is not None else None)
        projects.append((project, p))
    requests = []
    for r in spec["requests"]:
        project, p = projects[r["project"]]
        account = accounts[r["filer"]]
        person_id = people[spec["users"][r["filer"]]["person"]].id
        if p["state"] in HIDDEN or not services.filings_of(person_id, project):
            continue
        item = services.start_draft(project, "extension", filer=account, person_id=person_id)
        if r["submit"]:
            with contextlib.suppress(services.ModificationError):  # no other party known: stays a draft
                services.submit_request(item, EXTENSION, {"letter": IncomingFile("l.pdf", PDF)}, by=account)
        requests.append((item, r["filer"]))
    db.session.flush()
    expected = []
    for index, u in enumerate(spec["users"]):
        sirens = {hqs[i].siren for i in u["hq"]}
        visible, filer_on = set(), set()
        for project, p in projects:
            if p["state"] in HIDDEN:
                continue
            mine = u["person"] in {link["sci"] for link in p["partners"]} | {link["adm"] for link in p["partners"]}
            coordinates = p["coordinator"] == u["person"]
            if mine or coordinates or any(hqs[link["org"]].siren in sirens for link in p["partners"]):
                visible.add(project.id)
            if mine or (coordinates and p["partners"]):
                filer_on.add(project.reference)
        person_id = people[u["person"]].id
        seen = {item.id for item, filer in requests
                if item.project_id in visible and (item.state != "draft" or filer == index)}
        co = {item.id for item, _f in requests
              if item.state == "co_validation" and item.co_validator_person_id == person_id and item.id in seen}
        expected.append((visible, filer_on, seen, co))
    return projects, [item for item, _f in requests], expected


def check(client, token, projects, requests, visible, filer_on, seen, co) -> None:
    g.pop("_login_user", None)
    ours = {item.id for item in requests}
    html = client.get("/portail/modifications").get_data(as_text=True)
    assert {int(i) for i in re.findall(r'href="/portail/modifications/(\d+)"', html)} & ours == seen
    headers = {"Authorization": f"Bearer {token}"}
    api = client.get("/api/v1/modifications?per_page=100", headers=headers).get_json()
    assert {i["id"] for i in api["items"]} & ours == seen
    for item in requests:
        page = client.get(f"/portail/modifications/{item.id}")
        assert page.status_code == (200 if item.id in seen else 404)
        assert ("Votre co-validation" in page.get_data(as_text=True)) == (item.id in co)
        assert client.get(f"/api/v1/modifications/{item.id}", headers=headers).status_code == (
            200 if item.id in seen else 404)
    for project, _p in projects:
        status = client.get(f"/portail/projets/{project.reference}/modifications/team").status_code
        assert status == (200 if project.reference in filer_on else 403 if project.id in visible else 404)
        if project.id in visible:
            sheet = client.get(f"/portail/projets/{project.reference}").get_data(as_text=True)
            assert (f"/portail/projets/{project.reference}/modifications/team" in sheet) == (
                project.reference in filer_on)


def test_modification_requests_stay_within_the_portal_scope(app, make_user, reference_data):
    seed_reference()
    accounts = [make_user("requester") for _ in range(2)]
    clients, tokens = [], []
    for account in accounts:
        client = app.test_client()
        g.pop("_login_user", None)
        assert client.post("/connexion", data={"email": account.email, "password": PASSWORD}).status_code == 302
        clients.append(client)
        tokens.append(core_services.create_api_token(account, "hypothesis")[1])
    db.session.flush()

    @settings(max_examples=15, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(worlds())
    def prop(spec):
        projects, requests, expected = build(spec, accounts)
        for client, token, (visible, filer_on, seen, co) in zip(clients, tokens, expected, strict=True):
            check(client, token, projects, requests, visible, filer_on, seen, co)

    prop()

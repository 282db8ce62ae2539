"""Property-based: random establishments, projects, profiles and designations; a référent reaches exactly the
annexes of the establishments they are designated for and still hold the profile of, in projects of their portal
scope, through the portal list, the annex page and the API; the agency's pages and exports stay closed to them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from factories_crm import make_org, make_partner, make_project
from flask import g
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crm.core import services
from crm.core.extensions import db
from crm.organisations.models import OrgKind
from crm.portal.models import PortalGrant
from crm.projects.models import ProjectState
from tickets.annexes.models import AnnexReferent, AnnexVersion, FinancialAnnex

HIDDEN = {ProjectState.CLOSED, ProjectState.ABANDONED}
PASSWORD = "motdepasse-de-test-1"


@st.composite
def worlds(draw):
    n_hq = draw(st.integers(1, 2))
    entity_parents = draw(st.lists(st.integers(0, n_hq - 1), max_size=2))
    n_orgs = n_hq + len(entity_parents)
    projects = draw(st.lists(st.fixed_dictionaries({
        "state": st.sampled_from([str(s) for s in ProjectState]),
        "partners": st.lists(st.integers(0, n_orgs - 1), min_size=1, max_size=3)}), min_size=1, max_size=4))
    # (kind, index of a headquarters or of an entity): grants held, and designations (held or not)
    profile = st.one_of(st.tuples(st.just("headquarters"), st.integers(0, n_hq - 1)),
                        *([st.tuples(st.just("entity"), st.integers(0, len(entity_parents) - 1))]
                          if entity_parents else []))
    user = st.fixed_dictionaries({"grants": st.sets(profile, max_size=2), "designated": st.sets(profile, max_size=2)})
    return {"n_hq": n_hq, "entity_parents": entity_parents, "projects": projects,
            "users": draw(st.lists(user, min_size=2, max_size=2))}


def build(spec: dict, accounts: list) -> tuple[list[int], list[set[int]]]:
    for account in accounts:
        db.session.execute(sa.delete(PortalGrant).where(PortalGrant.user_id == account.id))
        db.session.execute(sa.delete(AnnexReferent).where(AnnexReferent.user_id == account.id))
    hqs = [make_org(OrgKind.HEADQUARTERS) for _ in range(spec["n_hq"])]
    entities = [make_org(OrgKind.ENTITY, parent=hqs[i]) for i in spec["entity_parents"]]
    orgs = hqs + entities

    def identifier(kind: str, index: int) -> str:
        return hqs[index].siren if kind == "headquarters" else entities[index].siret

    annexes = []  # (annex id, project state, organisation)
    for p in spec["projects"]:
        project = make_project(state=p["state"])
        for index in p["partners"]:
            partner = make_partner(project, orgs[index])
            annex = FinancialAnnex(project_id=project.id, partner_id=partner.id, organisation_id=orgs[index].id,
                                   due_on=date(2099, 1, 2))
            db.session.add(annex)
            db.session.flush()
            db.session.add(AnnexVersion(annex_id=annex.id, number=1, staff=Decimal("1"), equipment=Decimal("0"),
                                        missions=Decimal("0"), subcontracting=Decimal("0"), overheads=Decimal("0"),
                                        requested_aid=Decimal("1"), rate=Decimal("100"), digest="0" * 64))
            annexes.append((annex.id, p["state"], orgs[index]))
    expected = []
    for account, u in zip(accounts, spec["users"], strict=True):
        for kind, index in u["grants"]:
            db.session.add(PortalGrant(user_id=account.id, kind=kind, identifier=identifier(kind, index)))
        for kind, index in u["designated"]:
            db.session.add(AnnexReferent(kind=kind, identifier=identifier(kind, index), user_id=account.id))
        valid = {(kind, identifier(kind, index)) for kind, index in u["designated"] & u["grants"]}
        expected.append({annex_id for annex_id, state, org in annexes if state not in HIDDEN and (
            ("headquarters", org.siren) in valid or ("entity", org.siret) in valid)})
    db.session.commit()  # inside the test's transaction: the 404 answers roll back to here
    return [a[0] for a in annexes], expected


def check(client, token: str, annex_ids: list[int], expected: set[int]) -> None:
    g.pop("_login_user", None)  # requests share the test's app context: forget the other client's user
    listed, page = set(), 1
    while True:
        html = client.get(f"/portail/annexes/?toutes=1&page={page}").get_data(as_text=True)
        listed |= {int(n) for n in re.findall(r'href="/portail/annexes/(\d+)"', html)}
        if "Page suivante" not in html:
            break
        page += 1
    assert listed & set(annex_ids) == expected
    headers = {"Authorization": f"Bearer {token}"}
    api = client.get("/api/v1/annexes?per_page=200", headers=headers).get_json()
    assert {item["id"] for item in api["items"]} & set(annex_ids) == expected
    for annex_id in annex_ids:
        want = 200 if annex_id in expected else 404
        assert client.get(f"/portail/annexes/{annex_id}").status_code == want, annex_id
        assert client.get(f"/api/v1/annexes/{annex_id}", headers=headers).status_code == want, annex_id


def test_a_referent_never_reaches_an_annex_outside_their_designations(app, make_user):
    accounts = [make_user("requester") for _ in range(2)]
    clients, tokens = [], []
    for account in accounts:
        client = app.test_client()
        g.pop("_login_user", None)
        assert client.post("/connexion", data={"email": account.email, "password": PASSWORD}).status_code == 302
        clients.append(client)
        tokens.append(services.create_api_token(account, "hypothesis")[1])
    db.session.commit()  # inside the test's transaction: the 403 answers below roll back to here
    for client in clients:  # the agency's side, whatever the profiles
        g.pop("_login_user", None)
        for url in ("/agent/annexes/", "/agent/annexes/indicateurs", "/agent/annexes/indicateurs.csv",
                    "/agent/annexes/indicateurs.xlsx"):
            assert client.get(url).status_code == 403, url

    @settings(max_examples=15, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(worlds())
    def prop(spec):
        annex_ids, expected = build(spec, accounts)
        for client, token, seen in zip(clients, tokens, expected, strict=True):
            check(client, token, annex_ids, seen)

    prop()

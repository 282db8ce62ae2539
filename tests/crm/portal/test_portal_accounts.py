"""Portal accounts: registration by known e-mail, single-use expiring links, establishment profiles."""

from __future__ import annotations

from datetime import timedelta

import factories_crm
import pytest
import sqlalchemy as sa
from factories_crm import make_org, make_person, portal_user

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.demo.projects import COORDINATOR_EMAIL, UNIV_SIREN
from crm.organisations.models import OrgKind, Person
from crm.portal import signals
from crm.portal.models import PasswordToken, PortalGrant, ProfileRequest

demo, demo_dir = factories_crm.demo, factories_crm.demo_dir  # fixtures
NEUTRAL = "Si cette adresse est connue de l"


@pytest.fixture
def links():
    sent = []

    def receive(sender, user, url, reset=False):
        sent.append((user.email, url))

    with signals.password_link_requested.connected_to(receive):
        yield sent


def token_path(url: str) -> str:
    return url.removeprefix("http://localhost")


def test_known_email_gets_a_single_use_link(client, links, count_rows):
    person = make_person(email="chercheuse@labo.example")
    response = client.post("/portail/inscription", data={"email": "Chercheuse@Labo.example "},
                           follow_redirects=True)
    assert NEUTRAL in response.get_data(as_text=True)
    assert len(links) == 1 and links[0][0] == "chercheuse@labo.example"
    user = db.session.scalar(sa.select(User).where(User.email == "chercheuse@labo.example"))
    assert user.role_names == {"requester"} and person.user_id == user.id
    token = db.session.scalar(sa.select(PasswordToken).where(PasswordToken.user_id == user.id))
    clear = links[0][1].rsplit("/", 1)[1]
    assert token.token_hash != clear and clear not in token.token_hash  # stored hashed
    path = token_path(links[0][1])
    assert client.get(path).status_code == 200
    response = client.post(path, data={"password": "un-mot-de-passe-solide", "confirm": "un-mot-de-passe-solide"})
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    assert client.get(path).status_code == 410  # used
    login = client.post("/connexion", data={"email": user.email, "password": "un-mot-de-passe-solide"})
    assert login.status_code == 302


def test_unknown_email_gets_the_same_answer_and_nothing_else(client, links, count_rows):
    users = count_rows(User)
    response = client.post("/portail/inscription", data={"email": "inconnu@nulle-part.example"},
                           follow_redirects=True)
    assert NEUTRAL in response.get_data(as_text=True)
    assert links == [] and count_rows(User) == users


def test_expired_or_superseded_link_is_useless(client, links):
    make_person(email="p@labo.example")
    client.post("/portail/inscription", data={"email": "p@labo.example"})
    client.post("/portail/inscription", data={"email": "p@labo.example"})
    first, second = (token_path(url) for _e, url in links)
    assert client.get(first).status_code == 410  # a newer link replaced it
    token = db.session.scalars(sa.select(PasswordToken).order_by(PasswordToken.id.desc())).first()
    token.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    assert client.get(second).status_code == 410
    assert client.get("/portail/mot-de-passe/n-importe-quoi").status_code == 410


FORGOT = "Si un compte existe pour cette adresse"


def test_forgotten_password_by_a_single_use_link_and_the_same_answer_for_any_email(client, links, make_user):
    page = client.get("/connexion").get_data(as_text=True)
    assert 'href="/portail/mot-de-passe-oublie"' in page and 'href="/portail/inscription"' in page
    agent, gone = make_user("agent"), make_user("agent")
    gone.active = False
    db.session.flush()
    answers = [client.post("/portail/mot-de-passe-oublie", data={"email": email}, follow_redirects=True)
               for email in (agent.email.upper(), "personne@nulle-part.example", gone.email)]
    assert all(r.status_code == 200 and FORGOT in r.get_data(as_text=True) for r in answers)
    assert [email for email, _url in links] == [agent.email]  # neither the unknown nor the deactivated account
    assert client.post("/portail/mot-de-passe-oublie", data={"email": "pas-une-adresse"}).status_code == 422
    path = token_path(links[0][1])
    assert client.post(path, data={"password": "court", "confirm": "court"}).status_code == 200  # too short
    client.post(path, data={"password": "un-nouveau-mot-de-passe", "confirm": "un-nouveau-mot-de-passe"})
    assert client.get(path).status_code == 410  # single use
    assert client.post("/connexion", data={"email": agent.email, "password": "un-nouveau-mot-de-passe"}
                       ).status_code == 302


def test_weak_or_mismatched_password_is_refused(client, links):
    make_person(email="q@labo.example")
    client.post("/portail/inscription", data={"email": "q@labo.example"})
    path = token_path(links[0][1])
    assert client.post(path, data={"password": "court", "confirm": "court"}).status_code == 200
    response = client.post(path, data={"password": "un-mot-de-passe-solide", "confirm": "autre-chose-encore"})
    assert "diffèrent" in response.get_data(as_text=True)
    assert client.get(path).status_code == 200  # still usable


def test_profile_request_granted_by_an_admin(demo, client, make_user, login):
    person = db.session.scalar(sa.select(Person).where(Person.email == COORDINATOR_EMAIL))
    user = login(portal_user(make_user, person))
    before = client.get("/portail/").get_data(as_text=True)
    response = client.post("/portail/profils", data={"kind": "headquarters", "identifier": UNIV_SIREN,
                                                     "message": "Direction de la recherche"})
    assert response.status_code == 302
    bad = client.post("/portail/profils", data={"kind": "headquarters", "identifier": "123456789"})
    assert "clé de contrôle" in bad.get_data(as_text=True)
    client.post("/deconnexion")
    login(make_user("admin"))
    request = db.session.scalar(sa.select(ProfileRequest).where(ProfileRequest.user_id == user.id))
    assert UNIV_SIREN in client.get("/crm/admin/profils").get_data(as_text=True)
    assert client.post(f"/crm/admin/profils/demandes/{request.id}/accorder").status_code == 302
    assert request.state == "granted"
    grant = db.session.scalar(sa.select(PortalGrant).where(PortalGrant.user_id == user.id))
    assert (grant.kind, grant.identifier) == ("headquarters", UNIV_SIREN)
    client.post("/deconnexion")
    login(user)
    after = client.get("/portail/").get_data(as_text=True)
    assert int(after.split(" projets trouvés")[0].rsplit(">", 1)[1]) > int(
        before.split(" projets trouvés")[0].rsplit(">", 1)[1])


def test_admin_grants_and_revokes_directly(client, make_user, login):
    hq = make_org(OrgKind.HEADQUARTERS)
    officer = portal_user(make_user)
    login(make_user("admin"))
    response = client.post("/crm/admin/profils", data={"email": officer.email, "kind": "headquarters",
                                                       "identifier": "732829320"})
    assert response.status_code == 400 and "Aucun établissement connu" in response.get_data(as_text=True)
    response = client.post("/crm/admin/profils", data={"email": officer.email, "kind": "headquarters",
                                                       "identifier": hq.siren})
    assert response.status_code == 302
    grant = db.session.scalar(sa.select(PortalGrant).where(PortalGrant.user_id == officer.id))
    assert client.post(f"/crm/admin/profils/{grant.id}/retirer").status_code == 302
    assert db.session.get(PortalGrant, grant.id) is None


def test_profile_administration_is_for_admins(client, make_user, login):
    login(make_user("agent"))
    assert client.get("/crm/admin/profils").status_code == 403

"""Account administration (issue 13): create with a password link, roles and queues, deactivate, reset, history."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories_crm import make_person

from crm.core.changes import history
from crm.core.extensions import db
from crm.core.models import User
from notifications.models import OutboxMessage
from tests.test_table_regions import unreachable_tables
from tickets.admin.accounts import services as accounts
from tickets.models import Queue


def mails_to(email: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == email)
                                   .order_by(OutboxMessage.id)))


@pytest.fixture
def queue():
    row = Queue(slug="support-comptes", name="Support des comptes")
    db.session.add(row)
    db.session.flush()
    return row


def test_an_administrator_creates_edits_resets_and_deactivates_an_account(client, make_user, login, queue):
    admin = login(make_user("admin"))
    known = make_person(email="nouvelle.agente@test.example")
    response = client.post("/admin/comptes/nouveau", data={
        "email": " Nouvelle.Agente@Test.example", "name": "Nouvelle Agente", "roles": ["agent", "referent"],
        "queues": [str(queue.id)]})
    assert response.status_code == 302
    person = db.session.scalar(sa.select(User).where(User.email == "nouvelle.agente@test.example"))
    assert person.role_names == {"agent", "referent"} and person.password_hash is None
    assert accounts.queue_ids(person) == [queue.id] and known.user_id == person.id  # linked to the known person
    [invitation] = mails_to(person.email)
    assert "Votre compte Guichet" in invitation.subject and "/portail/mot-de-passe/" in invitation.body_text
    again = client.post("/admin/comptes/nouveau", data={"email": person.email, "name": "Doublon", "roles": ["agent"]})
    assert again.status_code == 422 and "Un compte existe déjà" in again.get_data(as_text=True)
    assert client.post("/admin/comptes/nouveau", data={"email": "x@test.example", "name": "X"}).status_code == 422

    listing = client.get("/admin/comptes?q=nouvelle&role=referent").get_data(as_text=True)
    assert "Nouvelle Agente" in listing and "Référent métier" in listing
    assert 'aria-label="Comptes, par nom"' in listing and unreachable_tables(listing) == []
    assert "Nouvelle Agente" not in client.get("/admin/comptes?q=nouvelle&role=manager").get_data(as_text=True)
    assert "Nouvelle Agente" not in client.get("/admin/comptes?q=nouvelle&etat=desactives").get_data(as_text=True)

    assert client.post(f"/admin/comptes/{person.id}", data={"name": "Nouvelle Agente", "roles": ["manager"]}
                       ).status_code == 302
    assert person.role_names == {"manager"} and accounts.queue_ids(person) == []
    assert client.post(f"/admin/comptes/{person.id}/lien").status_code == 302
    assert len(mails_to(person.email)) == 2
    assert client.post(f"/admin/comptes/{person.id}/desactiver").status_code == 302
    assert person.active is False
    records = history("user", person.id)
    assert [r.action for r in records] == ["deactivated", "password_link", "updated", "created"]
    assert all(r.actor_id == admin.id for r in records)
    assert records[2].changes["roles"] == [["agent", "referent"], ["manager"]]
    assert records[2].changes["queues"] == [["Support des comptes"], []]
    page = client.get(f"/admin/comptes/{person.id}").get_data(as_text=True)
    assert "Rôles" in page and "Agent de support, Référent métier → Responsable" in page
    assert "Réactiver le compte" in page and unreachable_tables(page) == []
    refused = client.post(f"/admin/comptes/{person.id}/lien", follow_redirects=True).get_data(as_text=True)
    assert "réactivez-le d&#39;abord" in refused and len(mails_to(person.email)) == 2


def test_no_self_deactivation_no_last_administrator_and_sessions_end(client, make_user, login):
    admin = make_user("admin", password=None)  # never logs in: no password to hash
    for other in db.session.scalars(sa.select(User).where(User.id != admin.id)):
        other.active = False  # the demo or other tests may have left administrators: this one is the last
    db.session.flush()
    with pytest.raises(accounts.AccountError, match="propre compte"):
        accounts.set_account_active(admin, False, by=admin)
    with pytest.raises(accounts.AccountError, match="dernier compte administrateur"):
        accounts.update_account(admin, admin.name, ["manager"], [], by=admin)
    deputy = make_user("admin", password=None)
    accounts.update_account(admin, admin.name, ["manager"], [], by=admin)  # another administrator remains
    with pytest.raises(accounts.AccountError, match="dernier compte administrateur"):
        accounts.set_account_active(deputy, False, by=admin)
    agent = login(make_user("agent"))
    assert client.get("/compte").status_code == 200
    accounts.set_account_active(agent, False, by=admin)
    assert client.get("/compte").status_code == 302  # the session ended
    assert client.post("/connexion", data={"email": agent.email, "password": "x"}).status_code == 200
    assert client.get("/admin/comptes").status_code == 302
    login(make_user("manager"))
    assert client.get("/admin/comptes").status_code == 403
    assert client.post(f"/admin/comptes/{deputy.id}/desactiver").status_code == 403
    assert deputy.active and admin.role_names == {"manager"}

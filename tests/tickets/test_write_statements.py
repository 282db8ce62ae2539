"""Every write an agent or a requester makes issues a bounded number of SQL statements and commits once.

The regression guard of issue 9 for the writes other than a submission (tests/tickets/test_submission_statements.py
holds those): each action goes through its real route, on a ticket prepared through the routes, and is counted
on the engine for the whole request (SAVEPOINT statements of the test transaction left out). The bounds are
what the write path reaches today (bench/write_statements.py gives the same counts, docs/benchmarks.md); lower
them when it improves, never raise them. Before this work: agent reply 13 on SQLite / 14 on PostgreSQL, resolve
12 / 13, requester reply 14 / 14, merge 15 / 13, auto-answer confirmed 15 / 15.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from tests.conftest import PASSWORD
from tests.tickets.test_submission_statements import _measured_post, triage_set_up  # noqa: F401 (fixture)
from tickets.models import Status, Ticket

REQUESTER = {"name": "Jean Demandeur", "email": "demandeur@labo.example"}
HUMAN = {"topic": "depot", "subject": "Problème de dépôt",
         "message": "Je n'arrive pas à téléverser mon document scientifique."}
AUTO = {"topic": "calendrier", "subject": "Date limite",
        "message": "Quelle est la date limite pour déposer ma proposition ?"}

#: action: (SQLite bound, PostgreSQL bound)
BOUNDS = {
    "agent-reply": (9, 10),
    "status-resolve": (9, 10),
    "requester-reply": (12, 12),
    "merge": (12, 10),
    "auto-confirm": (12, 12),
}


@pytest.fixture
def people(app, triage_set_up, make_user):  # noqa: F811
    agent = make_user("agent")
    requester = make_user("requester", email=REQUESTER["email"])
    db.session.commit()
    clients = {}
    for key, user in (("agent", agent), ("requester", requester)):
        clients[key] = app.test_client()
        response = clients[key].post("/connexion", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
    return clients


def _latest() -> Ticket:
    return db.session.scalar(sa.select(Ticket).order_by(Ticket.id.desc()).limit(1))


def _submit(client, form) -> str:
    """A request of the requester account, filed from `client` (the requester's own client may then follow it)."""
    assert client.post("/demande", data={**REQUESTER, **form}).status_code == 302
    return _latest().reference


def _agent(people, reference: str, action: str, data: dict | None = None) -> None:
    response = people["agent"].post(f"/agent/demandes/{reference}/{action}", data=data or {})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def _replied(people, next_status: str = "", client=None) -> str:
    reference = _submit(client or people["agent"], HUMAN)
    _agent(people, reference, "prendre")
    _agent(people, reference, "repondre", {"body": "Bonjour, pouvez-vous préciser ?", "next_status": next_status})
    return reference


def _prepare(action: str, people) -> tuple:
    """(client, path, data, check of the ticket afterwards)."""
    if action == "agent-reply":
        reference = _submit(people["agent"], HUMAN)
        _agent(people, reference, "prendre")
        return (people["agent"], f"/agent/demandes/{reference}/repondre",
                {"body": "Bonjour,\n\nLe bouton est grisé tant que le PDF dépasse 10 Mo.", "next_status": "",
                 "last_message": "1"},  # as the page sends it: the check of another agent's reply is free
                lambda t: t.first_responded_at is not None)
    if action == "status-resolve":
        reference = _replied(people)
        return people["agent"], f"/agent/demandes/{reference}/resoudre", {}, lambda t: t.status == Status.RESOLVED
    if action == "requester-reply":
        reference = _replied(people, Status.WAITING, people["requester"])
        return (people["requester"], f"/demandes/{reference}/repondre",
                {"body": "Le fichier fait 12 Mo, je le compresse."}, lambda t: t.status == Status.OPEN)
    if action == "merge":
        duplicate = _submit(people["agent"], HUMAN)
        target = _submit(people["agent"], HUMAN)
        return (people["agent"], f"/agent/demandes/{duplicate}/fusionner", {"target": target, "confirm": "1"},
                lambda t: t.merged_into_id is not None)
    reference = _submit(people["requester"], AUTO)
    assert _latest().status == Status.AUTO_ANSWERED
    return (people["requester"], f"/demandes/{reference}/reponse-automatique/resolue", {},
            lambda t: t.status == Status.RESOLVED)


@pytest.mark.parametrize("action", list(BOUNDS))
def test_each_write_stays_within_its_statement_budget(people, dialect, action):
    bound = BOUNDS[action][dialect == "postgresql"]
    client, path, data, check = _prepare(action, people)
    reference = path.split("/")[2 if path.startswith("/demandes/") else 3]
    statements, commits, response = _measured_post(client, data, path=path)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.expire_all()
    assert check(db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference)))
    assert commits == 1
    assert len(statements) <= bound, "\n".join([f"{len(statements)} statements (bound {bound}):", *statements])

"""Answers shared between establishments (issue 14, part 4): consent, anonymity, the experts' scope, moderation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.core.extensions import db, login_manager
from crm.core.models import ChangeRecord
from crm.core.services import create_user
from knowledge_base.models import Article, ArticleStatus
from notifications.models import OutboxMessage
from tests.factories_crm import make_org
from tickets.community import services
from tickets.community.anonymise import anonymise
from tickets.community.models import AnswerState, CommunityAnswer, CommunityQuestion
from tickets.models import AuthorKind, Message, Status, Ticket, TicketEvent
from tickets.views.public import CREATED_SESSION_KEY

REQUESTER = "Jeanne-Marie Vasseur"
BODY = ("Bonjour, je suis Jeanne-Marie Vasseur (jm.vasseur@labo.example, 06 12 34 56 78), projet "
        "ANR-24-CE01-0001, SIRET 123 456 789 00012. Comment demander une prolongation de six mois ?")


def test_anonymise_masks_what_names_the_requester():
    text = anonymise(BODY + " IBAN FR76 3000 6000 0112 3456 7890 189, DEM-2026-000123, https://x.example/a. "
                     "Cordialement, J. Vasseur", [REQUESTER])
    for secret in ("Jeanne", "Marie", "Vasseur", "jm.vasseur", "06 12", "ANR-24", "123 456", "FR76", "DEM-2026",
                   "x.example"):
        assert secret not in text, secret
    assert "prolongation de six mois" in text and "[nom masqué]" in text and "[adresse masquée]" in text
    assert anonymise("Le délai de dépôt est-il prolongé ?", ["Dé Lai"]) == "Le délai de dépôt est-il prolongé ?"


class _Client:
    """A test client whose every request has its own app context: the test's would keep the first user in ``g``."""

    def __init__(self, app, user=None):
        self.app, self.client = app, app.test_client()
        if user is not None:  # signed in as the login page would, without its slow password check
            with self.app.test_request_context(environ_base=self.client.environ_base):
                identifier = login_manager._session_identifier_generator()  # "strong" session protection
            with self.client.session_transaction() as session:
                session.update({"_user_id": user.get_id(), "_fresh": True, "_id": identifier})

    def get(self, url, **kwargs):
        with self.app.app_context():
            return self.client.get(url, **kwargs)

    def post(self, url, **kwargs):
        with self.app.app_context():
            return self.client.post(url, **kwargs)


def _client(app, user=None) -> _Client:
    return _Client(app, user)


def _user(role: str, name: str | None = None):
    """An account without a password (hashing one costs most of a test): the clients sign it in directly."""
    _user.n = getattr(_user, "n", 0) + 1
    return create_user(f"{role}{_user.n}@communaute.example", name or f"{role.title()} {_user.n}", [role])


@pytest.fixture
def space(app, make_ticket):
    """Three requests (consented, never consented, withdrawn), a designated expert, a référent, an agent."""
    referent, manager, agent = (_user("referent", name="Sophie Référente"), _user("manager"), _user("agent"))
    expert, outsider = _user("requester", name="Claire Experte"), _user("requester")
    university = make_org(name="Université Exemple")
    services.designate_expert(expert, university, by=manager)
    shared = make_ticket(subject="Prolongation — Jeanne-Marie Vasseur", body=BODY, requester_name=REQUESTER,
                         requester_email="jm.vasseur@labo.example")
    private = make_ticket(subject="Question privée sur mon budget")
    withdrawn = make_ticket(subject="Question retirée de la communauté")
    question = services.give_consent(shared)
    services.give_consent(withdrawn)
    gone = services.withdraw_consent(withdrawn)
    db.session.flush()
    return {"expert": expert, "referent": referent, "manager": manager, "agent": agent, "outsider": outsider,
            "university": university, "shared": shared, "private": private, "withdrawn": withdrawn,
            "question": question, "gone": gone}


def test_only_experts_see_the_space_and_only_consented_questions_anonymised(app, space):
    anonymous = _client(app)
    assert anonymous.get("/communaute/").status_code == 302  # to the login page
    for who in ("outsider", "agent"):
        client = _client(app, space[who])
        assert client.get("/communaute/").status_code == 403, who
        assert client.get(f"/communaute/questions/{space['question'].id}").status_code == 403, who
    expert = _client(app, space["expert"])
    listing = expert.get("/communaute/").get_data(as_text=True)
    assert "Prolongation" in listing and "privée" not in listing and "retirée" not in listing
    page = expert.get(f"/communaute/questions/{space['question'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "prolongation de six mois" in html
    for identity in ("Vasseur", "Jeanne", "jm.vasseur", "06 12 34", "ANR-24-CE01", "123 456 789",
                     space["shared"].reference):
        assert identity not in html, identity
    assert expert.get(f"/communaute/questions/{space['gone'].id}").status_code == 404
    assert expert.get("/communaute/moderation").status_code == 403
    assert expert.post("/communaute/reponses/1/moderer", data={"decision": "accept"}).status_code == 403
    assert expert.get("/communaute/experts").status_code == 403
    assert expert.get("/communaute/questions/999999").status_code == 404
    # the ticket closed, the question leaves the space too
    space["shared"].status = Status.CLOSED
    db.session.flush()
    assert expert.get(f"/communaute/questions/{space['question'].id}").status_code == 404


def test_answer_endorse_accept_reaches_the_requester_and_the_knowledge_base(app, space, count_rows):
    question, ticket = space["question"], space["shared"]
    expert, referent = _client(app, space["expert"]), _client(app, space["referent"])
    short = expert.post(f"/communaute/questions/{question.id}", data={"body": "Trop court"})
    assert short.status_code == 422 and "entre 20 et 5000 caractères" in short.get_data(as_text=True)
    body = "Déposez la demande de prolongation dans l'espace projet, avec un calendrier révisé."
    assert expert.post(f"/communaute/questions/{question.id}", data={"body": body}).status_code == 302
    answer = db.session.scalar(sa.select(CommunityAnswer).where(CommunityAnswer.question_id == question.id))
    assert answer.credit == "Claire Experte, Université Exemple" and answer.state == AnswerState.PROPOSED
    assert expert.post(f"/communaute/reponses/{answer.id}/soutenir").status_code == 302  # refused: their own
    assert referent.post(f"/communaute/reponses/{answer.id}/soutenir").status_code == 302
    assert referent.post(f"/communaute/reponses/{answer.id}/soutenir").status_code == 302  # once only
    db.session.expire_all()
    assert [e.user_id for e in answer.endorsements] == [space["referent"].id]
    assert "Claire Experte" in referent.get("/communaute/moderation").get_data(as_text=True)
    assert referent.post(f"/communaute/reponses/{answer.id}/moderer", data={"decision": "accept"}).status_code == 302
    db.session.expire_all()
    assert answer.state == AnswerState.ACCEPTED and answer.moderated_by_id == space["referent"].id
    reply = db.session.get(Message, answer.message_id)
    assert reply.author_kind == AuthorKind.STAFF and not reply.internal
    assert reply.body.startswith("Réponse de la communauté — Claire Experte, Université Exemple") and body in reply.body
    assert ticket.first_responded_at is not None  # the first-response clock stopped by the normal reply path
    assert count_rows(OutboxMessage, OutboxMessage.ticket_id == ticket.id,
                      OutboxMessage.recipient == ticket.requester_email) >= 2  # acknowledgement, then the answer
    article = db.session.scalar(sa.select(Article).where(Article.external_id == answer.article_external_id))
    assert article.status == ArticleStatus.DRAFT and article.created_by_id == space["expert"].id
    assert article.meta["source"] == {"kind": "community_answer", "answer": answer.id, "ticket": ticket.reference,
                                      "author": "Claire Experte", "establishment": "Université Exemple"}
    assert "Vasseur" not in article.question and "Claire Experte, Université Exemple" in article.answer
    kinds = [e.kind for e in db.session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    for kind in ("community_consent", "community_answer", "community_endorsement", "reply", "community_accepted"):
        assert kind in kinds, kind
    assert expert.get(f"/communaute/questions/{question.id}").status_code == 404  # answered: out of the space
    timeline = referent.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Réponse de la communauté acceptée et transmise" in timeline


def test_a_refusal_needs_a_reason_that_its_author_reads(app, space):
    answer = services.propose_answer(space["question"], author=space["expert"],
                                     body="Il suffit d'écrire à l'agence, elle vous répondra.")
    referent = _client(app, space["referent"])
    missing = referent.post(f"/communaute/reponses/{answer.id}/moderer", data={"decision": "reject", "reason": ""})
    assert missing.status_code == 422 and "Indiquez la raison du refus" in missing.get_data(as_text=True)
    done = referent.post(f"/communaute/reponses/{answer.id}/moderer",
                         data={"decision": "reject", "reason": "Expliquez la démarche pas à pas."})
    assert done.status_code == 302
    db.session.expire_all()
    assert answer.state == AnswerState.REJECTED and answer.message_id is None
    assert "Expliquez la démarche pas à pas." in _client(app, space["expert"]).get("/communaute/").get_data(
        as_text=True)
    assert not [m for m in space["shared"].messages if m.author_kind == AuthorKind.STAFF]
    with pytest.raises(services.CommunityError):
        services.accept_answer(answer, by=space["referent"])  # moderated once
    with pytest.raises(services.CommunityError):
        services.reject_answer(services.propose_answer(space["question"], author=space["referent"], body="x" * 30),
                               by=space["expert"], reason="Pas compétent pour modérer.")


def test_consent_from_the_follow_page_and_the_agents_opening(app, space):
    ticket = space["private"]
    requester = _client(app)
    requester.get(f"/demandes/{ticket.reference}?cle={ticket.access_key}")
    page = requester.get(f"/demandes/{ticket.reference}").get_data(as_text=True)
    assert "ouverte à la communauté des experts des établissements (anonymisée)" in page
    with requester.client.session_transaction() as session:  # the confirmation page, right after the submission
        session[CREATED_SESSION_KEY] = {"reference": ticket.reference, "link": "/", "email": ticket.requester_email}
    sent = requester.get("/demande/envoyee").get_data(as_text=True)
    assert f'action="/demandes/{ticket.reference}/communaute"' in sent
    agent = _client(app, space["agent"])
    agent.post(f"/agent/demandes/{ticket.reference}/communaute/ouvrir")
    assert db.session.scalar(sa.select(CommunityQuestion).where(CommunityQuestion.ticket_id == ticket.id)) is None
    assert requester.post(f"/demandes/{ticket.reference}/communaute", data={"consent": "y"}).status_code == 302
    question = db.session.scalar(sa.select(CommunityQuestion).where(CommunityQuestion.ticket_id == ticket.id))
    assert question.consent and question.is_open
    agent.post(f"/agent/demandes/{ticket.reference}/communaute/fermer")
    db.session.expire_all()
    assert not question.is_open
    agent.post(f"/agent/demandes/{ticket.reference}/communaute/ouvrir")
    db.session.expire_all()
    assert question.is_open
    assert requester.post(f"/demandes/{ticket.reference}/communaute", data={}).status_code == 302  # withdrawn
    db.session.expire_all()
    assert not question.consent and not question.is_open
    with pytest.raises(services.CommunityError):
        services.open_question(ticket, by=space["agent"])
    assert _client(app).post(f"/demandes/{ticket.reference}/communaute", data={"consent": "y"}).status_code == 404
    kinds = [e.kind for e in ticket.events]
    assert kinds.count("community_consent") == 1 and "community_closed" in kinds and "community_withdrawn" in kinds


def test_managers_designate_experts_with_clear_errors(app, space):
    person = _user("requester", name="Nouvel Expert")
    assert _client(app, space["referent"]).get("/communaute/experts").status_code == 403
    manager = _client(app, space["manager"])
    assert "Claire Experte" in manager.get("/communaute/experts").get_data(as_text=True)
    bad = manager.post("/communaute/experts", data={"email": "personne@nulle.part", "establishment": "000"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Aucun compte" in html and "Aucun établissement" in html
    staff = manager.post("/communaute/experts", data={"email": space["agent"].email,
                                                      "establishment": space["university"].siret})
    assert staff.status_code == 422 and "référents sont experts" in staff.get_data(as_text=True)
    ok = manager.post("/communaute/experts", data={"email": person.email, "establishment": space["university"].siret})
    assert ok.status_code == 302
    designation = services.queries.expert_designation(person)
    assert designation.organisation_id == space["university"].id
    assert db.session.scalar(sa.select(ChangeRecord).where(ChangeRecord.object_type == "community_expert",
                                                           ChangeRecord.object_id == designation.id))
    assert manager.post(f"/communaute/experts/{designation.id}/retirer").status_code == 302
    assert services.queries.expert_designation(person) is None


def test_the_api_follows_the_same_scope_with_problem_details(app, space):
    from crm.core.services import create_api_token

    def call(method, url, who, **kwargs):
        token = create_api_token(space[who], "tests")[1]
        with app.app_context():
            return app.test_client().open("/api/v1/community" + url, method=method,
                                          headers={"Authorization": f"Bearer {token}"}, **kwargs)

    refused = call("GET", "/questions", "outsider")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    listing = call("GET", "/questions", "expert").get_json()
    assert [q["id"] for q in listing["items"]] == [space["question"].id] and listing["total"] == 1
    assert "Vasseur" not in listing["items"][0]["subject"]
    detail = call("GET", f"/questions/{space['question'].id}", "expert").get_json()
    assert "prolongation de six mois" in detail["body"] and "Vasseur" not in detail["body"]
    assert call("GET", f"/questions/{space['gone'].id}", "expert").status_code == 404
    assert call("GET", "/questions?topic=inconnu", "expert").status_code == 422
    short = call("POST", f"/questions/{space['question'].id}/answers", "expert", json={"body": "court"})
    assert short.status_code == 422 and short.mimetype == "application/problem+json"
    body = "Déposez la demande dans l'espace projet avec un calendrier révisé."
    created = call("POST", f"/questions/{space['question'].id}/answers", "expert", json={"body": body})
    assert created.status_code == 201 and created.get_json()["establishment"] == "Université Exemple"
    answer_id = created.get_json()["id"]
    assert call("POST", f"/answers/{answer_id}/endorsement", "expert").status_code == 409  # their own
    assert call("POST", f"/answers/{answer_id}/endorsement", "referent").get_json()["endorsements"] == 1


def test_the_request_form_carries_the_consent_unticked_by_default(app, space):
    form = {"name": "Jeanne Martin", "email": "jeanne.martin@labo.example", "topic": "depot", "website": "",
            "message": "Bonjour, comment faire financer un post-doctorat sur deux établissements ?"}
    visitor = _client(app)
    page = visitor.get("/demande").get_data(as_text=True)
    assert 'name="community"' in page and 'name="community" type="checkbox" value="y" checked' not in page
    db.session.commit()  # the fixtures' rows stay whatever the submissions do (savepoint released)
    for subject, ticked in (("Question ouverte aux experts", True), ("Question gardée pour l'agence", False)):
        data = {**form, "subject": subject, **({"community": "y"} if ticked else {})}
        assert visitor.post("/demande", data=data).status_code == 302
    questions = dict(db.session.execute(sa.select(Ticket.subject, CommunityQuestion.consent).join(
        CommunityQuestion, CommunityQuestion.ticket_id == Ticket.id, isouter=True).where(
        Ticket.subject.in_(["Question ouverte aux experts", "Question gardée pour l'agence"]))).all())
    assert questions == {"Question ouverte aux experts": True, "Question gardée pour l'agence": None}


def test_anonymise_masks_any_funding_reference_the_linking_recognises():
    assert anonymise("Mon projet ERC-23-ADG-0042 (et ANR-24-CE01-0001)") == \
        "Mon projet [référence masquée] (et [référence masquée])"

"""Satisfaction surveys: single-use expiring link without login, follow-up on low scores, reports, pages."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from crm.core.extensions import db, utcnow
from crm.core.security import token_digest
from crm.portal.exports import XLSX_MIMETYPE
from notifications.models import Notification
from tickets import services, surveys
from tickets.models import FollowUp, FollowUpStatus, Survey


@pytest.fixture
def resolved(make_ticket, make_user, reference_data):
    """A ticket answered by an agent, resolved, with the survey token in clear."""

    def _make(topic="depot", agent=None):
        manager = reference_data["queues"]["support"].manager or make_user("manager")
        reference_data["queues"]["support"].manager = manager
        agent = agent or make_user("agent")
        ticket = make_ticket(topic=topic)
        services.reply_to_ticket(ticket, author=agent, body="Réponse")
        services.resolve_ticket(ticket, by=agent)
        db.session.flush()
        survey = db.session.scalar(sa.select(Survey).where(Survey.ticket_id == ticket.id))
        # Tokens are stored hashed: make a fresh one for the test and store its hash.
        token = "jeton-de-test-" + str(survey.id)
        survey.token_hash = token_digest(token)
        db.session.flush()
        return ticket, survey, token, agent, manager

    return _make


def test_token_is_stored_hashed_and_snapshot_taken(resolved):
    ticket, survey, token, agent, _manager = resolved()
    assert token not in survey.token_hash
    assert surveys.survey_by_token(token).id == survey.id
    assert (survey.queue_id, survey.agent_id, survey.topic_id) == (ticket.queue_id, agent.id, ticket.topic_id)


def test_answer_once_only(resolved):
    _ticket, survey, _token, _agent, _manager = resolved()
    assert surveys.answer_survey(survey, 5, "Parfait") is None
    with pytest.raises(surveys.SurveyError, match="déjà répondu"):
        surveys.answer_survey(survey, 1)
    db.session.refresh(survey)
    assert (survey.score, survey.comment) == (5, "Parfait")


def test_expired_link_is_refused(resolved):
    _ticket, survey, _token, _agent, _manager = resolved()
    with pytest.raises(surveys.SurveyError, match="expiré"):
        surveys.answer_survey(survey, 4, now=survey.expires_at + timedelta(seconds=1))


def test_low_score_opens_a_follow_up_for_the_queue_manager(resolved):
    ticket, survey, _token, _agent, manager = resolved()
    follow_up = surveys.answer_survey(survey, 2, "Réponse incomplète")
    assert follow_up.manager_id == manager.id and follow_up.status == FollowUpStatus.OPEN
    [note] = db.session.scalars(sa.select(Notification).where(Notification.user_id == manager.id,
                                                              Notification.kind == "survey_low")).all()
    assert ticket.reference in note.title and note.body == "Réponse incomplète"
    assert surveys.open_follow_ups(manager) == [follow_up]
    assert any(e.kind == "satisfaction" for e in ticket.events)


def test_report_per_queue_agent_and_topic(resolved, make_user):
    alice, bob = make_user("agent", name="Alice"), make_user("agent", name="Bob")
    for agent, topic, score in [(alice, "depot", 5), (alice, "depot", 4), (bob, "portail", 1)]:
        _t, survey, _tok, _a, _m = resolved(topic=topic, agent=agent)
        surveys.answer_survey(survey, score)
    resolved()  # never answered: not counted
    by_agent = {r.label: r for r in surveys.satisfaction_report("agent")}
    assert (by_agent["Alice"].answers, by_agent["Alice"].average, by_agent["Alice"].satisfied) == (2, 4.5, 2)
    assert (by_agent["Bob"].answers, by_agent["Bob"].low) == (1, 1)
    [support] = surveys.satisfaction_report("queue")
    assert support.answers == 3 and support.average == pytest.approx(3.33, abs=0.01)
    by_topic = {r.label: r.answers for r in surveys.satisfaction_report("topic")}
    assert by_topic == {"Dépôt d'une proposition": 2, "Compte et portail projets": 1}


def test_survey_page_needs_no_login_and_is_single_use(client, resolved):
    _ticket, survey, token, _agent, _manager = resolved()
    page = client.get(f"/enquete/{token}?note=4")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="4" checked' in html or 'checked value="4"' in html or "checked" in html
    answered = client.post(f"/enquete/{token}", data={"score": "4", "comment": "Merci"})
    assert answered.status_code == 200 and "Merci pour votre avis" in answered.get_data(as_text=True)
    db.session.refresh(survey)
    assert survey.score == 4
    again = client.get(f"/enquete/{token}")
    assert "déjà répondu" in again.get_data(as_text=True)
    assert client.post(f"/enquete/{token}", data={"score": "1"}).status_code == 200
    db.session.refresh(survey)
    assert survey.score == 4
    assert client.get("/enquete/inconnu").status_code == 404


def test_survey_page_rejects_a_missing_score(client, resolved):
    _ticket, _survey, token, _agent, _manager = resolved()
    response = client.post(f"/enquete/{token}", data={"score": "9"})
    assert response.status_code == 422


def test_expired_survey_page(client, resolved):
    _ticket, survey, token, _agent, _manager = resolved()
    survey.expires_at = utcnow() - timedelta(days=1)
    db.session.flush()
    response = client.get(f"/enquete/{token}")
    assert response.status_code == 410 and "expiré" in response.get_data(as_text=True)


def test_manager_page_shows_results_and_closes_follow_ups(client, login, resolved, make_user):
    _ticket, survey, _token, agent, manager = resolved()
    surveys.answer_survey(survey, 1, "Très déçu")
    assert client.get("/responsable/satisfaction").status_code == 302  # login required
    login(agent)
    assert client.get("/responsable/satisfaction").status_code == 403
    client.post("/deconnexion")
    login(manager)
    html = client.get("/responsable/satisfaction").get_data(as_text=True)
    assert "Très déçu" in html and agent.name in html and "Support aux porteurs de projets" in html
    follow_up = db.session.scalar(sa.select(FollowUp))
    response = client.post(f"/responsable/satisfaction/suivis/{follow_up.id}/traite")
    assert response.status_code == 302
    db.session.refresh(follow_up)
    assert follow_up.status == FollowUpStatus.DONE


def test_manager_page_overall_score_over_a_chosen_period_and_its_evolution(client, login, resolved):
    _ticket, low, _token, _agent, manager = resolved()
    surveys.answer_survey(low, 1, "Très déçu")
    _ticket, high, _token, _agent, _manager = resolved()
    surveys.answer_survey(high, 5)
    _ticket, old, _token, _agent, _manager = resolved()
    surveys.answer_survey(old, 4, now=utcnow() - timedelta(days=60))  # before the default 30 days
    login(manager)
    page = client.get("/responsable/satisfaction").get_data(as_text=True)
    overall = page[page.index('id="note-globale"'):page.index("</h3>", page.index("Évolution"))]
    assert "3 / 5" in overall and "50\xa0%" in overall  # 1 and 5: the answer of two months ago is left out
    start = page.index('id="serie-satisfaction"')
    rows = re.findall(r'<tr><th scope="row">[^<]+</th><td>(\d+)</td><td>([^<]+)</td>',
                      page[start:page.index("</table>", start)])
    assert rows[-1] == ("2", "3") and sum(int(n) for n, _average in rows) == 2
    chart = re.search(r"<line-chart x='([^']*)' y='([^']*)'", page)
    assert json.loads(chart.group(2))[0][-1] == 3.0
    today = utcnow().date()
    wide = client.get("/responsable/satisfaction", query_string={"du": (today - timedelta(days=90)).isoformat(),
                                                                  "au": today.isoformat()}).get_data(as_text=True)
    assert "3,33 / 5" in wide and "Évolution semaine par semaine" in wide
    bad = client.get("/responsable/satisfaction", query_string={"du": "hier", "au": today.isoformat()})
    assert bad.status_code == 422 and "date de début valide" in bad.get_data(as_text=True)
    assert "Très déçu" in bad.get_data(as_text=True)  # the follow-ups stay shown
    assert client.get("/responsable/satisfaction/evolution.csv", query_string={"du": "hier"}).status_code == 422
    sheet = client.get("/responsable/satisfaction/evolution.xlsx")
    assert sheet.mimetype == XLSX_MIMETYPE and "guichet-satisfaction-evolution-" in sheet.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Du", "Au", "Réponses") and rows[-1][2:6] == (2, 3, 0.5, 1)  # numbers, not text
    by_queue = client.get("/responsable/satisfaction/par-file.csv").data.decode("utf-8-sig").splitlines()
    assert by_queue[1] == "Support aux porteurs de projets;2;3,0;50,0 %;1"

"""Pages: the notification list and bell, preferences, the admin outbox and incoming mail."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from notifications import services as notif
from notifications.models import DeliveryMode, Notification, OutboxMessage, OutboxStatus
from tickets import services


def test_notification_list_bell_and_open(client, login, make_ticket, make_user):
    agent, boss = make_user("agent"), make_user("manager")
    ticket = make_ticket()
    services.assign_ticket(ticket, agent, by=boss)
    login(agent)
    html = client.get("/notifications").get_data(as_text=True)
    assert ticket.reference in html
    assert 'fr-badge--new">1<span class="fr-sr-only">' in html  # the bell's unread count
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == agent.id))
    response = client.get(f"/notifications/{note.id}")
    assert response.status_code == 302 and response.location.endswith(f"/agent/demandes/{ticket.reference}")
    assert notif.unread_count(agent) == 0


def test_someone_elses_notification_is_not_found(client, login, make_ticket, make_user):
    agent, other, boss = make_user("agent"), make_user("agent"), make_user("manager")
    services.assign_ticket(make_ticket(), agent, by=boss)
    note = db.session.scalar(sa.select(Notification))
    login(other)
    assert client.get(f"/notifications/{note.id}").status_code == 404


def test_requesters_have_no_notification_pages(client, login, make_user):
    login(make_user("requester"))
    assert client.get("/notifications").status_code == 403


def test_mark_all_read(client, login, make_ticket, make_user):
    agent, boss = make_user("agent"), make_user("manager")
    for _ in range(2):
        services.assign_ticket(make_ticket(), agent, by=boss)
    login(agent)
    assert client.post("/notifications/lues").status_code == 302
    assert notif.unread_count(agent) == 0


def test_preferences_page(client, login, make_user):
    agent = make_user("agent")
    login(agent)
    assert "Un récapitulatif par jour" in client.get("/notifications/preferences").get_data(as_text=True)
    assert client.post("/notifications/preferences", data={"mode": "digest"}).status_code == 302
    assert notif.delivery_mode(agent) == DeliveryMode.DIGEST
    assert client.post("/notifications/preferences", data={"mode": "autre"}).status_code == 422


def test_admin_sees_failed_mails_first_and_can_retry(client, login, make_ticket, make_user):
    first = make_ticket(subject="Première")
    second = make_ticket(subject="Seconde")
    failed = db.session.scalar(sa.select(OutboxMessage).order_by(OutboxMessage.id))
    failed.status, failed.last_error, failed.attempts = OutboxStatus.FAILED, "550 boîte inconnue", 8
    db.session.flush()
    login(make_user("agent"))
    assert client.get("/admin/envois").status_code == 403
    client.post("/deconnexion")
    login(make_user("admin"))
    html = client.get("/admin/envois").get_data(as_text=True)
    # the acknowledgements to unconfirmed addresses do not repeat the subject: found by their reference
    assert html.index(first.reference) < html.index(second.reference) and "550 boîte inconnue" in html
    assert client.post(f"/admin/envois/{failed.id}/reessayer").status_code == 302
    db.session.refresh(failed)
    assert (failed.status, failed.attempts) == (OutboxStatus.PENDING, 0)
    assert client.get("/admin/courriels-recus").status_code == 200


def test_agent_ticket_page_shows_mails_and_satisfaction(client, login, make_ticket, make_user):
    from tickets import surveys
    from tickets.models import Survey

    agent = make_user("agent")
    ticket = make_ticket()
    services.reply_to_ticket(ticket, author=agent, body="Réponse")
    services.resolve_ticket(ticket, by=agent)
    surveys.answer_survey(db.session.scalar(sa.select(Survey)), 5, "Parfait")
    login(agent)
    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Courriels et satisfaction" in html and "Satisfaction : 5/5" in html and "Parfait" in html


def test_organisation_panel_summarises_satisfaction(app, make_ticket, make_user):
    from tickets import surveys
    from tickets.models import Survey

    ticket = make_ticket()
    services.resolve_ticket(ticket, by=make_user("agent"))
    survey = db.session.scalar(sa.select(Survey))
    survey.organisation_id = 999
    surveys.answer_survey(survey, 4, "Bien")

    class Organisation:
        id = 999

    with app.test_request_context():
        html = str(surveys.organisation_panel(Organisation()))
    assert "1 réponse(s), note moyenne 4/5, 100 % de satisfaits." in html and ticket.reference in html
    assert any(panel is surveys.organisation_panel for _o, panel in app.extensions["guichet.org_panels"])


def test_outbox_tells_the_sending_error_in_plain_french_the_technical_text_on_demand(client, login, make_ticket,
                                                                                    make_user):
    make_ticket(subject="Première")
    failed = db.session.scalar(sa.select(OutboxMessage).order_by(OutboxMessage.id))
    failed.status, failed.attempts = OutboxStatus.FAILED, 8
    failed.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
    db.session.flush()
    login(make_user("admin"))
    html = client.get("/admin/envois").get_data(as_text=True)
    reason = "Le serveur de messagerie refuse la connexion (arrêté ou mal configuré)."
    assert reason in html
    assert html.index("<details>") < html.index("ConnectionRefusedError: [Errno 111]") < html.index("</details>")
    assert html.index(reason) < html.index("<details>")

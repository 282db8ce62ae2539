"""A request entered by an agent for a requester who called or wrote (issue 13): channel recorded, agent credited."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.extensions import db
from notifications.models import OutboxMessage
from tickets.models import Channel, Ticket


def test_agent_enters_a_phone_request_for_a_requester(client, reference_data, make_user, login):
    login(make_user("agent", name="Alice Agent"))
    assert client.get("/agent/nouvelle-demande").status_code == 200

    refused = client.post("/agent/nouvelle-demande", data={"channel": "phone", "email": "pas-une-adresse"})
    assert refused.status_code == 422 and "Adresse électronique invalide." in refused.get_data(as_text=True)

    answer = client.post("/agent/nouvelle-demande", data={
        "channel": "phone", "name": "Paul Appelant", "email": "paul@labo.example", "topic": "depot",
        "priority": "high", "subject": "Appel au sujet du dépôt", "message": "Il ne trouve pas le bouton."})
    assert answer.status_code == 302
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.requester_email == "paul@labo.example"))
    assert answer.headers["Location"].endswith(f"/agent/demandes/{ticket.reference}")
    assert (ticket.channel, ticket.priority, ticket.requester_name) == (Channel.PHONE, "high", "Paul Appelant")
    assert db.session.scalar(sa.select(OutboxMessage.kind).where(OutboxMessage.ticket_id == ticket.id)) == "ack"
    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    assert "Téléphone" in html and "Alice Agent, " in html  # the channel, and the agent credited for the request

    # « Saisir une autre demande pour cette personne » on that page: the form comes with the requester filled in
    link = html.split('id="autres-demandes"')[1].split("</section>")[0].split('href="')[-1].split('"')[0]
    again = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="paul@labo.example"' in again and 'value="Paul Appelant"' in again

"""Collision warning (issue 13): the ticket page says which other agent is on it, since when, and if writing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.core.extensions import db
from tickets import services
from tickets.presence.models import TicketPresence
from tickets.presence.services import PRESENCE_SECONDS, others_present, record_presence

NINE = datetime(2026, 11, 2, 9, 42, tzinfo=UTC)  # 10:42 in Paris


def test_presence_rows_visits_and_expiry(make_ticket, make_user):
    ticket = make_ticket()
    marie, me = make_user("agent", name="Marie Dupont"), make_user("agent", name="Moi")
    record_presence(ticket, marie, now=NINE)
    record_presence(ticket, marie, replying=True, now=NINE + timedelta(minutes=1))
    record_presence(ticket, marie, now=NINE + timedelta(minutes=2))  # still writing: replying stays set
    [seen] = others_present(ticket, me, now=NINE + timedelta(minutes=3))
    assert (seen.user.name, seen.since, seen.replying) == ("Marie Dupont", NINE, True)
    assert others_present(ticket, marie, now=NINE + timedelta(minutes=3)) == []  # not oneself

    gone = NINE + timedelta(minutes=2, seconds=PRESENCE_SECONDS + 1)
    assert others_present(ticket, me, now=gone) == []
    record_presence(ticket, marie, now=gone)  # a new visit: since and replying start again
    db.session.expire_all()
    row = db.session.get(TicketPresence, (ticket.id, marie.id))
    assert (row.since, row.replying) == (gone, False)


def test_the_page_warns_of_another_agent_and_the_ping_answers_who_is_there(client, make_ticket, make_user,
                                                                            login):
    ticket = make_ticket()
    marie = make_user("agent", name="Marie Dupont")
    since = datetime.now(UTC) - timedelta(seconds=30)
    record_presence(ticket, marie, now=since)
    login(make_user("agent", name="Alice Agent"))

    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    panel = html.split('id="presence"')[1].split("</section>")[0]
    paris = since.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    assert f"Marie Dupont consulte cette demande depuis {paris}." in panel
    assert "presence.js" in panel and f'data-url="/agent/demandes/{ticket.reference}/presence"' in panel

    answer = client.post(f"/agent/demandes/{ticket.reference}/presence", data={"replying": "1"})
    assert answer.status_code == 200 and "Marie Dupont consulte" in answer.json["html"]
    assert others_present(ticket, marie)[0].replying  # Alice, seen writing a reply
    assert client.post("/agent/demandes/DEM-0000-000000/presence").status_code == 404


def test_a_reply_sent_meanwhile_by_another_agent_stops_mine_and_keeps_my_draft(client, make_ticket, make_user, login):
    ticket = make_ticket()
    marie = make_user("agent", name="Marie Dupont")
    login(make_user("agent", name="Alice Agent"))
    page = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    [seen] = re.findall(r'name="last_message" type="hidden" value="(\d+)"', page)
    services.reply_to_ticket(ticket, author=marie, body="Réponse de Marie.")
    db.session.commit()
    count = len(ticket.messages)

    draft = {"body": "Mon brouillon <important>", "next_status": "", "last_message": seen}
    refused = client.post(f"/agent/demandes/{ticket.reference}/repondre", data=draft)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Marie Dupont a répondu au demandeur pendant que vous rédigiez" in html
    assert "Mon brouillon &lt;important&gt;</textarea>" in html  # the draft kept, escaped
    db.session.expire_all()
    assert len(ticket.messages) == count
    [newer] = re.findall(r'name="last_message" type="hidden" value="(\d+)"', html)
    assert int(newer) > int(seen)

    sent = client.post(f"/agent/demandes/{ticket.reference}/repondre", data={**draft, "last_message": newer})
    assert sent.status_code == 302  # read, sent on purpose


@pytest.mark.parametrize("seen", ["99999999999999999999", "²", "-1"])
def test_a_last_message_id_no_database_holds_skips_the_check_without_an_error(client, make_ticket, make_user, login,
                                                                                seen):
    ticket = make_ticket()
    login(make_user("agent"))
    sent = client.post(f"/agent/demandes/{ticket.reference}/repondre",
                       data={"body": "Bonjour, voici la réponse.", "next_status": "", "last_message": seen})
    assert sent.status_code == 302

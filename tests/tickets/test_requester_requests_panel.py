"""The ticket page's « Autres demandes du demandeur » panel (issue 13): same address or account, not the others."""

from __future__ import annotations

from crm.core.extensions import db
from tickets import identity


def test_the_requesters_other_requests_are_listed_newest_first(client, make_ticket, make_user, login):
    login(make_user("agent"))
    requester = make_user("requester", email="compte@labo.example")
    older = make_ticket(subject="Première question")
    ticket = make_ticket(subject="Deuxième question")
    by_account = make_ticket(subject="Depuis le compte", requester=requester, requester_email="autre@labo.example")
    make_ticket(subject="Quelqu'un d'autre", requester_email="voisin@labo.example")
    ticket.requester = requester
    db.session.flush()

    assert identity.other_requests(ticket) == [by_account, older]
    assert identity.other_requests(ticket, limit=1) == [by_account, older]  # one more: the caller says "more"

    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    panel = html.split('id="autres-demandes"')[1].split("</section>")[0]
    assert f'href="/agent/demandes/{older.reference}"' in panel and "Première question" in panel
    assert "Depuis le compte" in panel and "Quelqu&#39;un d&#39;autre" not in panel
    assert ticket.reference not in panel

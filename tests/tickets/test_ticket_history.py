"""The ticket page's history and SLA periods (issue 13): the requester's actions credited to them, counted periods
as the business-hour ranges they are made of, a pause still running shown as « depuis … »."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.core.extensions import db
from tickets import services, workflow
from tickets.sla import BusinessCalendar, business_ranges
from tickets.views.history import timeline

# Monday 2 November 2026, 10:00 in Paris (09:00 UTC)
MONDAY_10H = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OFFICE = BusinessCalendar({d: [("09:00", "12:30"), ("13:30", "17:30")] for d in ("mon", "tue", "wed", "thu", "fri")})


def test_business_ranges_split_a_wall_clock_span_into_open_hours():
    # Friday 6 November 2026 16:00 → Tuesday 10 November 10:00 (Paris), with 11 November a holiday afterwards
    start, end = datetime(2026, 11, 6, 15, 0, tzinfo=UTC), datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    ranges = business_ranges(OFFICE, [(start, end)])
    assert [(a.strftime("%d %H:%M"), b.strftime("%d %H:%M")) for a, b in ranges] == [
        ("06 16:00", "06 17:30"), ("09 09:00", "09 12:30"), ("09 13:30", "09 17:30"), ("10 09:00", "10 10:00")]
    assert sum((b - a for a, b in ranges), timedelta(0)) == OFFICE.between(start, end)
    assert business_ranges(OFFICE, [(end, start)]) == []


def test_history_credits_the_requester_and_the_page_shows_business_ranges_and_a_running_pause(
        app, client, make_ticket, make_user, login):
    agent = login(make_user("agent", name="Alice Agent"))
    ticket = make_ticket(created_at=MONDAY_10H)
    services.put_on_hold(ticket, by=agent, now=MONDAY_10H + timedelta(hours=2))  # 12:00 Paris
    workflow.add_requester_reply(ticket, body="Voici le document.", now=MONDAY_10H + timedelta(hours=25))  # Tue 11:00
    services.put_on_hold(ticket, by=agent, now=MONDAY_10H + timedelta(hours=26))  # Tuesday 12:00 Paris, running
    db.session.commit()

    with app.test_request_context():
        entries = [(e["kind"], e["actor"]) for e in timeline(ticket)]
    requester = "Jeanne Demandeur (demandeur)"
    assert ("created", requester) in entries and ("requester_reply", requester) in entries
    # the reply resumed the clock: that status change is theirs too; the agent's are the agent's
    statuses = [actor for kind, actor in entries if kind == "status"]
    assert statuses[-3:] == ["Alice Agent", requester, "Alice Agent"]
    assert ("sla_policy", "Guichet (automatique)") in entries  # what Guichet did itself stays Guichet's

    html = client.get(f"/agent/demandes/{ticket.reference}").get_data(as_text=True)
    counted = html.split("Comptées (heures ouvrées)")[1].split("Suspendues")[0]
    # Monday 10:00 → 12:00 then Tuesday 11:00 (the reply) → 12:00: office-hour ranges, not one wall-clock span
    assert '<time datetime="2026-11-02T10:00:00+01:00">' in counted
    assert '<time datetime="2026-11-02T12:00:00+01:00">12:00</time>' in counted
    assert '<time datetime="2026-11-03T12:00:00+01:00">12:00</time>' in counted
    assert "2026-11-02T13:30" not in counted  # paused then: not counted
    paused = html.split("Suspendues")[1].split("</ul>")[0]
    assert 'depuis <time datetime="2026-11-03T12:00:00+01:00">' in paused  # still running
    assert '→ <time datetime="2026-11-03T11:00:00+01:00">' in paused  # the first pause, with its end


def test_a_merge_is_confirmed_first_and_undone_from_the_duplicate(client, make_ticket, make_user, login):
    agent = login(make_user("agent", name="Alice Agent"))
    duplicate, kept = make_ticket(subject="Doublon"), make_ticket(subject="Originale")
    services.put_on_hold(duplicate, by=agent)
    db.session.commit()

    page = client.get(f"/agent/demandes/{duplicate.reference}").get_data(as_text=True)
    picker = page.split('<datalist id="doublons-candidats">')[1].split("</datalist>")[0]
    assert f'<option value="{kept.reference}">' in picker  # the requester's other open request, to pick
    asked = client.post(f"/agent/demandes/{duplicate.reference}/fusionner", data={"target": kept.reference})
    assert asked.status_code == 200 and "Confirmer la fusion" in asked.get_data(as_text=True)
    assert client.post(f"/agent/demandes/{duplicate.reference}/fusionner",
                       data={"target": kept.reference, "confirm": "1"}).status_code == 302
    db.session.expire_all()
    assert duplicate.merged_into_id == kept.id and duplicate.status == "closed"

    assert client.post(f"/agent/demandes/{duplicate.reference}/annuler-fusion").status_code == 302
    db.session.expire_all()
    assert duplicate.merged_into_id is None and duplicate.status == "waiting_on_requester"  # as it was
    with client.application.test_request_context():
        assert [e["label"] for e in timeline(duplicate)][-2:] == [
            "Fusion annulée : demande de nouveau distincte", "Statut modifié"]
        assert timeline(kept)[-1]["label"] == "Fusion d'un doublon annulée"
    again = client.post(f"/agent/demandes/{duplicate.reference}/annuler-fusion")
    assert again.status_code == 422 and "n&#39;est pas fusionnée" in again.get_data(as_text=True)

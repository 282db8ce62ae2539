"""Manager SLA page and its report queries: at risk and breached now, met rates, percentiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.core.extensions import db
from tickets import reports, services
from tickets.sla_tracking import sweep_sla

# Monday 2 November 2026, 10:00 in Paris (09:00 UTC).
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = {"du": "2026-11-01", "au": "2026-11-30"}


@pytest.fixture
def dataset(make_ticket, make_user):
    """Urgent tickets (24/7, first response 4 h, resolution 24 h) answered after known delays, and a premium one."""
    agent = make_user("agent")
    delays = {"support": [10, 20, 30, 60, 300], "referents-finances": [90]}  # minutes to the first reply
    tickets = []
    for queue, minutes in delays.items():
        for delay in minutes:
            topic = "financement" if queue == "referents-finances" else None
            ticket = make_ticket(priority="urgent", topic=topic, created_at=T0)
            services.reply_to_ticket(ticket, author=agent, body="Réponse", now=T0 + timedelta(minutes=delay))
            tickets.append(ticket)
    services.resolve_ticket(tickets[0], by=agent, now=T0 + timedelta(hours=2))  # resolution met (2 h)
    services.resolve_ticket(tickets[1], by=agent, now=T0 + timedelta(hours=30))  # resolution missed (30 h)
    premium = make_ticket(service_tier="premium", created_at=T0)
    services.reply_to_ticket(premium, author=agent, body="Réponse", now=T0 + timedelta(hours=1))
    make_ticket(created_at=datetime(2026, 10, 1, 9, tzinfo=UTC))  # outside the period, never answered
    return {"agent": agent, "tickets": tickets, "premium": premium}


def _bounds():
    return datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC)


def test_met_rates_per_queue_and_tier(dataset):
    start, end = _bounds()
    by_queue = {row.label: row.targets for row in reports.met_rates(start, end, by="queue")}
    support = by_queue["Support aux porteurs de projets"]
    assert (support["first_response"].met, support["first_response"].missed) == (5, 1)  # premium is in support
    assert (support["resolution"].met, support["resolution"].missed) == (1, 1)
    assert support["resolution"].rate == 0.5
    finances = by_queue["Référents financiers"]
    assert (finances["first_response"].met, finances["first_response"].total) == (1, 1)
    assert finances["resolution"].total == 0 and finances["resolution"].rate is None
    by_tier = {row.key: row.targets for row in reports.met_rates(start, end, by="tier")}
    assert by_tier["premium"]["first_response"].met == 1
    assert by_tier[None]["first_response"].total == 6


def test_period_excludes_clocks_stopped_elsewhere(dataset):
    rows = reports.met_rates(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC), by="queue")
    assert rows == []


def test_percentiles_same_numbers_in_sql_and_python(dataset, dialect):
    start, end = _bounds()
    support = dataset["tickets"][0].queue_id
    # First replies, in business seconds: 600, 1200, 1800, 3600, 18000 (24/7) and 3600 (premium, office hours).
    python = reports.duration_percentiles(start, end, method="python")
    stats = python["first_response"][support]
    assert stats.count == 6
    assert stats.median == pytest.approx(2700.0)  # between 1800 and 3600
    assert stats.p90 == pytest.approx(10800.0)  # 3600 + 0.5 * (18000 - 3600)
    overall = python["first_response"][None]
    assert (overall.count, overall.median) == (7, 3600.0)
    assert python["resolution"][None].count == 2
    assert python["resolution"][None].median == pytest.approx((7200 + 108000) / 2)
    automatic = reports.duration_percentiles(start, end)
    if dialect == "postgresql":
        sql = reports.duration_percentiles(start, end, method="sql")
        assert automatic == sql
    for target in ("first_response", "resolution"):
        assert set(automatic[target]) == set(python[target])
        for key, expected in python[target].items():
            assert automatic[target][key].count == expected.count
            for fraction, value in expected.percentiles.items():
                assert automatic[target][key].percentiles[fraction] == pytest.approx(value)


def test_percentile_cont_matches_postgresql_definition():
    assert reports.percentile_cont([], 0.5) is None
    assert reports.percentile_cont([5], 0.9) == 5.0
    assert reports.percentile_cont([4, 1, 3, 2], 0.5) == 2.5
    assert reports.percentile_cont([10, 20, 30, 40, 50], 0.9) == pytest.approx(46.0)


def test_at_risk_and_breached_now(make_ticket, make_user):
    now = T0 + timedelta(hours=10)
    on_track = make_ticket(priority="urgent", created_at=now - timedelta(hours=1))
    at_risk = make_ticket(priority="urgent", created_at=now - timedelta(hours=3, minutes=30))
    late = make_ticket(priority="urgent", created_at=now - timedelta(hours=5))
    answered = make_ticket(priority="urgent", created_at=now - timedelta(hours=6))
    services.reply_to_ticket(answered, author=make_user("agent"), body="Réponse", now=now - timedelta(hours=5))
    assert reports.tickets_at_risk(now) == [at_risk]
    assert reports.tickets_breached(now) == [late]  # pending and past due, not yet swept
    assert (reports.count_at_risk(now), reports.count_breached(now)) == (1, 1)
    sweep_sla(now)
    assert late.first_response_state == "breached"
    assert reports.tickets_breached(now) == [late]  # now through its recorded state
    services.put_on_hold(late, by=None, now=now)
    assert late.next_due_at is None
    assert reports.tickets_breached(now) == [late]  # a breach stays visible while paused
    services.change_status(late, "closed", by=None, now=now)
    assert reports.tickets_breached(now) == []
    assert on_track not in reports.tickets_at_risk(now) + reports.tickets_breached(now)


def test_page_requires_manager(client, make_user, login):
    assert client.get("/responsable/sla").status_code == 302
    login(make_user("agent"))
    assert client.get("/responsable/sla").status_code == 403


def test_menu_entry_for_managers_only(client, make_user, login):
    login(make_user("manager"))
    page = client.get("/responsable/sla").get_data(as_text=True)
    assert 'href="/responsable/sla"' in page and "Délais (SLA)" in page


def test_page_shows_lists_rates_and_business_durations(client, dataset, make_ticket, make_user, login):
    late = make_ticket(priority="urgent", subject="Demande très en retard", created_at=T0)
    login(make_user("manager"))
    response = client.get("/responsable/sla", query_string=PERIOD)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert late.reference in page and "Demande très en retard" in page
    assert "83\xa0%" in page and "5 sur 6" in page  # support, first response
    assert "45 min" in page  # support median first response (2 700 s)
    assert "3 h" in page  # support 90th percentile (10 800 s)
    assert "<caption>" in page and 'scope="row"' in page
    assert page.count("<h1") == 1


def test_default_period_is_last_30_days(client, make_user, login):
    login(make_user("admin"))
    page = client.get("/responsable/sla").get_data(as_text=True)
    assert "Aucune demande sur la période." in page


@pytest.mark.parametrize(("query", "message"), [
    ({"du": "2026-11-30", "au": "2026-11-01"}, "postérieure ou égale"),
    ({"du": "2025-01-01", "au": "2026-11-01"}, "un an"),
    ({"du": "pas une date", "au": "2026-11-01"}, "date de début valide"),
    ({"du": "2026-11-01", "au": ""}, "date de fin valide"),
    ({"du": "0001-01-01", "au": "0001-01-02"}, "plage acceptée"),
    ({"du": "9999-12-30", "au": "9999-12-31"}, "plage acceptée"),
])
def test_period_form_errors(client, make_user, login, query, message):
    login(make_user("manager"))
    response = client.get("/responsable/sla", query_string=query)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Le formulaire contient des erreurs" in page and message in page
    assert "Taux de respect" not in page


def test_no_flush_side_effects(client, make_user, login, dataset):
    login(make_user("manager"))
    client.get("/responsable/sla", query_string=PERIOD)
    assert not db.session.dirty

"""Manager SLA page and its report queries: at risk and breached now, met rates, percentiles."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from crm.core import periods
from crm.core.extensions import db, utcnow
from crm.portal.exports import XLSX_MIMETYPE
from tickets import reports, services
from tickets.sla_tracking import sweep_sla
from tickets.views import manager

# Monday 2 November 2026, 10:00 in Paris (09:00 UTC).
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = {"du": "2026-11-01", "au": "2026-11-30"}
#: Well after every due time of the dataset.
LATER = T0 + timedelta(days=20)


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
    by_queue = {row.label: row.targets for row in reports.met_rates(start, end, by="queue", now=LATER)}
    support = by_queue["Support aux porteurs de projets"]
    assert (support["first_response"].met, support["first_response"].missed) == (5, 1)  # premium is in support
    # One resolved in time, one late, and the four still open past their due time (the premium one included).
    assert (support["resolution"].met, support["resolution"].missed, support["resolution"].overdue) == (1, 5, 4)
    assert support["resolution"].rate == pytest.approx(1 / 6)
    finances = by_queue["Référents financiers"]
    assert (finances["first_response"].met, finances["first_response"].total) == (1, 1)
    assert (finances["resolution"].met, finances["resolution"].missed, finances["resolution"].overdue) == (0, 1, 1)
    assert finances["resolution"].rate == 0
    by_tier = {row.key: row for row in reports.met_rates(start, end, by="tier", now=LATER)}
    assert by_tier["premium"].label == "Premium"
    assert by_tier["premium"].targets["first_response"].met == 1
    assert by_tier[None].targets["first_response"].total == 6


def test_an_open_ticket_past_due_counts_as_missed_until_then(dataset):
    """The rate counts an open late ticket as missed (it was left out: '100 %' beside overdue tickets)."""
    start, end = _bounds()
    before_due = T0 + timedelta(hours=3)
    rows = {row.label: row.targets for row in reports.met_rates(start, end, by="queue", now=before_due)}
    resolution = rows["Support aux porteurs de projets"]["resolution"]
    assert (resolution.met, resolution.missed, resolution.overdue) == (1, 1, 0)  # the open ones are not due yet
    sweep_sla(LATER)  # recorded breached: still counted once, as missed
    rows = {row.label: row.targets for row in reports.met_rates(start, end, by="queue", now=LATER)}
    assert rows["Support aux porteurs de projets"]["resolution"].missed == 5


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
    assert "71\xa0%" in page and "5 sur 7, dont 1 encore ouverte en retard" in page  # support, first response
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


def test_at_risk_first_with_why_when_and_time_left_then_breached_capped_with_see_all(
        client, make_ticket, make_user, login, monkeypatch):
    monkeypatch.setattr(manager, "LIST_LIMIT", 2)
    now = utcnow()
    # Urgent: 24/7, first response in 4 h, at risk from 3 h.
    soon = make_ticket(priority="urgent", subject="Bientôt due", created_at=now - timedelta(hours=3, minutes=50))
    later = make_ticket(priority="urgent", created_at=now - timedelta(hours=3, minutes=20))
    third = make_ticket(priority="urgent", created_at=now - timedelta(hours=3, minutes=10))
    late = make_ticket(priority="urgent", created_at=now - timedelta(hours=5))
    login(make_user("manager"))
    page = client.get("/responsable/sla").get_data(as_text=True)
    at_risk = page[page.index('id="a-risque"'):page.index('id="depassees"')]
    assert at_risk.index(soon.reference) < at_risk.index(later.reference) and third.reference not in at_risk
    assert "les 2 premières sur 3" in at_risk and "Première réponse" in at_risk
    assert re.search(r"\b(9|10) min\b", at_risk)  # business time left before the due time
    assert 'href="/agent/file?sla=at_risk"' in at_risk and "Voir tout (3)" in at_risk
    breached = page[page.index('id="depassees"'):page.index('id="periode"')]
    assert late.reference in breached and late.reference not in at_risk and "Voir tout" not in breached
    assert re.search(r"\b(59|60) min\b|\b1 h\b", breached)  # late by an hour

    response = client.get("/responsable/sla/a-risque.xlsx")  # the full list, not the first 50
    assert response.mimetype == XLSX_MIMETYPE
    assert re.fullmatch(r'attachment; filename="guichet-sla-a-risque-\d{4}-\d\d-\d\d\.xlsx"',
                        response.headers["Content-Disposition"])
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Référence" and [r[0] for r in rows[1:]] == [soon.reference, later.reference,
                                                                       third.reference]
    assert rows[1][4] == "Première réponse" and isinstance(rows[1][5], datetime)
    assert isinstance(rows[1][6], float) and 0.1 < rows[1][6] < 0.2  # hours left, a number


def test_exports_of_the_period_tables(client, dataset, make_user, login):
    login(make_user("manager"))
    response = client.get("/responsable/sla/taux-par-file.xlsx", query_string=PERIOD)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    support = next(r for r in rows if r[0] == "Support aux porteurs de projets")
    assert support[1:5] == (5, 1, 0, pytest.approx(5 / 6))  # first response: met, missed, open late, rate
    assert support[5:8] == (1, 5, 4)
    csv = client.get("/responsable/sla/taux-par-niveau.csv", query_string=PERIOD)
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff".encode())
    lines = csv.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Niveau de service;Première réponse — respectés;")
    assert lines[1] == "Premium;1;0;0;100,0 %;0;1;1;0,0 %"
    assert client.get("/responsable/sla/temps.csv", query_string={"du": "x", "au": "2026-11-30"}).status_code == 422
    assert client.get("/responsable/sla/inconnu.csv").status_code == 404
    assert client.get("/responsable/sla/temps.pdf").status_code == 404


def test_series_match_the_rates_the_page_table_and_the_chart(client, dataset, make_user, login):
    steps = periods.buckets(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("Europe/Paris"))
    assert [(s.first.day, s.last.day) for s in steps] == [(1, 1), (2, 8), (9, 15), (16, 22), (23, 29), (30, 30)]
    points = reports.series(steps, now=LATER)
    week = points[1]
    assert week.submitted == 7 and week.rates["first_response"].met == 6 and week.durations["first_response"].count == 7
    start, end = _bounds()
    for target in ("first_response", "resolution"):  # the series count what the rates count, step by step
        rates = [row.targets[target] for row in reports.met_rates(start, end, by="queue", now=LATER)]
        assert sum(p.rates[target].met for p in points) == sum(r.met for r in rates)
        assert sum(p.rates[target].missed for p in points) == sum(r.missed for r in rates)
    premium = reports.series(steps, tier="premium", now=LATER)
    assert [p.submitted for p in premium] == [0, 1, 0, 0, 0, 0]

    login(make_user("manager"))
    page = client.get("/responsable/sla", query_string=PERIOD).get_data(as_text=True)
    volumes = page[page.index('id="serie-volumes"'):page.index('id="serie-taux"')]
    assert re.search(r"<th scope=\"row\">02/11/2026</th><td>7</td>", volumes)
    chart = re.search(r"<bar-chart x='([^']*)' y='([^']*)'", page)
    assert json.loads(chart.group(1))[0][1] == "02/11/2026" and json.loads(chart.group(2))[0][:3] == [0, 7, 0]
    rows = list(load_workbook(io.BytesIO(client.get("/responsable/sla/evolution.xlsx", query_string=PERIOD).data))
                .active.iter_rows(values_only=True))
    assert rows[2][:3] == (datetime(2026, 11, 2), datetime(2026, 11, 8), 7)


def test_series_go_month_by_month_past_three_months():
    steps = periods.buckets(date(2026, 1, 15), date(2026, 6, 30), ZoneInfo("Europe/Paris"))
    assert [(s.first, s.last.day) for s in steps][:2] == [(date(2026, 1, 15), 31), (date(2026, 2, 1), 28)]
    assert len(steps) == 6 and steps[-1].end == datetime(2026, 6, 30, 22, tzinfo=UTC)


def test_series_filters_are_validated(client, make_user, login):
    login(make_user("manager"))
    page = client.get("/responsable/sla", query_string={**PERIOD, "file": "999", "niveau": "or"}).get_data(
        as_text=True)
    assert "Le formulaire contient des erreurs" in page and "Taux de respect" not in page
    assert 'id="file-error"' in page and 'id="niveau-error"' in page

"""Commitments managed in the application (issue 11, part 4): configuration pages, services, history, preview."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.changes import history
from crm.core.extensions import db
from crm.core.models import ChangeRecord
from tickets.admin import services as config
from tickets.admin.defaults import install_defaults
from tickets.models import Queue, SlaCalendar, SlaPolicy, Ticket, Topic

# Monday 2 November 2026, 10:00 in Paris.
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _policy(name: str) -> SlaPolicy:
    return db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.name == name))


def _calendar(name: str) -> SlaCalendar:
    return db.session.scalar(sa.select(SlaCalendar).where(SlaCalendar.name == name))


def _policy_data(policy: SlaPolicy, **changes) -> dict:
    data = {"name": policy.name, "service_tier": policy.service_tier, "priority": policy.priority,
            "topic": policy.topic_slug, "queue": policy.queue.slug if policy.queue else None,
            "first_response_minutes": policy.first_response_minutes, "resolution_minutes": policy.resolution_minutes,
            "calendar_id": policy.calendar_id, "at_risk_share": policy.at_risk_share,
            "escalation": config.escalation_of(policy), "active": policy.active}
    data.update(changes)
    return data


# -- defaults ------------------------------------------------------------------------------------------------


def test_defaults_on_an_empty_database_then_nothing_more():
    added = install_defaults()
    assert added == {"calendars": 2, "queues": 1, "topics": 1, "policies": 4}
    office = _calendar("Heures de bureau (Paris)")
    assert office.hours["mon"] == [["09:00", "12:30"], ["13:30", "17:30"]] and "sat" not in office.hours
    assert office.country == "FR" and _calendar("24 h/24, 7 j/7").country is None
    priorities = {p.priority: p.name for p in db.session.scalars(sa.select(SlaPolicy))}
    assert set(priorities) == {None, "low", "high", "urgent"}  # normal: the catch-all "Standard"
    assert _policy("Urgence 24/7").calendar.name == "24 h/24, 7 j/7"
    assert db.session.scalar(sa.select(Topic).where(Topic.slug == "autre")).default_queue.slug == "support"
    assert install_defaults() == {"calendars": 0, "queues": 0, "topics": 0, "policies": 0}


def test_the_demo_configuration_builds_on_the_defaults(reference_data):
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaCalendar)) == 2
    assert _calendar("Heures de bureau (Paris)").closed_days[0] == "2025-12-24"
    names = set(db.session.scalars(sa.select(SlaPolicy.name)))
    assert {"Standard", "Standard — priorité basse", "Établissement premium", "Avenants"} <= names
    assert db.session.scalar(sa.select(Queue).where(Queue.slug == "support")).name == \
        "Support aux porteurs de projets"


def test_a_fresh_database_gets_the_defaults_from_the_migrations(empty_database_url):
    from flask_migrate import upgrade

    from tests.test_migrations import _app

    app = _app(empty_database_url)
    with app.app_context():
        upgrade(revision="heads")  # as `guichet db upgrade` (all heads: other branches may be in review)
        try:
            policies = {p.name: (p.priority, p.first_response_minutes, p.resolution_minutes, p.calendar.name)
                        for p in db.session.scalars(sa.select(SlaPolicy))}
            from tickets.admin.defaults import POLICIES

            assert policies == {name: (priority, first, resolution, calendar)
                                for name, priority, first, resolution, calendar in POLICIES}
            assert install_defaults() == {"calendars": 0, "queues": 0, "topics": 0, "policies": 0}
            db.session.rollback()
        finally:
            db.session.remove()
            db.engine.dispose()


# -- validation ------------------------------------------------------------------------------------------------


def test_day_ranges_are_well_formed_ordered_and_disjoint():
    assert config.parse_day_ranges("mon", "13:30-17:30, 9:00-12:30") == [["09:00", "12:30"], ["13:30", "17:30"]]
    assert config.parse_day_ranges("sun", "00:00-24:00") == [["00:00", "24:00"]]
    for text, message in (("9h-12h", "n'est pas une plage"), ("12:00-09:00", "finir après"),
                          ("09:00-12:30, 12:00-14:00", "chevauchent"), ("25:00-26:00", "heure invalide")):
        with pytest.raises(config.ConfigError, match=message) as error:
            config.parse_day_ranges("tue", text)
        assert error.value.field == "hours_tue" and "Mardi" in str(error.value)
    assert config.parse_closed_days("2026-12-24 veille de Noël\n\n31/12/2026\n2026-12-24") == ["2026-12-24",
                                                                                                "2026-12-31"]
    with pytest.raises(config.ConfigError, match="ligne 2"):
        config.parse_closed_days("2026-12-24\n2026-13-01")


def test_policy_targets_names_and_criteria_are_checked(reference_data, make_user):
    admin = make_user("admin")
    standard = _policy("Standard")
    for changes, field in (({"first_response_minutes": 0}, "first_response_minutes"),
                           ({"resolution_minutes": -5}, "resolution_minutes"),
                           ({"resolution_minutes": 60, "first_response_minutes": 120}, "resolution_minutes"),
                           ({"name": "avenants"}, "name"),  # unique, whatever the case
                           ({"priority": "high"}, "service_tier"),  # same criteria as "Standard — priorité haute"
                           ({"topic": "inconnu"}, "topic"),
                           ({"calendar_id": 999_999}, "calendar_id")):
        with pytest.raises(config.ConfigError) as error:
            config.save_policy(standard, _policy_data(standard, **changes), by=admin)
        assert error.value.field == field, changes
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRecord)) == 0


def test_in_use_items_are_not_deleted_and_the_general_queue_stays_active(make_ticket, make_user):
    admin = make_user("admin")
    make_ticket()
    office = _calendar("Heures de bureau (Paris)")
    with pytest.raises(config.ConfigError, match="politique"):
        config.delete_item(office, by=admin)
    with pytest.raises(config.ConfigError, match="Désactivez"):
        config.delete_item(_policy("Standard"), by=admin)
    support = db.session.scalar(sa.select(Queue).where(Queue.slug == "support"))
    with pytest.raises(config.ConfigError, match="reste active"):
        config.set_active(support, False, by=admin)
    config.set_active(_policy("Avenants"), False, by=admin)
    assert [r.action for r in history(config.POLICY, _policy("Avenants").id)] == ["deactivated"]
    from knowledge_base.models import Article

    topic = config.save_topic(None, {"slug": "essai", "label": "Essai", "default_queue": "support"}, by=admin)
    db.session.add(Article(external_id="essai-1", question="Question ?", answer="Réponse.", topic="essai"))
    with pytest.raises(config.ConfigError, match="1 article"):
        config.delete_item(topic, by=admin)
    unused = config.save_calendar(None, {"name": "Essai", "hours": {"mon": [["08:00", "10:00"]]}, "region": ""},
                                  by=admin)
    config.delete_item(unused, by=admin)
    assert _calendar("Essai") is None
    assert [r.action for r in history(config.CALENDAR, unused.id)] == ["deleted", "created"]


# -- history, preview and recompute ----------------------------------------------------------------------------


def test_a_policy_change_is_versioned_previewed_and_recomputed(make_ticket, make_user):
    admin = make_user("admin")
    ticket = make_ticket(created_at=T0)
    other = make_ticket(created_at=T0, priority="urgent")
    standard = _policy("Standard")
    assert ticket.sla_policy_id == standard.id
    due = ticket.first_response_due_at
    assert config.preview_impact(standard, now=T0).count == 0

    config.save_policy(standard, _policy_data(standard, first_response_minutes=60), by=admin)
    [record] = history(config.POLICY, standard.id)
    assert record.actor_id == admin.id and record.changes == {"first_response_minutes": [900, 60]}

    preview = config.preview_impact(standard, now=T0)
    assert preview.ticket_ids == [ticket.id]  # the urgent ticket has another policy
    assert preview.impacts[0].due_after["first_response"] == T0 + timedelta(hours=1)
    assert ticket.first_response_due_at == due  # a preview writes nothing
    assert config.recompute_impact(standard, by=admin, now=T0) == 1
    assert ticket.first_response_due_at == T0 + timedelta(hours=1)
    assert other.first_response_due_at == T0 + timedelta(hours=4)
    assert config.preview_impact(standard, now=T0).count == 0
    assert history(config.POLICY, standard.id)[0].action == "recomputed"


def test_a_closure_day_moves_the_due_times_of_the_calendar_s_tickets(make_ticket, make_user):
    admin = make_user("admin")
    ticket = make_ticket(created_at=T0)  # Standard: first response 2 working days -> Wednesday 10:00
    assert ticket.first_response_due_at == T0 + timedelta(days=2)
    office = _calendar("Heures de bureau (Paris)")
    data = {"name": office.name, "timezone": office.timezone, "region": "FR", "hours": office.hours,
            "closed_days": [*office.closed_days, "2026-11-03"]}
    config.save_calendar(office, data, by=admin)
    preview = config.preview_impact(office, now=T0)
    assert ticket.id in preview.ticket_ids
    config.recompute_impact(office, by=admin, now=T0)
    assert ticket.first_response_due_at == T0 + timedelta(days=3)  # Tuesday closed
    before, after = history(config.CALENDAR, office.id)[1].changes["closed_days"]
    assert set(after) - set(before) == {"2026-11-03"}


# -- pages ---------------------------------------------------------------------------------------------------------


def test_agents_cannot_see_or_edit_the_configuration(client, login, make_user, reference_data):
    login(make_user("agent"))
    assert client.get("/admin/configuration").status_code == 403
    standard = _policy("Standard")
    assert client.post(f"/admin/configuration/politiques/{standard.id}",
                       data={"name": "Piratée"}).status_code == 403
    assert client.post(f"/admin/configuration/politiques/{standard.id}/desactiver").status_code == 403
    assert _policy("Standard").active


def test_a_manager_edits_a_policy_from_its_page(client, login, make_user, make_ticket):
    manager = login(make_user("manager"))
    # opened on a working morning (Tuesday 9:00 in Paris): its deadlines do not depend on the day the test runs
    ticket = make_ticket(created_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    html = client.get("/admin/configuration").get_data(as_text=True)
    assert "Politiques de délai (SLA)" in html and "/admin/configuration" in html
    standard = _policy("Standard")
    url = f"/admin/configuration/politiques/{standard.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'value="900"' in page and "Historique des modifications" in page
    form = {"name": "Standard", "service_tier": "", "priority": "", "topic": "", "queue": "",
            "first_response_minutes": "0", "resolution_minutes": "4500", "calendar_id": str(standard.calendar_id),
            "escalation_warn_assignee": "y", "active": "y"}
    response = client.post(url, data=form)
    assert response.status_code == 422
    assert "supérieur à 0" in response.get_data(as_text=True) or "Un nombre de minutes" in response.get_data(
        as_text=True)
    response = client.post(url, data=dict(form, first_response_minutes="120"))
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "first_response_minutes" in page and "900 → 120" in page and manager.name in page
    assert ticket.reference in page and "Recalculer les échéances" in page
    assert client.post(url + "/recalculer").status_code == 302
    assert db.session.get(Ticket, ticket.id).first_response_due_at - ticket.created_at == timedelta(minutes=120)
    assert "Aucune demande ouverte à recalculer" in client.get(url).get_data(as_text=True)


def test_calendar_form_reports_overlapping_ranges_on_its_field(client, login, make_user, reference_data):
    login(make_user("admin"))
    response = client.post("/admin/configuration/calendriers/nouveau", data={
        "name": "Accueil", "timezone": "Europe/Paris", "region": "FR/57",
        "hours_mon": "09:00-12:30, 12:00-17:00", "closed_days": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="hours_mon-error"[^>]*>Lundi : les plages se chevauchent', html)
    assert _calendar("Accueil") is None
    response = client.post("/admin/configuration/calendriers/nouveau", data={
        "name": "Accueil", "timezone": "Europe/Paris", "region": "FR/57",
        "hours_mon": "09:00-12:30, 13:30-17:00", "hours_sat": "09:00-12:00", "closed_days": "2026-12-26"})
    assert response.status_code == 302
    created = _calendar("Accueil")
    assert (created.country, created.subdivision, created.closed_days) == ("FR", "57", ["2026-12-26"])
    assert created.hours == {"mon": [["09:00", "12:30"], ["13:30", "17:00"]], "sat": [["09:00", "12:00"]]}


def test_queue_topic_and_saved_reply_pages(client, login, make_user, reference_data):
    login(make_user("admin"))
    assert client.post("/admin/configuration/files/nouveau", data={
        "slug": "Mauvais Slug", "name": "X"}).status_code == 422
    assert client.post("/admin/configuration/files/nouveau", data={
        "slug": "partenariats", "name": "Partenariats", "description": "<b>Europe</b>", "active": "y"}
    ).status_code == 302
    queue = db.session.scalar(sa.select(Queue).where(Queue.slug == "partenariats"))
    assert client.post("/admin/configuration/themes/nouveau", data={
        "slug": "europe", "label": "Projets européens", "default_queue": "partenariats", "position": "3",
        "active": "y"}).status_code == 302
    assert client.post("/admin/configuration/themes/nouveau", data={
        "slug": "europe2", "label": "projets européens", "default_queue": ""}).status_code == 422  # same label
    assert client.post("/admin/configuration/reponses-types/nouveau", data={
        "title": "Accord de consortium", "queue": "partenariats", "body": "Bonjour, …"}).status_code == 302
    page = client.get(f"/admin/configuration/files/{queue.id}").get_data(as_text=True)
    assert "&lt;b&gt;Europe&lt;/b&gt;" in page and "1 thème(s)" in page  # escaped; in use: no delete button
    response = client.post(f"/admin/configuration/files/{queue.id}/supprimer", follow_redirects=True)
    assert "Suppression impossible" in response.get_data(as_text=True)
    assert db.session.get(Queue, queue.id) is not None
    assert client.get("/admin/configuration/inconnu").status_code == 404
    from tickets.admin.views import KINDS

    for key, kind in KINDS.items():  # every list, creation form and edit page renders
        first = db.session.scalar(sa.select(kind.model.id).order_by(kind.model.id).limit(1))
        for url in (f"/admin/configuration/{key}", f"/admin/configuration/{key}/nouveau",
                    f"/admin/configuration/{key}/{first}"):
            assert client.get(url).status_code == 200, url
        assert client.get(f"/admin/configuration/{key}/999999").status_code == 404


@pytest.mark.committed
def test_the_configuration_forms_carry_a_csrf_token_and_refuse_a_post_without_it(app, make_user):
    from crm import create_app
    from tickets.demo import seed_reference_data

    seed_reference_data()
    admin = make_user("admin")
    policy_id = db.session.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.name == "Avenants"))
    db.session.commit()
    secure = create_app(dict({k: v for k, v in app.config.items() if k != "SERVER_NAME"}, WTF_CSRF_ENABLED=True))
    try:
        client = secure.test_client()
        html = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        client.post("/connexion", data={"email": admin.email, "password": "motdepasse-de-test-1",
                                        "csrf_token": token})
        html = client.get(f"/admin/configuration/politiques/{policy_id}").get_data(as_text=True)
        forms = re.findall(r'<form method="post".*?</form>', html, re.S)
        assert len(forms) >= 2 and all('name="csrf_token"' in form for form in forms)
        assert client.post(f"/admin/configuration/politiques/{policy_id}/desactiver").status_code == 400
        with secure.app_context():
            assert db.session.get(SlaPolicy, policy_id).active
            db.session.remove()
    finally:
        with secure.app_context():
            db.engine.dispose()


@pytest.mark.committed
def test_an_edited_policy_reaches_another_instance_after_the_delay(app, tmp_path_factory, make_user):
    from crm import create_app
    from tests.conftest import _config
    from tests.crm.core.test_refcache import _delay_passes, _edit
    from tickets import reference
    from tickets.demo import seed_reference_data

    _edit(app, seed_reference_data)
    settings = dict(_config(tmp_path_factory), SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                    REFERENCE_REFRESH_SECONDS=60.0)
    second = create_app(settings)

    def minutes(instance) -> int:
        with instance.test_request_context():
            try:
                return next(p for p in reference.active_policies() if p.name == "Avenants").resolution_minutes
            finally:
                db.session.remove()

    try:
        before = minutes(second)

        def change():
            policy = _policy("Avenants")
            config.save_policy(policy, _policy_data(policy, resolution_minutes=before + 450), by=None)

        _edit(app, change)
        assert minutes(second) == before  # its copy, within the delay
        assert minutes(app) == before + 450
        _delay_passes(second)
        assert minutes(second) == before + 450
    finally:
        with second.app_context():
            db.engine.dispose()


# -- organisations' service: tier and agency contact ---------------------------------------------------------------


@pytest.fixture
def organisation():
    from crm.organisations.models import Organisation

    org = Organisation(code="UNIV-X", kind="headquarters", name="Université X", siren="123456789")
    db.session.add(org)
    db.session.flush()
    return org


def test_a_manager_sets_an_organisation_s_tier_and_contact_an_agent_cannot(client, login, make_user, organisation):
    from crm.organisations.services import ORGANISATION_SERVICE

    agent = make_user("agent", name="Alice Agent")
    login(agent)
    page = client.get(f"/crm/organisations/{organisation.id}").get_data(as_text=True)
    assert "Interlocuteur privilégié" in page and "/service" not in page  # shown, not editable
    assert client.post(f"/crm/organisations/{organisation.id}/service",
                       data={"service_tier": "premium"}).status_code == 403
    assert organisation.service_tier is None

    client.post("/deconnexion")
    manager = login(make_user("manager", name="Marc Manager"))
    response = client.post(f"/crm/organisations/{organisation.id}/service",
                           data={"service_tier": "premium", "agency_contact": str(agent.id)})
    assert response.status_code == 302
    assert (organisation.service_tier, organisation.agency_contact_id) == ("premium", agent.id)
    [record] = history(ORGANISATION_SERVICE, organisation.id)
    assert record.actor_id == manager.id
    assert record.changes == {"service_tier": [None, "premium"], "agency_contact": [None, agent.email]}
    page = client.get(f"/crm/organisations/{organisation.id}").get_data(as_text=True)
    assert "Alice Agent" in page and "Historique du niveau de service (1)" in page
    requester = make_user("requester")
    response = client.post(f"/crm/organisations/{organisation.id}/service",
                           data={"service_tier": "premium", "agency_contact": str(requester.id)})
    assert response.status_code == 302 and organisation.agency_contact_id == agent.id  # not a staff choice
    assert len(history(ORGANISATION_SERVICE, organisation.id)) == 1


# -- API and commands -------------------------------------------------------------------------------------------


def _token(user) -> dict:
    from crm.core.services import create_api_token

    return {"Authorization": f"Bearer {create_api_token(user, 'test')[1]}"}


def test_the_api_reads_for_staff_and_writes_for_managers(client, make_user, make_ticket, organisation):
    agent, manager = make_user("agent"), make_user("manager")
    make_ticket(created_at=T0)
    listed = client.get("/api/v1/configuration/policies", headers=_token(agent))
    assert listed.status_code == 200 and "Standard" in {p["name"] for p in listed.get_json()}
    standard = _policy("Standard")
    url = f"/api/v1/configuration/policies/{standard.id}"
    assert client.patch(url, json={"first_response_minutes": 60}, headers=_token(agent)).status_code == 403
    refused = client.patch(url, json={"name": "Avenants"}, headers=_token(manager))
    assert refused.status_code == 422 and "name" in refused.get_json()["errors"]["json"]
    changed = client.patch(url, json={"first_response_minutes": 60}, headers=_token(manager))
    assert changed.status_code == 200 and changed.get_json()["first_response_minutes"] == 60
    impact = client.get(url + "/impact", headers=_token(manager)).get_json()
    assert impact["count"] == 1
    assert client.post(url + "/recompute", headers=_token(manager)).get_json() == {"recomputed": 1}
    assert client.get(url + "/impact", headers=_token(manager)).get_json()["count"] == 0
    created = client.post("/api/v1/configuration/calendars", headers=_token(manager), json={
        "name": "Samedi matin", "country": None, "hours": {"sat": [["09:00", "12:00"]]},
        "closed_days": ["2026-12-26"]})
    assert created.status_code == 201 and created.get_json()["hours"] == {"sat": [["09:00", "12:00"]]}
    overlapping = client.post("/api/v1/configuration/calendars", headers=_token(manager), json={
        "name": "Chevauchement", "hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}})
    assert overlapping.status_code == 422 and "chevauchent" in overlapping.get_json()["detail"]
    service = client.patch(f"/api/v1/organisations/{organisation.id}/service", headers=_token(manager),
                           json={"service_tier": "prioritaire", "agency_contact": agent.email})
    assert service.get_json() == {"service_tier": "prioritaire", "effective_service_tier": "prioritaire",
                                  "agency_contact": agent.email}


def test_commands_export_import_preview_and_recompute(app, make_user, make_ticket, tmp_path):
    import yaml

    admin = make_user("admin")
    ticket = make_ticket(created_at=T0)
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["config", "export"])
    assert exported.exit_code == 0, exported.output
    document = yaml.safe_load(exported.output)
    standard = next(p for p in document["policies"] if p["name"] == "Standard")
    standard["first_response_minutes"] = 60
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"policies": [standard]}, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["config", "import", str(path), "--by", admin.email])
    assert result.exit_code == 0, result.output
    assert _policy("Standard").first_response_minutes == 60
    assert history(config.POLICY, _policy("Standard").id)[0].actor_id == admin.id
    preview = runner.invoke(args=["config", "preview", "--policy", "Standard"])
    assert ticket.reference in preview.output and "1 demande(s)" in preview.output
    assert "1 demande(s)" in runner.invoke(args=["config", "recompute", "--policy", "Standard"]).output
    assert db.session.get(Ticket, ticket.id).first_response_due_at == T0 + timedelta(hours=1)

    standard["resolution_minutes"] = 0  # refused: nothing of the file is saved
    bad = {"policies": [dict(standard, first_response_minutes=30), dict(standard, name="Autre", resolution_minutes=0)]}
    path.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["config", "import", str(path)])
    assert result.exit_code == 1 and "Aucune modification enregistrée" in result.output
    assert _policy("Standard").first_response_minutes == 60
    assert runner.invoke(args=["setup", "defaults"]).output.count(" 0 ") == 4

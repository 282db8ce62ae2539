"""Référents chosen by expertise, then availability (absence periods), then load under their maximum (issue 11)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from crm.core.i18n import paris_today
from expert import services
from expert.models import ReferentAbsence, ReferentProfile
from tests.expert.test_expert_triage import AMENDMENT, create_articles
from tickets.models import Status


@pytest.fixture
def group(make_user, reference_data):
    """The amendments group: an expert in amendments (loaded) and a generalist (free)."""
    from expert import RULES_FILE, ruleset

    create_articles()
    ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)
    queue = reference_data["queues"]["referents-amendements"]
    expert_user = make_user("referent", name="Experte Avenants")
    generalist = make_user("referent", name="Généraliste")
    db.session.add_all([ReferentProfile(user=expert_user, group=queue, topics=["avenant"], max_load=3),
                        ReferentProfile(user=generalist, group=queue, topics=[], max_load=3)])
    db.session.flush()
    return queue, expert_user, generalist


def _load(make_ticket, user, n):
    for i in range(n):
        ticket = make_ticket(subject=f"Demande {i}", body="Question de dépôt.")
        ticket.assignee = user
    db.session.flush()


def _notes(ticket) -> str:
    return " | ".join(services.latest_decision(ticket).notes)


def test_the_expert_gets_the_question_even_with_more_active_tickets(group, make_ticket):
    _queue, expert_user, generalist = group
    _load(make_ticket, expert_user, 2)  # 2 of 3: still under the maximum
    ticket = make_ticket(**AMENDMENT)
    assert ticket.topic.slug == "avenant" and ticket.status == Status.OPEN
    assert ticket.assignee == expert_user
    assert "référent choisi : Experte Avenants (expertise thème « avenant », charge 2/3)" in _notes(ticket)


def test_an_absent_expert_is_passed_over_until_the_day_after_the_absence(group, make_ticket):
    _queue, expert_user, generalist = group
    today = paris_today()
    services.add_absence(expert_user, starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=2),
                         reason="congés")
    ticket = make_ticket(**AMENDMENT)
    assert ticket.assignee == generalist
    assert "sans expertise déclarée" in _notes(ticket)
    slot = next(s for s in services.referent_slots(group[0].id) if s.user_id == expert_user.id)
    assert slot.absent_on(today) == today + timedelta(days=2)
    assert slot.absent_on(today + timedelta(days=3)) is None and slot.absent_on(today - timedelta(days=2)) is None


def test_nobody_fits_the_ticket_stays_in_the_group_with_the_reason(group, make_ticket):
    queue, expert_user, generalist = group
    _load(make_ticket, generalist, 3)
    services.add_absence(expert_user, starts_on=paris_today(), ends_on=paris_today(), by=None)
    ticket = make_ticket(**AMENDMENT)
    assert ticket.queue == queue and ticket.assignee is None
    notes = _notes(ticket)
    assert "aucun référent disponible dans le groupe" in notes
    assert f"Experte Avenants : absent jusqu'au {paris_today():%d/%m/%Y}" in notes
    assert "Généraliste : charge 3/3" in notes


def test_an_absence_ending_before_it_starts_is_refused(group):
    _queue, expert_user, _generalist = group
    with pytest.raises(services.ExpertError):
        services.add_absence(expert_user, starts_on=date(2027, 1, 10), ends_on=date(2027, 1, 9))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReferentAbsence)) == 0


def test_a_referent_records_their_absence_and_the_manager_sees_it_with_the_overload(
        group, client, login, make_user, make_ticket):
    _queue, expert_user, generalist = group
    _load(make_ticket, generalist, 3)
    db.session.commit()
    login(expert_user)
    today = paris_today()
    page = f"/expert/referents/{expert_user.id}"
    url = client.get(page)
    assert url.status_code == 200 and "Aucune absence enregistrée." in url.get_data(as_text=True)
    refused = client.post(f"{page}/absences", data={"starts_on": "2027-01-10", "ends_on": "2027-01-09"})
    assert refused.status_code == 422
    assert "La date de fin de l'absence précède sa date de début." in refused.get_data(as_text=True)
    added = client.post(f"{page}/absences", data={"starts_on": today.isoformat(),
                                                  "ends_on": (today + timedelta(days=5)).isoformat(),
                                                  "reason": "Formation"})
    assert added.status_code == 302
    # another référent may not touch it
    client.post("/deconnexion")
    login(generalist)
    assert client.post(f"{page}/absences", data={"starts_on": today.isoformat(),
                                                 "ends_on": today.isoformat()}).status_code == 403
    client.post("/deconnexion")
    login(make_user("manager"))
    listing = client.get("/expert/referents").get_data(as_text=True)
    assert f"Absent jusqu'au {(today + timedelta(days=5)):%d/%m/%Y}" in listing
    assert "Surcharge" in listing  # the generalist at 3 of 3
    absence = db.session.scalar(sa.select(ReferentAbsence).where(ReferentAbsence.user_id == expert_user.id))
    assert absence.reason == "Formation"
    deleted = client.post(f"{page}/absences/{absence.id}/supprimer")
    assert deleted.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReferentAbsence)) == 0

"""Publish, correct, approve: the services, the portal pages of the référent and the agency's pages."""

from __future__ import annotations

import re
from datetime import timedelta

import factories_annexes
import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from crm.portal.models import ProfileKind
from crm.projects.models import Partner
from notifications.models import OutboxMessage
from tickets.annexes import jobs, services
from tickets.annexes.models import AnnexEvent, AnnexReview, AnnexState, AnnexVersion, FinancialAnnex

TODAY = factories_annexes.TODAY
world = factories_annexes.world  # the fixture


def _digest(html: str) -> str:
    return re.search(r'name="digest" type="hidden" value="([0-9a-f]{64})"', html).group(1)


def _shows(html: str, amount: str) -> bool:
    """The amount as babel formats it in French (narrow no-break space between thousands)."""
    return re.search(amount.replace(" ", "[\\s\u202f\xa0]"), html) is not None


def test_designation_needs_the_profile_on_both_sides(world, make_user):
    stranger = make_user("requester")
    with pytest.raises(services.AnnexError, match="ne détenez pas"):
        services.designate_referent(stranger, ProfileKind.HEADQUARTERS, world.hq.siren, world.referent)
    with pytest.raises(services.AnnexError, match="ne détient pas"):
        services.designate_referent(world.colleague, ProfileKind.HEADQUARTERS, world.hq.siren, stranger)
    with pytest.raises(services.AnnexError, match="déjà désignée"):
        services.designate_referent(world.colleague, ProfileKind.HEADQUARTERS, world.hq.siren, world.referent)


def test_designation_from_the_portal(world, client, login):
    login(world.referent)
    page = client.get("/portail/annexes/referents")
    assert page.status_code == 200 and "Référente Siège" in page.get_data(as_text=True)
    value = f"headquarters:{world.hq.siren}"
    answer = client.post("/portail/annexes/referents", data={"establishment": value, "user": str(world.colleague.id)})
    assert answer.status_code == 302
    bad = client.post("/portail/annexes/referents", data={"establishment": value, "user": str(world.outsider.id)})
    assert bad.status_code == 422 and "fr-error-text" in bad.get_data(as_text=True)
    assert client.post("/portail/annexes/referents", data={"establishment": value, "user": "x"}).status_code == 422


def test_the_referent_sees_only_the_annexes_of_their_establishment(world, client, login, make_user):
    mine, theirs = world.publish(), world.publish(world.other_partner)
    login(world.referent)
    listing = client.get("/portail/annexes/").get_data(as_text=True)
    assert mine.reference in listing and theirs.reference not in listing
    assert client.get(f"/portail/annexes/{mine.id}").status_code == 200
    assert client.get(f"/portail/annexes/{theirs.id}").status_code == 404
    client.post("/deconnexion")
    login(world.colleague)  # holds the profile but is not designated: sees nothing, answers nothing
    assert mine.reference not in client.get("/portail/annexes/").get_data(as_text=True)
    assert client.get(f"/portail/annexes/{mine.id}").status_code == 404


def test_publish_correct_approve_with_history_and_digest(world, client, login):
    annex = world.publish()
    first_digest = annex.version.digest
    login(world.referent)
    url = f"/portail/annexes/{annex.id}"
    html = client.get(url).get_data(as_text=True)
    assert _digest(html) == first_digest
    # corrections without any comment: refused, nothing recorded
    empty = client.post(url, data={"decision": "corrections", "digest": first_digest})
    assert empty.status_code == 422 and "au moins une ligne" in empty.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AnnexReview)) == 0
    asked = client.post(url, data={"decision": "corrections", "digest": first_digest,
                                   "comment_staff": "Les frais de personnel incluent un poste non éligible."})
    assert asked.status_code == 302
    db.session.expire_all()
    assert annex.state == AnnexState.CORRECTIONS
    assert annex.reviews[0].comments == {"staff": "Les frais de personnel incluent un poste non éligible."}
    again = client.post(url, data={"decision": "approve", "digest": first_digest})
    assert again.status_code == 422  # nothing to answer now

    world.publish(staff="90000", requested_aid="125000")  # the agency corrects: version 2
    assert annex.current_version == 2 and annex.state == AnnexState.PUBLISHED
    html = client.get(url).get_data(as_text=True)
    assert "Modifié" in html and _shows(html, "100 000,00") and _shows(html, "90 000,00")  # the differences
    # approving with the digest of version 1 is refused: the référent approves only what they read
    stale = client.post(url, data={"decision": "approve", "digest": first_digest})
    assert stale.status_code == 422 and "a changé" in stale.get_data(as_text=True)
    second = _digest(html)
    assert client.post(url, data={"decision": "approve", "digest": second}).status_code == 302
    db.session.expire_all()
    assert annex.state == AnnexState.APPROVED and annex.approved_version == 2
    assert annex.approved_by_id == world.referent.id and annex.approved_at is not None
    assert annex.approved_digest == second == annex.version.digest != first_digest
    kinds = db.session.scalars(sa.select(AnnexEvent.kind).where(AnnexEvent.annex_id == annex.id)
                               .order_by(AnnexEvent.id)).all()
    assert kinds == ["annex_published", "annex_corrections_requested", "annex_published", "annex_approved"]
    assert len(db.session.scalars(sa.select(AnnexVersion).where(AnnexVersion.annex_id == annex.id)).all()) == 2


def test_the_same_figures_are_not_published_twice(world):
    world.publish()
    with pytest.raises(services.AnnexError, match="version en cours"):
        world.publish()
    with pytest.raises(services.AnnexError, match="déjà passée"):
        world.publish(staff="1", requested_aid="1", due_on=TODAY - timedelta(days=1))


def test_the_decision_is_ready_only_when_every_annex_is_approved(world):
    annex = world.publish()
    with pytest.raises(services.AnnexError, match="partenaire 1.*partenaire 2"):
        services.mark_decision_ready(world.project, by=world.agent)
    services.approve_annex(annex, by=world.referent, digest=annex.version.digest)
    other = world.publish(world.other_partner)
    with pytest.raises(services.AnnexError, match="partenaire 2") as caught:
        services.mark_decision_ready(world.project, by=world.agent)
    assert "partenaire 1" not in str(caught.value)
    services.approve_annex(other, by=world.outsider, digest=other.version.digest)
    decision = services.mark_decision_ready(world.project, by=world.agent)
    assert decision.is_ready
    world.publish(missions="6000")  # a later change: the approval no longer holds, the decision waits again
    assert not decision.is_ready and annex.approved_digest is None


def test_the_agency_pages_publish_and_refuse_the_decision_clearly(world, client, login):
    login(world.agent)
    page = f"/agent/annexes/projets/{world.project.reference}"
    assert client.get(page).status_code == 200
    assert client.get(page + "?partenaire=99999999999999999999").status_code == 200  # ignored, not a 500
    data = {"partner": str(world.partner.id), "staff": "100000", "equipment": "0", "missions": "0",
            "subcontracting": "0", "overheads": "0", "requested_aid": "200000", "rate": "100",
            "due_on": "2099-02-02"}
    refused = client.post(page + "/publier", data=data)
    assert refused.status_code == 422 and "dépasse le budget total" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FinancialAnnex)) == 0
    published = client.post(page + "/publier", data={**data, "requested_aid": "100000"})
    assert published.status_code == 302
    annex = db.session.scalar(sa.select(FinancialAnnex))
    assert client.get(f"/agent/annexes/{annex.id}").status_code == 200
    assert annex.reference in client.get("/agent/annexes/").get_data(as_text=True)
    ready = client.post(page + "/decision", data={})
    assert ready.status_code == 409 and "ne peut pas être marquée prête" in ready.get_data(as_text=True)


def test_portal_users_cannot_reach_the_agency_pages(world, client, login):
    login(world.referent)
    assert client.get("/agent/annexes/").status_code == 403
    assert client.get(f"/agent/annexes/projets/{world.project.reference}").status_code == 403


def test_reminder_then_escalation_each_sent_once(world):
    annex = world.publish(due_on=TODAY + timedelta(days=2))
    mails = sa.select(sa.func.count()).select_from(OutboxMessage)
    assert db.session.scalar(mails.where(OutboxMessage.kind == "annex_published")) == 1  # the designated référent
    assert jobs.remind_and_escalate(today=TODAY) == {"reminded": 1, "escalated": 0}
    assert jobs.remind_and_escalate(today=TODAY) == {"reminded": 0, "escalated": 0}
    assert db.session.scalar(mails.where(OutboxMessage.kind == "annex_reminder",
                                         OutboxMessage.recipient == world.referent.email)) == 1
    late = TODAY + timedelta(days=3)
    assert jobs.remind_and_escalate(today=late) == {"reminded": 0, "escalated": 1}
    assert jobs.remind_and_escalate(today=late) == {"reminded": 0, "escalated": 0}
    assert db.session.scalar(mails.where(OutboxMessage.kind == "annex_overdue",
                                         OutboxMessage.recipient == world.agent.email)) == 1
    services.approve_annex(annex, by=world.referent, digest=annex.version.digest)
    assert jobs.remind_and_escalate(today=late + timedelta(days=1)) == {"reminded": 0, "escalated": 0}


def test_figures_and_exports(world, client, login):
    annex = world.publish()
    services.approve_annex(annex, by=world.referent, digest=annex.version.digest)
    world.publish(world.other_partner)
    login(world.agent)
    html = client.get("/agent/annexes/indicateurs").get_data(as_text=True)
    assert "Université Exemple — campus Nord" in html and "100 %" in html
    csv = client.get("/agent/annexes/indicateurs.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].lstrip("\ufeff").startswith("Établissement;SIRET;Annexes en attente")
    assert any(line.startswith("Institut Autre;") and ";1;0;;" in line for line in lines)
    xlsx = client.get("/agent/annexes/indicateurs.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/agent/annexes/indicateurs.pdf").status_code == 404


def test_a_designation_counts_only_while_the_profile_is_held(world, client, login):
    from factories_annexes import grant

    from crm.portal.models import PortalGrant

    mine = world.publish()
    world.publish(world.other_partner)
    db.session.execute(sa.delete(PortalGrant).where(PortalGrant.user_id == world.referent.id))
    grant(world.referent, ProfileKind.ENTITY, world.other.siret)  # the project stays in their portal scope
    login(world.referent)
    assert client.get("/portail/projets/" + world.project.reference).status_code == 200
    assert client.get(f"/portail/annexes/{mine.id}").status_code == 404
    assert "Aucune annexe en attente" in client.get("/portail/annexes/").get_data(as_text=True)


def test_an_annex_follows_its_partner_to_another_establishment(world, client, login):
    mine = world.publish()
    login(world.referent)
    assert client.get(f"/portail/annexes/{mine.id}").status_code == 200
    db.session.execute(sa.update(Partner).where(Partner.id == world.partner.id)
                       .values(organisation_id=world.other.id))  # as the nightly import does
    db.session.commit()
    db.session.expire_all()
    assert mine.organisation_id == world.other.id  # the foreign key cascaded
    assert client.get(f"/portail/annexes/{mine.id}").status_code == 404
    assert mine.reference not in client.get("/portail/annexes/").get_data(as_text=True)
    client.post("/deconnexion")
    login(world.outsider)  # the new establishment's référent
    assert client.get(f"/portail/annexes/{mine.id}").status_code == 200


def test_the_project_sheet_lists_the_annexes_addressed_to_the_referent(world, client, login):
    mine, theirs = world.publish(), world.publish(world.other_partner)
    login(world.referent)
    sheet = client.get("/portail/projets/" + world.project.reference).get_data(as_text=True)
    assert "Annexes financières à valider" in sheet
    assert f"/portail/annexes/{mine.id}" in sheet and f"/portail/annexes/{theirs.id}" not in sheet
    client.post("/deconnexion")
    login(world.outsider)  # designated for the other partner's establishment: that annex only
    other = client.get("/portail/projets/" + world.project.reference).get_data(as_text=True)
    assert f"/portail/annexes/{theirs.id}" in other and f"/portail/annexes/{mine.id}" not in other
    client.post("/deconnexion")
    login(world.colleague)  # the same headquarters profile, but not designated: no block
    sheet = client.get("/portail/projets/" + world.project.reference)
    assert sheet.status_code == 200 and "Annexes financières à valider" not in sheet.get_data(as_text=True)

"""In a real browser, with axe on every page: the agency publishes an annex, the establishment's référent asks
for corrections, the agency publishes a corrected version, the référent approves it, the decision is ready."""

from __future__ import annotations

import pytest

from crm.core import services as crm_services
from crm.core.extensions import db

pytestmark = [pytest.mark.e2e, pytest.mark.committed]
E2E_PASSWORD = "motdepasse-e2e-1"


@pytest.fixture
def annex_world(live_app):
    """An establishment with a référent, a project with one partner there, an agent; committed for the server."""
    from factories_crm import make_org, make_partner, make_project

    from crm.organisations.models import OrgKind
    from crm.portal.models import PortalGrant, ProfileKind
    from tickets.annexes import services

    with live_app.app_context():
        hq = make_org(OrgKind.HEADQUARTERS, name="Université Parcours")
        project = make_project(acronym="PARCOURS")
        make_partner(project, hq)
        agent = crm_services.create_user("agent.annexes@agence.example", "Alice Martin", ["agent"], E2E_PASSWORD)
        referent = crm_services.create_user("referente@univ-parcours.example", "Rose Dupont", ["requester"],
                                            E2E_PASSWORD)
        db.session.add(PortalGrant(user_id=referent.id, kind=ProfileKind.HEADQUARTERS, identifier=hq.siren))
        db.session.flush()
        services.designate_referent(referent, ProfileKind.HEADQUARTERS, hq.siren, referent)
        db.session.commit()
        world = {"agent": agent.email, "referent": referent.email, "project": project.reference}
        db.session.remove()
    return world


def _log_in(browser, base: str, email: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR").new_page()
    page.set_default_timeout(5000)
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(E2E_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    return page


def _publish(desk, staff: str, aid: str) -> None:
    for label, value in (("Frais de personnel (€)", staff), ("Équipement (€)", "20000"), ("Missions (€)", "5000"),
                         ("Prestations de service et sous-traitance (€)", "0"),
                         ("Frais de gestion et de structure (€)", "10000"), ("Aide demandée (€)", aid),
                         ("Taux d'aide applicable (%)", "100")):
        desk.get_by_label(label).fill(value)
    desk.get_by_role("button", name="Publier pour validation").click()
    desk.wait_for_load_state()


def test_publish_correct_approve(live_server, browser, axe_check, annex_world):
    base = live_server
    desk = _log_in(browser, base, annex_world["agent"])
    desk.goto(f"{base}/agent/annexes/projets/{annex_world['project']}")
    axe_check(desk, "annexes du projet")
    _publish(desk, "100000", "200000")  # more aid than the budget allows: refused on its field
    assert "dépasse le budget total" in desk.content()
    axe_check(desk, "publication refusée")
    _publish(desk, "100000", "135000")
    assert "Version 1 de l'annexe publiée" in desk.content()
    axe_check(desk, "annexe, agence")

    office = _log_in(browser, base, annex_world["referent"])
    office.goto(base + "/portail/annexes/")
    axe_check(office, "annexes du référent")
    office.get_by_role("link", name=f"{annex_world['project']}-P1").click()
    office.wait_for_load_state()
    axe_check(office, "annexe, référent")
    office.locator("label", has_text="Je demande des corrections").click()  # the DSFR radio: a person clicks its label
    assert office.get_by_label("Je demande des corrections").is_checked()
    office.get_by_label("Frais de personnel", exact=True).fill("Un poste est compté deux fois.")
    office.get_by_role("button", name="Envoyer ma réponse").click()
    office.wait_for_load_state()
    assert "Votre demande de corrections est transmise" in office.content()
    axe_check(office, "corrections demandées")

    desk.reload()
    assert "Un poste est compté deux fois." in desk.content()
    desk.get_by_role("link", name="Corriger et publier une nouvelle version").click()
    desk.wait_for_load_state()
    assert desk.get_by_label("Frais de personnel (€)").input_value() == "100000.00"  # pre-filled
    _publish(desk, "90000", "125000")
    assert "Version 2 de l'annexe publiée" in desk.content()

    office.reload()
    assert "Modifié" in office.content()
    office.locator("label", has_text="J'approuve cette version").click()  # the DSFR radio: a person clicks its label
    assert office.get_by_label("J'approuve cette version").is_checked()
    office.get_by_role("button", name="Envoyer ma réponse").click()
    office.wait_for_load_state()
    assert "Vous avez approuvé la version 2" in office.content()
    axe_check(office, "annexe approuvée")

    desk.goto(f"{base}/agent/annexes/projets/{annex_world['project']}")
    desk.get_by_role("button", name="Marquer la décision prête à émettre").click()
    desk.wait_for_load_state()
    assert "marquée prête à émettre" in desk.content()
    axe_check(desk, "décision prête")
    desk.goto(base + "/agent/annexes/indicateurs")
    axe_check(desk, "indicateurs")


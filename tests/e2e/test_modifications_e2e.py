"""In a real browser, with axe on every page: a scientific lead files an extension from the project sheet, the
administrative lead co-validates it, an agent accepts it with reasons (issue 12, part 1)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from crm.core import services as crm_services
from crm.core.extensions import db

pytestmark = [pytest.mark.e2e, pytest.mark.committed]
PASSWORD = "motdepasse-e2e-1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world(live_app):
    """A project with a partner whose two leads have accounts, and an agent (committed for the server thread)."""
    from factories_crm import make_org, make_partner, make_person, make_project

    from crm.organisations.models import OrgKind
    from tickets.demo import seed_reference_data
    from tickets.modifications.demo import seed_reference

    with live_app.app_context():
        seed_reference_data()
        seed_reference()
        lead, admin = make_person(last_name="Curie"), make_person(last_name="Langevin")
        project = make_project(acronym="ELAN", coordinator=lead, aid_granted=Decimal("300000.00"),
                               start_date=date(2025, 1, 1), scientific_end_date=date(2027, 12, 31))
        make_partner(project, make_org(OrgKind.HEADQUARTERS), scientific_lead=lead, administrative_lead=admin,
                     is_coordinator=True, aid_granted=Decimal("300000.00"))
        for person in (lead, admin):
            person.user_id = crm_services.create_user(person.email, person.full_name, ["requester"], PASSWORD).id
        crm_services.create_user("agent.modif@agence.example", "Alice Martin", ["agent"], PASSWORD)
        db.session.commit()
        data = {"lead": lead.email, "admin": admin.email, "agent": "agent.modif@agence.example",
                "project": project.reference}
        db.session.remove()
    return data


def _login(browser, base: str, email: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    return page


def test_file_co_validate_and_decide(live_server, browser, axe_check, world):
    base = live_server
    page = _login(browser, base, world["lead"])
    page.goto(f"{base}/portail/projets/{world['project']}")
    axe_check(page, "fiche projet")
    page.get_by_role("link", name="Prolongation ou modification des travaux").click()
    page.wait_for_url("**/modifications/extension")
    axe_check(page, "formulaire de prolongation")
    page.get_by_role("button", name="Déposer la demande").click()  # nothing filled: the errors, nothing filed
    page.wait_for_load_state()
    assert "Ce champ est obligatoire." in page.content()
    axe_check(page, "formulaire en erreur")
    page.get_by_label("Nouvelle date de fin scientifique").fill("2028-06-30")
    page.get_by_label("Motif de la demande").fill("Retard de recrutement du post-doctorant.")
    page.get_by_label("Lettre de demande signée par l'établissement gestionnaire").set_input_files(
        {"name": "lettre.pdf", "mimeType": "application/pdf", "buffer": PDF})
    page.get_by_role("button", name="Déposer la demande").click()
    page.wait_for_url("**/portail/modifications/*")
    assert "En attente de co-validation" in page.content()
    reference = page.locator("h1 .fr-text--lead").text_content().strip(" —")
    axe_check(page, "demande déposée")

    other = _login(browser, base, world["admin"])
    other.goto(base + "/portail/modifications")
    axe_check(other, "tableau de suivi")
    other.get_by_role("link", name=reference).click()
    other.get_by_role("button", name="Co-valider la demande").click()
    other.wait_for_load_state()
    assert "En instruction à l'agence" in other.content()
    axe_check(other, "demande co-validée")

    desk = _login(browser, base, world["agent"])
    desk.goto(base + "/agent/modifications/")
    axe_check(desk, "file des demandes de modification")
    desk.get_by_role("link", name=reference).click()
    axe_check(desk, "demande à instruire")
    desk.get_by_label("Action").select_option("accept")
    desk.get_by_label("Message au demandeur (motivation de la décision)").fill("Prolongation accordée de six mois.")
    desk.get_by_role("button", name="Valider").click()
    desk.wait_for_load_state()
    assert "Acceptée" in desk.content()
    axe_check(desk, "demande acceptée")
    page.reload()
    assert "Prolongation accordée de six mois." in page.content()
    axe_check(page, "décision vue par le déposant")

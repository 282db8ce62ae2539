"""In a real browser: the requester submits, follows and replies; the agent works the ticket from the queue."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from crm.core import services as crm_services
from crm.core.extensions import db

pytestmark = [pytest.mark.e2e, pytest.mark.committed]
E2E_PASSWORD = "motdepasse-e2e-1"

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
#: Screenshots to look at after a run (the folder can be changed with GUICHET_E2E_SCREENSHOTS).
SHOTS = Path(os.environ.get("GUICHET_E2E_SCREENSHOTS") or tempfile.gettempdir())
SCREENSHOTS = {name: str(SHOTS / f"guichet-e2e-{name}.png") for name in ("queue", "ticket", "phone")}


@pytest.fixture
def seeded(live_app):
    """Reference data and an agent, committed for the server thread to see (tables emptied after the test)."""
    from tickets.demo import seed_reference_data

    with live_app.app_context():
        seed_reference_data()
        agent = crm_services.create_user("agent.e2e@agence.example", "Alice Martin", ["agent"], E2E_PASSWORD)
        db.session.commit()
        email = agent.email
        db.session.remove()
    return {"agent_email": email}


def _watch(page, problems: list[str]):
    """Collect what the browser refuses or fails on this page: CSP violations and other console errors, script
    errors, failed requests (but the favicon the browser asks for on its own, which the application has not)."""
    def console(message):
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"{page.url}: {message.text}")

    def response(answer):
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            problems.append(f"{page.url}: {answer.status} on {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on("response", response)
    return page


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_requester_and_agent_journeys(live_server, browser, axe_check, seeded):
    base = live_server
    problems: list[str] = []  # console errors, CSP violations included: none expected on any page
    # --- the requester submits a request with an attachment --------------------------------------------
    requester = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = _watch(requester.new_page(), problems)
    page.set_default_timeout(5000)
    page.goto(base + "/demande")
    axe_check(page, "formulaire de demande")
    page.get_by_label("Nom et prénom").fill("Jeanne Martin")
    page.get_by_label("Adresse électronique").fill("jeanne.martin@labo.example")
    page.get_by_label("Thème de votre demande").select_option("depot")
    page.get_by_label("Objet").fill("Dépôt de ma proposition ANR")
    page.get_by_label("Votre message").fill("Bonjour,\nLa plateforme refuse mon annexe budgétaire. Que faire ?")
    page.wait_for_timeout(600)  # the article suggestions script (a file, under the CSP) asks the server
    page.get_by_label("Pièces jointes").set_input_files(
        [{"name": "budget.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_role("button", name="Envoyer ma demande").click()
    page.wait_for_url("**/demande/envoyee")
    axe_check(page, "confirmation")
    heading = page.locator(".fr-alert__title").inner_text()
    reference = re.search(r"DEM-\d{4}-\d{6}", heading).group(0)
    link = page.locator("#lien-suivi").input_value()
    assert f"/demandes/{reference}?cle=" in link
    requester.close()

    # --- the requester follows it from the secret link (a fresh browser) and replies ------------------------
    follower = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = _watch(follower.new_page(), problems)
    page.set_default_timeout(5000)
    page.goto(link)
    assert page.url == f"{base}/demandes/{reference}"  # the key left the URL
    axe_check(page, "suivi de la demande")
    assert "La plateforme refuse mon annexe" in page.content()
    assert page.get_by_role("link", name=re.compile("budget.pdf")).count() == 1
    page.get_by_label("Votre réponse").fill("J'ajoute : le fichier fait 3 Mo.")
    page.get_by_role("button", name="Envoyer ma réponse").click()
    page.wait_for_load_state()
    assert "Votre réponse a été envoyée." in page.content()
    axe_check(page, "suivi après réponse")

    # --- the agent logs in, finds it in the queue, claims, replies, resolves ----------------------------------
    agent = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
    desk = _watch(agent.new_page(), problems)
    desk.set_default_timeout(5000)
    desk.goto(base + "/connexion")
    axe_check(desk, "connexion")
    desk.get_by_label("Adresse électronique").fill(seeded["agent_email"])
    desk.get_by_label("Mot de passe").fill(E2E_PASSWORD)
    desk.get_by_role("button", name="Se connecter").click()
    desk.wait_for_url("**/agent/file")
    axe_check(desk, "file des demandes")
    row = desk.locator("table tbody tr", has_text=reference)
    assert row.count() == 1 and "Nouvelle" in row.text_content()
    # The queue's keyboard (issue 13): j takes the first row, x ticks it, ? opens the dialog documenting them.
    desk.keyboard.press("j")
    desk.keyboard.press("x")
    assert row.get_by_role("checkbox").is_checked()
    desk.keyboard.press("?")
    shortcuts = desk.get_by_role("dialog", name="Raccourcis clavier de la file")
    shortcuts.wait_for(state="visible")
    axe_check(desk, "raccourcis clavier")
    desk.keyboard.press("Escape")
    shortcuts.wait_for(state="hidden")
    desk.keyboard.press("x")
    assert not row.get_by_role("checkbox").is_checked()
    desk.screenshot(path=SCREENSHOTS["queue"], full_page=True)
    desk.get_by_role("link", name=reference).click()
    desk.wait_for_url(f"**/agent/demandes/{reference}")
    axe_check(desk, "page de la demande")
    desk.get_by_role("button", name="Prendre en charge").click()
    desk.wait_for_load_state()
    assert "Vous avez pris la demande." in desk.content()
    axe_check(desk, "demande prise")
    # A saved reply goes into the text with one click (JavaScript), without leaving the page.
    desk.get_by_label("Réponse type").select_option(label="Accusé de réception détaillé (toutes files)")
    desk.get_by_role("button", name="Insérer la réponse type").click()
    assert "Nous avons bien reçu votre demande" in desk.get_by_label("Réponse au demandeur").input_value()
    desk.get_by_label("Réponse au demandeur").fill(
        "Bonjour,\nLa limite est de 10 Mo : réessayez en PDF compressé.\nCordialement")
    desk.get_by_role("button", name="Envoyer la réponse").click()
    desk.wait_for_load_state()
    assert "Réponse envoyée au demandeur." in desk.content(), desk.content()[-6000:]
    desk.get_by_label("Note interne (jamais visible du demandeur)").fill("Cas fréquent : FAQ à compléter.")
    desk.get_by_role("button", name="Ajouter la note").click()
    desk.wait_for_load_state()
    desk.get_by_role("button", name="Marquer comme résolue").click()
    desk.wait_for_load_state()
    assert "Demande marquée comme résolue." in desk.content()
    axe_check(desk, "demande résolue")
    desk.screenshot(path=SCREENSHOTS["ticket"], full_page=True)

    # --- the requester sees the answer, never the note -------------------------------------------------------
    page.reload()
    html = page.content()
    assert "réessayez en PDF compressé" in html and "Résolue" in html
    assert "FAQ à compléter" not in html
    axe_check(page, "suivi, demande résolue")

    # --- on a phone ------------------------------------------------------------------------------------------
    page.set_viewport_size({"width": 320, "height": 812})
    page.reload()
    axe_check(page, "suivi sur téléphone")
    assert _no_horizontal_scroll(page)
    desk.set_viewport_size({"width": 320, "height": 812})
    desk.goto(base + "/agent/file")
    axe_check(desk, "file sur téléphone")
    assert _no_horizontal_scroll(desk)
    desk.goto(f"{base}/agent/demandes/{reference}")
    axe_check(desk, "demande sur téléphone")
    desk.screenshot(path=SCREENSHOTS["phone"], full_page=True)
    assert _no_horizontal_scroll(desk)
    follower.close()
    agent.close()
    assert problems == [], "\n".join(problems)

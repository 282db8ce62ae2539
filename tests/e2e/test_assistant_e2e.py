"""In a real browser: the assistant's conversation at 1280 and 320 px, focus on each new answer, axe (issue 14)."""

from __future__ import annotations

import re

import pytest

from crm.core import registry
from crm.core.extensions import db

pytestmark = [pytest.mark.e2e, pytest.mark.committed]
DEMO_SEEDERS = (12, 20, 25, 30)  # calls, knowledge base, rules, queues and topics (no accounts: fast)


@pytest.fixture
def seeded(live_app):
    with live_app.app_context():
        context: dict = {"n_tickets": 0}
        for order, _name, seed in registry.seeders(live_app):
            if order in DEMO_SEEDERS:
                seed(context)
        db.session.commit()
        db.session.remove()


def _focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_the_conversation_in_a_browser(live_server, browser, axe_check, seeded):
    for width in (1280, 320):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(8000)
        page.goto(live_server + "/aide")
        axe_check(page, f"aide, {width} px")
        question = "Quelle est la date limite pour déposer ma proposition ?"
        page.get_by_role("textbox", name="Votre question").fill(question)
        page.get_by_role("button", name="Envoyer ma question").click()
        page.wait_for_url(re.compile(r"/aide/assistant/[\w-]+#tour-2$"))
        assert _focused_id(page) == "tour-2"  # the new answer has the focus (and the live log announces it)
        assert page.get_by_text("Votre question concerne-t-elle").is_visible()
        axe_check(page, f"question sur l'appel, {width} px")
        page.get_by_role("button", name=re.compile("AAPG-2026")).click()
        page.wait_for_load_state()
        assert _focused_id(page) == "tour-4"
        assert page.get_by_text("Vaut pour : AAPG-2026").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        axe_check(page, f"réponse, {width} px")
        page.get_by_role("link", name="Poser ma question à un conseiller").click()
        page.wait_for_url(re.compile(r"/demande\?conversation="))
        assert page.get_by_text("Votre conversation avec l’assistant sera jointe à la demande").is_visible()
        axe_check(page, f"formulaire de demande avec la conversation, {width} px")
        context.close()

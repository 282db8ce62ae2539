"""English interface: complete catalogue, placeholders kept, key pages rendered in English."""

from __future__ import annotations

import io
import re
from pathlib import Path

import flask_babel
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from crm.core.extensions import db

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "crm/translations/en/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
PACKAGES = {"crm", "tickets", "expert", "knowledge_base", "notifications"}
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%%|\{[^{}\s]*\}")


def _catalogue():
    with PO.open("rb") as handle:
        return read_po(handle, locale="en")


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogue():
    """Same rule as `make translations`: (re)build the .mo when it is missing or older than the .po."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        with MO.open("wb") as handle:
            write_mo(handle, _catalogue(), use_fuzzy=True)


def _forms(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def test_every_entry_is_translated_not_fuzzy_and_keeps_its_placeholders():
    catalogue = _catalogue()
    assert not catalogue.fuzzy, "the catalogue header is marked fuzzy"
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        strings = _forms(message.string)
        if not all(strings) or len(strings) != len(_forms(message.id)):
            problems.append(f"untranslated: {message.id!r}")
            continue
        expected = set().union(*(_placeholders(i) for i in _forms(message.id)))
        for string in strings:
            if _placeholders(string) != expected:
                problems.append(f"placeholders differ: {message.id!r} -> {string!r}")
    assert not problems, "\n".join(problems)
    assert not list(catalogue.obsolete), "obsolete entries (#~) left in the catalogue"
    assert not any(error for _message, error in catalogue.check()), list(catalogue.check())


def test_placeholder_check_catches_a_dropped_or_renamed_name():
    assert _placeholders("Demande %(ref)s : %(subject)s") == {"%(ref)s", "%(subject)s"}
    assert _placeholders("%(n)s %% de satisfaits, {x}") == {"%(n)s", "%%", "{x}"}
    assert _placeholders("Request %(reference)s") != _placeholders("Demande %(ref)s")


def test_catalogue_holds_every_string_of_the_sources():
    """Every message babel.cfg extracts (calls, label dicts, menus, export headers) is in the .po, translated."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

    def only_packages(path: str) -> bool:
        parts = Path(path).relative_to(ROOT).parts
        return parts[0] in PACKAGES and not any(p.startswith((".", "_")) for p in parts)

    catalogue = _catalogue()
    missing = set()
    for filename, _line, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords, directory_filter=only_packages):
        key = _forms(message)[0]
        entry = catalogue.get(key, context)
        if entry is None or not all(_forms(entry.string)):
            missing.add(f"{filename}: {key!r}")
    assert not missing, ("strings missing from the English catalogue; run pybabel extract + update (see babel.cfg) "
                         "and translate them:\n" + "\n".join(sorted(missing)))


def test_extraction_includes_label_dictionaries_menus_and_export_headers():
    catalogue = _catalogue()
    from crm.portal.exports import PROJECT_COLUMNS
    from tickets.models import PRIORITY_LABELS, STATUS_LABELS
    from tickets.queries import SORTS

    for text in [*STATUS_LABELS.values(), *PRIORITY_LABELS.values(), *SORTS.values(), "File des demandes",
                 PROJECT_COLUMNS[0].header, "La page demandée n'existe pas."]:
        assert catalogue.get(text) is not None and catalogue.get(text).string, text


def _get(client, path: str, **kwargs):
    """GET with the locale chosen afresh: the test's app context (and its `g`, where Flask-Babel caches it) spans
    several requests, whereas each real request gets its own."""
    flask_babel.refresh()
    return client.get(path, **kwargs)


def _english(client, next_path: str = "/connexion"):
    response = client.post("/langue", data={"lang": "en", "next": next_path})
    assert response.status_code == 302


def test_login_page_in_english_after_choosing_the_language(client):
    assert "Se connecter" in _get(client, "/connexion").get_data(as_text=True)
    _english(client)
    html = _get(client, "/connexion").get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "Log in to Guichet" in html and "Log in" in html and "Email address" in html and "Password" in html
    for french in ("Se connecter", "Mot de passe", "Vos identifiants", "Adresse électronique"):
        assert french not in html


def test_request_form_in_english(client, reference_data):
    _english(client, "/demande")
    html = _get(client, "/demande").get_data(as_text=True)
    for english in ("Ask the agency a question", "Full name", "Topic of your request", "Your message",
                    "Send my request", "Fields marked with an asterisk (*) are required."):
        assert english in html
    for french in ("Poser une question à l'agence", "Nom et prénom", "Votre message", "Envoyer ma demande"):
        assert french not in html


def test_help_pages_and_menu_in_english(client):
    _english(client, "/aide")
    html = _get(client, "/aide").get_data(as_text=True)
    assert "Frequently asked questions" in html and "Search the help" in html
    assert ">Help<" in html  # menu label registered with add_menu, translated when displayed
    for french in ("Questions fréquentes", "Rechercher dans l'aide", ">Aide<"):
        assert french not in html


def test_error_page_in_english(client):
    _english(client)
    response = _get(client, "/cette-page-n-existe-pas")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "The page you requested does not exist." in html and "Back to the home page" in html
    assert "La page demandée n'existe pas." not in html


def test_agent_queue_in_english_for_an_agent_whose_locale_is_english(client, make_user, login, make_ticket):
    make_ticket(subject="Dépôt de ma proposition")
    agent = make_user("agent")
    agent.locale = "en"
    db.session.flush()
    login(agent)
    html = _get(client, "/agent/file").get_data(as_text=True)
    assert '<html lang="en"' in html
    for english in ("Request queue", "Filter the queue", "All queues", "Nearest due date", "Take the next one",
                    ">New<", "Nobody"):
        assert english in html, english
    for french in ("File des demandes", "Filtrer la file", "Toutes les files", "Échéance la plus proche",
                   "Prendre la suivante", ">Nouvelle<"):
        assert french not in html, french
    assert "Dépôt de ma proposition" in html  # user content is never translated


def test_french_stays_the_default(client, reference_data):
    html = _get(client, "/demande", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert '<html lang="fr"' in html and "Envoyer ma demande" in html and "Send my request" not in html


def test_service_refusals_are_shown_in_the_users_language(client, reference_data):
    _english(client, "/demande")
    db.session.commit()  # the refused submission rolls back: keep the fixtures' rows
    data = {"name": "Jeanne Martin", "email": "jeanne.martin@labo.example", "topic": "depot", "subject": "Sujet",
            "message": "Bonjour", "project_reference": "", "website": "",
            "attachments": [(io.BytesIO(b"MZ\x90\x00"), "virus.exe")]}
    flask_babel.refresh()
    html = client.post("/demande", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "“virus.exe”: file type not accepted" in html
    assert "type de fichier non accepté" not in html

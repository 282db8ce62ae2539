"""Every page of the application, in French and in English, speaks one language with locale-formatted values.

The pages come from `app.url_map`: every GET rule without arguments, then the pages their links lead to (so the
ticket page, an organisation, a project, the portal's projects and the admin pages are reached with real ids of the
demo data set). Each identity walks them in French and in English. The visible text (tags, scripts and styles
stripped; `title`, `aria-label`, `placeholder` and `alt` included) must hold no English word of the list in French,
no French interface word in English, no internal value (snake_case values, codes of queues, topics and tiers shown
in place of their names), no decimal with a point in French, no time with seconds, no time in UTC and no two-digit
year. A page added later is walked as soon as a link leads to it.
"""

from __future__ import annotations

import re
import time
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from werkzeug.exceptions import HTTPException

from crm.core.extensions import db
from crm.demo.accounts import DEMO_PASSWORD
from tests.demo_dataset import demo_data  # noqa: F401 - the module's fixture

#: Least privileged first: each page is read by the first identity that reaches it (the home page by all).
IDENTITIES = {
    "anonyme": None,
    "portail": "claire.delorme@univ-exemple.fr",  # a laboratory director
    "demandeur": "",  # the demo requester with the most requests
    "agent": "agent@guichet.example",
    "référent": "referent@guichet.example",
    "responsable": "manager@guichet.example",
    "administrateur": "admin@guichet.example",
}
#: Pages read by every identity: what they show depends on who looks.
EVERY_IDENTITY = {"views.home"}
#: Pages of one endpoint read per language: lists by two identities (each sees its own rows and links).
PAGES_PER_ENDPOINT = 1
LISTS_PER_ENDPOINT = 2
#: Endpoints that are not pages to read: they sign out, download or redirect.
SKIPPED = {"auth.logout", "static", "views.dsfr_asset", "tickets_public.static", "views.healthz",
           "notifications.open_notification"}

#: English words and internal values that have no place in the French interface (whole words, case-sensitive).
ENGLISH = re.compile(r"\b(?:Please|please|log in|Log in|PAUSED|Paused|paused|Auto answer|Advisor|requested|"
                     r"imported|draft|published|archived|pending|resolved|closed|open|new|waiting|Submit|Save|"
                     r"Cancel|Search|Previous|Next|Status|Priority|Queue|Error|Errno|Traceback|Exception|"
                     r"None|True|False|null|KB|MB|AM|PM|submission|the|and|with|of)\b")
#: Words of the French interface (not of the content people write) that have no place in the English one; besides
#: these, any text that is exactly a French message of the catalogue is an untranslated string.
FRENCH = re.compile(r"\b(?:Rechercher|Enregistrer|Précédent|Suivant|Annuler|Supprimer|Télécharger|Ko|Mo|octets|"
                    r"Aucune demande|Aucun résultat)\b")
PO = Path(__file__).resolve().parent.parent / "crm/translations/en/LC_MESSAGES/messages.po"
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
#: A decimal written with a point, not part of a version, an address, a file name or a dotted number.
DECIMAL_POINT = re.compile(r"(?<![\w./@:-])\d+\.\d+(?![\w/@-]|\.\w)")
SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")
SHORT_YEAR = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2}\b(?!/)")
UTC = re.compile(r"\bUTC\b|\+00:00")
#: Tags whose text is a code shown as such (identifiers, technical detail on demand, the YAML being edited).
CODE_TAGS = {"code", "pre", "kbd", "samp", "textarea"}
HIDDEN_TAGS = {"script", "style", "template"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCK_TAGS = {"br", "p", "div", "li", "td", "th", "tr", "option", "h1", "h2", "h3", "h4", "label", "dt", "dd"}
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
NOTHING = re.compile(r"(?!x)x")


class _Text(HTMLParser):
    """The visible text of a page in its own language, and its links.

    Left out: scripts and styles, code tags (identifiers shown as such), and the content marked as written in
    another language (an element with a `lang` attribute other than the page's: a French article in English).
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.nodes: list[str] = []  # each piece of visible text on its own (a label, a heading, a cell)
        self.links: list[str] = []
        self.page_lang = ""
        self._open: list[tuple[str, bool]] = []  # (tag, left out)

    def _left_out(self) -> bool:
        return bool(self._open) and self._open[-1][1]

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.page_lang = a.get("lang", "")
            return
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        other_language = bool(a.get("lang")) and a["lang"] != self.page_lang
        left_out = self._left_out() or tag in HIDDEN_TAGS or tag in CODE_TAGS or other_language
        if not left_out:
            self.parts.extend(f" {a[name]} " for name in ATTRIBUTES if a.get(name))
        if tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag not in VOID_TAGS:
            self._open.append((tag, left_out))

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break
        self.parts.append(" ")

    def handle_data(self, data):
        if not self._left_out():
            self.parts.append(data)
            if data.strip():
                self.nodes.append(" ".join(data.split()))

    def text(self) -> str:
        return re.sub(r"[ \t\r\f\v]+", " ", "".join(self.parts))


def visible_text(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return parser.text(), parser.links


def text_nodes(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.nodes


@cache
def french_messages() -> frozenset[str]:
    """The French messages that the English catalogue translates differently: seen whole in English, untranslated."""
    with PO.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    english = {m.string for m in catalogue if isinstance(m.string, str)}
    return frozenset(m.id for m in catalogue if isinstance(m.id, str) and m.id and isinstance(m.string, str)
                     and m.string != m.id and m.id not in english and "%(" not in m.id and len(m.id) > 3)


def _codes() -> re.Pattern:
    """The slugs of queues and topics: seen on a page, they stand where their names should."""
    from tickets.models import Queue, Topic

    slugs = set(db.session.scalars(sa.select(Queue.slug))) | set(db.session.scalars(sa.select(Topic.slug)))
    slugs = sorted(slug for slug in slugs if "-" in slug or "_" in slug)
    return re.compile(r"(?<![\w/.-])(?:" + "|".join(map(re.escape, slugs)) + r")(?![\w/-]|\.\w)") if slugs else NOTHING


def problems_in(text: str, lang: str, codes: re.Pattern) -> list[str]:
    """What is wrong with the visible text of a page in this language."""
    found = []

    def each(kind, pattern):
        for match in pattern.finditer(text):
            start = max(0, match.start() - 40)
            found.append(f"{kind} {match.group(0)!r} in …{text[start:match.end() + 40]!r}")

    if lang == "fr":
        each("English word", ENGLISH)
        each("decimal point", DECIMAL_POINT)
    else:
        each("French word", FRENCH)
    each("internal value", SNAKE)
    each("time with seconds", SECONDS)
    each("two-digit year", SHORT_YEAR)
    each("UTC time", UTC)
    each("code instead of a label", codes)
    return found


class Walker:
    """One identity reading the application, in the language it last chose."""

    def __init__(self, app, identity: str, email: str | None):
        self.app, self.identity, self.lang = app, identity, "fr"
        self.client = app.test_client()
        self.adapter = app.url_map.bind("localhost")
        if email is not None:
            response = self._get_or_post("POST", "/connexion", data={"email": email, "password": DEMO_PASSWORD})
            assert response.status_code == 302, (identity, response.status_code)

    def choose(self, lang: str) -> None:
        self.lang = lang
        self._get_or_post("POST", "/langue", data={"lang": lang, "next": "/"})

    def _get_or_post(self, method: str, url: str, **kwargs):
        with self.app.app_context():  # a fresh `g` per request: the test's own context would keep the user
            return self.client.open(url, method=method, **kwargs)

    def _rule(self, url: str) -> str:
        return self.adapter.match(urlsplit(url).path, "GET", return_rule=True)[0].rule

    def endpoint_of(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return None
        try:
            return self.adapter.match(parts.path, "GET")[0]
        except HTTPException:
            return None

    def walk(self, codes: re.Pattern, read: dict[str, int]) -> list[str]:
        """Read the pages this identity reaches that no one read yet in this language (``read``: by endpoint)."""
        failures: list[str] = []
        seen: set[str] = set()
        queue = sorted(r.rule for r in self.app.url_map.iter_rules() if not r.arguments and "GET" in r.methods)
        while queue:
            url = queue.pop(0)
            endpoint = self.endpoint_of(url)
            if url in seen or endpoint is None or endpoint in SKIPPED or url.startswith("/api/"):
                continue
            seen.add(url)
            limit = LISTS_PER_ENDPOINT if "<" not in self._rule(url) else PAGES_PER_ENDPOINT
            if read.get(endpoint, 0) >= limit and endpoint not in EVERY_IDENTITY:
                continue
            response = self._get_or_post("GET", url)
            response.close()  # a download is streamed from its file
            downloaded = response.headers.get("Content-Disposition", "").startswith("attachment")
            if response.status_code != 200 or response.mimetype != "text/html" or downloaded:
                continue  # a file served for download (an HTML call document, say) is not one of our pages
            read[endpoint] = read.get(endpoint, 0) + 1
            page = _Text()
            page.feed(response.get_data(as_text=True))
            found = problems_in(page.text(), self.lang, codes)
            if self.lang == "en":
                found += [f"untranslated {node!r}" for node in page.nodes if node in french_messages()]
            failures.extend(f"{self.identity} {self.lang} {url}: {p}" for p in found)
            queue.extend(urlsplit(link).path for link in page.links)
        return failures


def _busiest_requester() -> str:
    from crm.core.models import User
    from tickets.models import Ticket

    return db.session.scalar(sa.select(User.email).join(Ticket, Ticket.requester_id == User.id)
                             .group_by(User.email).order_by(sa.func.count().desc(), User.email).limit(1))


def test_the_detector_catches_what_the_walk_looks_for():
    text, _links = visible_text('<p>Pause : PAUSED <span title="Please log in">39.8 %</span></p>'
                                '<script>var x = 1.5;</script><code>ConnectionRefusedError 4.2</code>'
                                "<p>le 19/10/26 à 17:30:05 UTC, follow_up, referents-amendements</p>")
    found = "\n".join(problems_in(text, "fr", re.compile("referents-amendements")))
    for expected in ("'PAUSED'", "'Please'", "'39.8'", "'17:30:05'", "'19/10/26'", "'UTC'", "'follow_up'",
                     "'referents-amendements'"):
        assert expected in found
    assert "1.5" not in found and "4.2" not in found  # scripts and code blocks are not visible text
    clean, _ = visible_text("<p>39,8 % · v1.2.3 · DEM-2026-000001 · rapport-1.2.pdf · jeanne.d@labo.fr</p>"
                            "<p>le 19/10/2026 à 17:30 · Site web</p>")
    assert problems_in(clean, "fr", re.compile("web-form")) == []
    assert problems_in("Aucune demande", "en", NOTHING) and not problems_in("No request", "en", NOTHING)
    marked, _ = visible_text('<html lang="en"><p lang="fr">Aucune demande</p><p>No request</p></html>')
    assert problems_in(marked, "en", NOTHING) == []  # content marked as French is not the interface
    assert "Dans les délais" in french_messages() and "Dans les délais" in text_nodes("<td> Dans les\n délais </td>")


@pytest.mark.usefixtures("demo_data")
def test_every_page_speaks_one_language_with_locale_formats(app):
    started = time.perf_counter()
    codes = _codes()
    identities = {**IDENTITIES, "demandeur": _busiest_requester()}
    failures: list[str] = []
    read: dict[str, dict[str, int]] = {"fr": {}, "en": {}}
    for identity, email in identities.items():
        walker = Walker(app, identity, email)  # one login (a slow password hash) for both languages
        for lang in ("fr", "en"):
            walker.choose(lang)
            failures.extend(walker.walk(codes, read[lang]))
    pages = sum(read["fr"].values()) + sum(read["en"].values())
    print(f"\n{pages} pages, {len(read['fr'])} endpoints in {time.perf_counter() - started:.1f} s")
    for expected in ("tickets_agent.ticket", "crm_orgs.view", "crm_projects.view", "portal.project",
                     "tickets_public.follow", "tickets_manager.sla", "expert.rules_list", "notifications.outbox",
                     "kb.article", "kb_admin.detail", "tickets_triage.stats_page", "auth.login"):
        assert expected in read["fr"] and expected in read["en"], f"{expected} was not read"
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(sorted(set(failures)))

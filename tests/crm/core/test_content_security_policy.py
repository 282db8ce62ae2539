"""Content-Security-Policy: on every page, and no page needs what it forbids (inline scripts, handlers, styles).

A crawler follows every same-site link from the home page and from each page without URL arguments, as an
agent, an administrator and a visitor (a few pages per endpoint), and reads each HTML page it reaches.
"""

from __future__ import annotations

from collections import defaultdict, deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from werkzeug.exceptions import HTTPException

from crm.core.extensions import db
from crm.core.security import CONTENT_SECURITY_POLICY
from tickets import services as ticket_services

PER_ENDPOINT = 3
#: Executable script types: a JSON data block is not run, the CSP does not apply to it.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class _Reader(HTMLParser):
    """The links of a page and what the CSP would refuse to run in it."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.refused: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.refused.append(f"<{tag} {name}=…> event handler")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.refused.append(f"<{tag} {name}=javascript:…>")
        if "style" in attributes:
            self.refused.append(f"<{tag} style=…> inline style")
        if tag == "style":
            self.refused.append("<style> element")
        if tag == "script" and not attributes.get("src") and (
                attributes.get("type") or "text/javascript").lower() not in DATA_SCRIPT_TYPES:
            self.refused.append("inline <script>")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])


def _crawl(app, client, *also: str) -> dict[str, int]:
    """Visit the site as this client; return the number of HTML pages read per endpoint (failing on a refusal)."""
    adapter = app.url_map.bind("localhost")
    start = ["/", *also] + sorted(r.rule for r in app.url_map.iter_rules()
                           if "GET" in r.methods and not r.arguments and not r.rule.startswith(("/static", "/api")))
    queue, seen = deque(start), set(start)
    visits: dict[str, int] = defaultdict(int)
    problems: list[str] = []
    while queue:
        path = queue.popleft()
        try:
            endpoint, _args = adapter.match(urlsplit(path).path, method="GET")
        except HTTPException:
            continue
        if endpoint.endswith("static") or visits[endpoint] >= PER_ENDPOINT:
            continue
        response = client.get(path)
        if response.mimetype != "text/html":
            continue
        visits[endpoint] += 1
        if response.headers.get("Content-Security-Policy") != CONTENT_SECURITY_POLICY:
            problems.append(f"{path} ({response.status_code}): no Content-Security-Policy")
        reader = _Reader()
        reader.feed(response.get_data(as_text=True))
        problems += [f"{path}: {what}" for what in reader.refused]
        for link in reader.links:
            parts = urlsplit(urljoin("http://localhost" + path, link))
            if parts.netloc != "localhost" or parts.path.startswith(("/static", "/api")):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert not problems, "\n".join(problems)
    print(f"{sum(visits.values())} HTML pages of {len(visits)} endpoints read")
    return visits


@pytest.fixture
def site(make_ticket, make_user):
    """A few tickets (one answered), an article with two versions: pages with content to read."""
    from knowledge_base import services as kb

    agent = make_user("agent")
    first = make_ticket()
    make_ticket(subject="Versement de l'aide", requester_email="autre@labo.example")
    ticket_services.reply_to_ticket(first, author=agent, body="Voici la réponse.")
    ticket_services.add_internal_note(first, author=agent, body="Note interne")
    article = kb.create_article({"question": "Quelle est la date limite ?", "answer": "Le **10 décembre**.",
                                 "phrasings": ["Jusqu'à quand ?"], "topic": "calendrier", "calls": []}, agent)
    kb.update_article(article, {"answer": "Le **11 décembre** à 13 h."}, agent)
    kb.publish_article(article, agent)
    db.session.commit()
    return {"agent": agent, "ticket": first}


def test_every_page_of_an_agent_has_the_policy_and_nothing_it_forbids(app, client, login, site):
    login(site["agent"])
    visits = _crawl(app, client)
    for endpoint in ("tickets_agent.queue", "tickets_agent.ticket", "kb.article"):
        assert visits[endpoint] >= 1, endpoint
    assert sum(visits.values()) >= 20


def test_every_page_of_an_administrator_and_a_visitor_too(app, client, site, make_user):
    visits = _crawl(app, client)  # a visitor
    assert visits["tickets_public.new_request"] >= 1 and visits["auth.login"] >= 1
    client.get(f"/demandes/{site['ticket'].reference}?cle={site['ticket'].access_key}")
    follow = _crawl(app, client, f"/demandes/{site['ticket'].reference}")
    assert follow["tickets_public.follow"] >= 1  # the requester's follow page, by its link
    admin = app.test_client()
    password = "motdepasse-admin-csp"
    signed_in = admin.post("/connexion", data={"email": make_user("admin", password=password).email,
                                               "password": password})
    assert signed_in.status_code == 302
    visits = _crawl(app, admin)
    assert visits["kb_admin.revision"] >= 1  # the page that had an inline <style>

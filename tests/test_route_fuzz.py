"""Every route of the application, fuzzed with hostile path values, query strings and bodies: never a 500.

The rules come from `app.url_map` (pages, exports, API, static files: all of them). On the demo data set, each
identity (anonymous, agent, manager, administrator, portal account) first walks its pages to learn real path
values and the forms each page offers; then, for every rule, hypothesis draws URLs mixing real values with hostile
ones (NUL, `%00`, huge and negative integers, very long and unicode strings), hostile query strings and, for the
methods that take a body, the real form of the page with hostile values, multipart uploads, JSON and garbage.
Any answer 500, or any exception escaping a view, fails the test with the list of requests that caused it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from crm.core.extensions import db
from crm.demo.accounts import DEMO_PASSWORD
from tests.demo_dataset import demo_data  # noqa: F401 - the module's fixture

#: Examples drawn per rule and identity (deterministic: derandomize).
EXAMPLES = 4
IDENTITIES = {
    "anonyme": None,
    "agent": "agent@guichet.example",
    "responsable": "manager@guichet.example",
    "administrateur": "admin@guichet.example",
    "portail": "claire.delorme@univ-exemple.fr",  # a laboratory director: the portal's projects and exports
}
HUGE = "99999999999999999999"
HOSTILE = [
    "\x00", "a\x00b", "%00", "DEM%00", "DEM-2026-000001\x00", HUGE, "-" + HUGE, "9" * 400, "-1", "0", "1e309",
    "NaN", "", " ", "\r\n", "a" * 5_000, "é" * 1_000, "🙂" * 300, "中文字符", "\u202eevil", "' OR '1'='1",
    "<script>alert(1)</script>", "../../etc/passwd", "{{7*7}}", "null", "[]", "true", "2026-02-30",
    "@", "x" * 250 + "@exemple.fr",
]
#: Raw query strings that no dictionary encodes: invalid UTF-8, overlong NUL, empty names, arrays.
RAW_QUERIES = ["%ff%fe=%ff", "page=%00", "q=%C0%80", "&&&==", "page[]=1&page[]=2", "page=1&page=" + HUGE,
               "per_page=-1", "per_page=" + HUGE, "page=-5", "=x", "q=%", "next=//evil.example/"]
#: Query parameters the code reads besides the fields of the forms it renders.
QUERY_NAMES = ["page", "per_page", "q", "k", "next", "cle", "note", "statut", "theme", "du", "au", "appel",
               "status", "priority", "queue", "topic", "assignee", "sla_state", "call", "state", "sort", "format"]
#: The identity that sees every form (administrators pass every role check) tries each field alone.
SWEEP_IDENTITY = "administrateur"
#: Discovery: at most this many pages per endpoint.
PAGES_PER_ENDPOINT = 2


@dataclass
class Form:
    fields: dict[str, list[str]]
    options: dict[str, list[str]]  # the values a select or radio offers
    url: str = ""  # where the page posts it


@dataclass
class Knowledge:
    """What an identity saw of the application: real path values, forms by endpoint."""

    values: dict[tuple[str, str], list] = field(default_factory=dict)  # (endpoint, argument) -> values
    by_argument: dict[str, list] = field(default_factory=dict)  # argument -> values, any endpoint
    forms: dict[str, Form] = field(default_factory=dict)
    field_names: set[str] = field(default_factory=set)


class _Page(HTMLParser):
    """The links and forms of an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[str, str, Form]] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form({}, {})
            self.forms.append((a.get("action", ""), a.get("method", "get").lower(), self._form))
        elif self._form is not None and a.get("name"):
            name = a["name"]
            if tag == "input":
                kind = a.get("type", "text")
                if kind in ("checkbox", "radio"):
                    self._form.options.setdefault(name, []).append(a.get("value", "on"))
                    if "checked" in a:
                        self._form.fields.setdefault(name, []).append(a.get("value", "on"))
                elif kind not in ("submit", "button", "file"):
                    self._form.fields.setdefault(name, []).append(a.get("value", ""))
            elif tag == "textarea":
                self._textarea = name
                self._form.fields.setdefault(name, []).append("")
            elif tag == "select":
                self._select = name
                self._form.fields.setdefault(name, [])
        elif tag == "option" and self._form is not None and self._select:
            self._form.options.setdefault(self._select, []).append(a.get("value", ""))
            if not self._form.fields[self._select] or "selected" in a:
                self._form.fields[self._select] = [a.get("value", "")]

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form.fields[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None


def _rules(app) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods or ())))


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def _is_int(rule: Rule, argument: str) -> bool:
    return type(rule._converters[argument]).__name__ == "IntegerConverter"


class Visitor:
    """A test client signed in as one identity, recording the 500s and exceptions it meets."""

    def __init__(self, app, client, identity: str, email: str | None, token: str | None):
        self.app, self.client, self.identity, self.email, self.token = app, client, identity, email, token
        self.adapter = app.url_map.bind("localhost")
        self.failures: list[str] = []
        self.requests = 0

    def sign_in(self) -> None:
        if self.email is None:
            return
        with self.client.session_transaction() as session:
            if session.get("_user_id"):
                return
        response = self.client.post("/connexion", data={"email": self.email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, (self.identity, response.status_code)

    def send(self, method: str, url: str, **kwargs):
        """One request; a 500 or an exception is recorded, never raised."""
        self.requests += 1
        headers = kwargs.pop("headers", {})
        if self.token and url.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.client.open(url, method=method, headers=headers, **kwargs)
        except Exception as error:  # noqa: BLE001 - the test's very point: any escaping exception is a failure
            db.session.rollback()
            self.failures.append(f"{self.identity} {method} {url[:300]!r} {_describe(kwargs)}: "
                                 f"{type(error).__name__}: {str(error)[:300]}")
            self.sign_in()
            return None
        response.get_data()  # read and close: static files are streamed
        response.close()
        if response.status_code >= 500:
            self.failures.append(f"{self.identity} {method} {url[:300]!r} {_describe(kwargs)}: "
                                 f"{response.status_code}")
        if method == "POST":
            self.sign_in()  # the fuzz may have signed out
        return response

    def endpoint_of(self, url: str, method: str = "GET"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return None
        try:
            return self.adapter.match(parts.path, method)
        except HTTPException:
            return None
        except Exception:  # noqa: BLE001 - a redirect rule or an odd link: not a page to learn from
            return None


def _describe(kwargs) -> str:
    body = kwargs.get("data") if kwargs.get("data") is not None else kwargs.get("json")
    return "" if body is None else f"body={str(body)[:300]}"


def discover(visitor: Visitor) -> Knowledge:
    """Walk the pages of the identity (a bounded breadth-first visit) and learn path values and forms."""
    knowledge = Knowledge()
    seen_urls: set[str] = set()
    per_endpoint: dict[str, int] = {}
    queue = [rule.rule for rule in _rules(visitor.app) if not rule.arguments and "GET" in _methods(rule)]
    while queue:
        url = queue.pop(0)
        if url in seen_urls:
            continue
        seen_urls.add(url)
        match = visitor.endpoint_of(url)
        if match is None:
            continue
        endpoint, _args = match
        if per_endpoint.get(endpoint, 0) >= PAGES_PER_ENDPOINT or endpoint == "auth.logout":
            continue
        per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1
        response = visitor.send("GET", url)
        if response is None or response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = _Page()
        page.feed(response.get_data(as_text=True))
        for link in page.links:
            found = visitor.endpoint_of(link)
            if found is not None:
                _learn(knowledge, *found)
                if urlsplit(link).path not in seen_urls:
                    queue.append(urlsplit(link).path)
        for action, method, form in page.forms:
            target = urlsplit(action).path or urlsplit(url).path
            found = visitor.endpoint_of(target, "POST" if method == "post" else "GET")
            knowledge.field_names.update(form.fields)
            if found is not None:
                _learn(knowledge, *found)
                form.url = target
                if method == "post":
                    knowledge.forms.setdefault(found[0], form)
    return knowledge


def _learn(knowledge: Knowledge, endpoint: str, args: dict) -> None:
    for name, value in args.items():
        for bucket in (knowledge.values.setdefault((endpoint, name), []), knowledge.by_argument.setdefault(name, [])):
            if value not in bucket and len(bucket) < 20:
                bucket.append(value)


def _path_value(knowledge: Knowledge, rule: Rule, argument: str):
    """Real values seen for this argument (most often), or hostile ones."""
    real = knowledge.values.get((rule.endpoint, argument)) or knowledge.by_argument.get(argument) or []
    if _is_int(rule, argument):
        hostile = st.one_of(st.integers(min_value=0, max_value=10**30), st.sampled_from([HUGE, "9" * 400]))
    else:
        hostile = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
    return st.one_of(st.sampled_from(real), hostile) if real else hostile


_VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30), st.integers(min_value=-10**25, max_value=10**25))


@st.composite
def _query(draw, knowledge: Knowledge) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(RAW_QUERIES))
    names = sorted(set(QUERY_NAMES) | knowledge.field_names)
    pairs = draw(st.lists(st.tuples(st.sampled_from(names), _VALUES), max_size=4))
    return urlencode([(k, str(v)) for k, v in pairs], quote_via=quote)


@st.composite
def _body(draw, knowledge: Knowledge, endpoint: str) -> dict:
    """Request arguments of a body: the page's own form with hostile values, multipart, JSON or garbage."""
    form = knowledge.forms.get(endpoint, Form({}, {}))
    names = sorted(form.fields) or sorted(knowledge.field_names)
    data: dict[str, list] = {k: list(v) for k, v in form.fields.items()}
    for name, options in form.options.items():  # a valid choice, often
        if options and draw(st.booleans()):
            data[name] = [draw(st.sampled_from(options))]
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        data[name] = [str(draw(_VALUES)) for _ in range(draw(st.integers(min_value=1, max_value=2)))]
    kind = draw(st.sampled_from(["form", "form", "multipart", "json", "raw"]))
    if kind == "form":
        return {"data": data}
    if kind == "multipart":
        import io

        filename = draw(st.sampled_from(["a\x00.pdf", "../../x.pdf", "é" * 300 + ".pdf", "x.exe", "", "ok.pdf"]))
        content = draw(st.sampled_from([b"%PDF-1.4\n", b"", b"\x00" * 64, b"MZ\x90\x00"]))
        files = {"attachments": (io.BytesIO(content), filename), "file": (io.BytesIO(content), filename)}
        return {"data": {**data, **files}, "content_type": "multipart/form-data"}
    if kind == "json":
        document = draw(st.sampled_from([
            {k: v[0] for k, v in data.items()}, {k: [1, {"x": None}] for k in names[:3]}, [], "x", 1e308, None,
            {"subject": "s", "body": "b", "requester_email": "a@b.fr", "status": HUGE, "internal": "oui"},
        ]))
        return {"data": json.dumps(document), "content_type": "application/json"}
    raw = draw(st.sampled_from([b"\xff\xfe\x00", b"[" * 200, b"=&=&%zz", b"a=" + b"b" * 100_000, b"{\"a\":"]))
    content_type = draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain"]))
    return {"data": raw, "content_type": content_type}


def fuzz(visitor: Visitor, knowledge: Knowledge, rule: Rule) -> None:
    """Hypothesis draws requests to one rule; every failure is recorded by the visitor."""
    methods = _methods(rule)
    arguments = sorted(rule._converters)

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        values = {name: data.draw(_path_value(knowledge, rule, name), label=name) for name in arguments}
        path = _build(rule, values)
        query = data.draw(_query(knowledge), label="query")
        method = data.draw(st.sampled_from(methods), label="method")
        url = path + ("?" + query if query else "")
        kwargs = data.draw(_body(knowledge, rule.endpoint), label="body") if method in ("POST", "PUT") else {}
        visitor.send(method, url, **kwargs)

    run()


def sweep(visitor: Visitor, knowledge: Knowledge) -> None:
    """Each field of each form learnt, alone too long or a huge number, the rest valid: the column limits."""
    for endpoint, form in sorted(knowledge.forms.items()):
        if endpoint == "auth.logout":
            continue
        for name in sorted(form.fields):
            for value in ("é" * 3_000, HUGE):
                visitor.send("POST", form.url, data={**form.fields, name: value})


def _build(rule: Rule, values: dict) -> str:
    """The path of a rule with these values quoted as they come (so that '%00' stays a literal '%00')."""
    path = ""
    for is_argument, part in rule._trace:
        if is_argument:
            path += quote(str(values[part]), safe="")
        else:
            path += part
    return path.split("|", 1)[1] if "|" in path else path


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize("identity", IDENTITIES)
def test_no_route_answers_500_to_hostile_input(app, identity):
    from crm.core.services import create_api_token, user_by_email

    email = IDENTITIES[identity]
    clear = create_api_token(user_by_email(email), "fuzz")[1] if email else None
    db.session.commit()  # kept by the error responses, which roll back what the test did not commit
    visitor = Visitor(app, app.test_client(), identity, email, clear)
    visitor.sign_in()
    started = time.perf_counter()
    knowledge = discover(visitor)
    rules = _rules(app)
    if identity == SWEEP_IDENTITY:
        sweep(visitor, knowledge)
    for rule in rules:
        fuzz(visitor, knowledge, rule)
    print(f"\n{identity}: {len(rules)} règles, {len(knowledge.forms)} formulaires appris, "
          f"{visitor.requests} requêtes en {time.perf_counter() - started:.1f} s")
    assert len(rules) > 90  # every rule of the application, not only the API
    assert not visitor.failures, f"{len(visitor.failures)} réponses 500 :\n" + "\n".join(visitor.failures)

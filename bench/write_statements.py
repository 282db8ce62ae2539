"""SQL statements, commits and time per write action, through the real HTTP routes (issue 9).

    taskset -c 1 .venv/bin/python bench/write_statements.py [--runs 50] [--database-url URL] [--json]
    taskset -c 1 .venv/bin/python bench/write_statements.py --runs 5 --show agent-reply

Builds an application with the test settings (CSRF and rate limits off) on a scratch database: a temporary
SQLite file by default, or the PostgreSQL database named in --database-url, created for the run and dropped
after it (it must not exist, unless --replace). It seeds the demo reference data (queues, topics, calendars,
SLA policies, saved replies), the demo triage rules, three published articles, three agents, a manager, two
référents of the amendments group and a requester account, then performs each action --runs times with
the Flask test client, each time on a ticket prepared for it through the same routes (not measured; the
requester's tickets are filed from the requester's logged-in client, whose session may then follow them):

    submit-human, submit-routed, submit-auto   POST /demande (anonymous), the three triage outcomes
    claim                                      POST /agent/demandes/<ref>/prendre on a new ticket
    agent-reply                                POST /agent/demandes/<ref>/repondre, first reply on a claimed ticket
    internal-note                              POST /agent/demandes/<ref>/note on a claimed ticket
    status-hold, status-resolve                POST /agent/demandes/<ref>/attente | /resoudre after a reply
    requester-reply                            POST /demandes/<ref>/repondre while waiting (requester logged in)
    merge                                      POST /agent/demandes/<ref>/fusionner into another new ticket
    auto-confirm, auto-advisor                 POST /demandes/<ref>/reponse-automatique/resolue | /conseiller

Per request: SQL statements counted on the engine (before_cursor_execute; an executemany is one statement;
SAVEPOINT / RELEASE / ROLLBACK TO and SQLite's explicit BEGIN are left out, as in
tests/tickets/test_submission_statements.py), commits counted on every Session (after_commit), and the
wall-clock time of the test-client call (routing, the view, SQL, the redirect response; no HTTP server).
Only the HTTP routes and the models are used, so the script follows the application as it changes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm import create_app  # noqa: E402
from crm.core.config import TestConfig  # noqa: E402
from crm.core.extensions import db  # noqa: E402

PASSWORD = "banc-d-essai-ecritures-1"  # noqa: S105 - accounts of a scratch database
LIMIT = 12
IGNORED = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN")

ANONYMOUS = {"name": "Jeanne Demandeur", "email": "jeanne@labo.example"}
REQUESTER_EMAIL = "demandeur@labo.example"
FORMS = {
    # left to people in the topic's queue
    "human": {"topic": "depot", "subject": "Problème de dépôt",
              "message": "Je n'arrive pas à téléverser mon document scientifique."},
    # a rule sets the topic and routes to the amendments référents
    "routed": {"topic": "depot", "subject": "Prolongation du projet",
               "message": "Nous souhaitons prolonger notre projet de 6 mois, comment faire un avenant ?"},
    # answered from the knowledge base
    "auto": {"topic": "calendrier", "subject": "Date limite",
             "message": "Quelle est la date limite pour déposer ma proposition ?"},
}
ARTICLES = [
    ("kb-date-limite", "Quelle est la date limite de dépôt des propositions ?",
     ["Jusqu'à quand puis-je déposer mon projet ?", "Quand ferme la plateforme de dépôt ?"],
     "La date limite figure dans le texte de l'appel : **13 h**, heure de Paris.", "calendrier"),
    ("kb-avenant", "Comment demander un avenant à la convention ?", ["Comment prolonger mon projet ?"],
     "Depuis l'espace projet, rubrique *Demandes de modification*.", "avenant"),
    ("kb-frais", "Quel est le taux des frais de gestion ?", ["Frais de gestion pour un établissement public"],
     "Le taux est de 8 %.", "financement"),
]


# -- database -----------------------------------------------------------------------------------------


def create_database(url: str, replace: bool) -> None:
    target = make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
        if exists and not replace:
            raise SystemExit(f"La base {target.database} existe déjà (--replace pour la recréer).")
        if exists:
            connection.exec_driver_sql(f'DROP DATABASE "{target.database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    engine.dispose()


def drop_database(url: str) -> None:
    target = make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    engine.dispose()


def build_app(url: str, uploads: str):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=url, UPLOAD_FOLDER=uploads)
    return create_app(config)


def seed(app) -> None:
    """Schema, demo reference data and rules, three articles, staff and a requester (committed)."""
    from crm.core import services as accounts
    from expert import RULES_FILE, ruleset
    from expert.models import ReferentProfile
    from knowledge_base.services import create_article
    from tickets.demo import seed_reference_data
    from tickets.models import QueueMember

    with app.app_context():
        db.drop_all()
        db.create_all()
        users = {key: accounts.create_user(f"{key}@guichet.example", name, [role], PASSWORD)
                 for key, name, role in [("agent", "Agent Un", "agent"), ("agent2", "Agent Deux", "agent"),
                                         ("agent3", "Agent Trois", "agent"), ("manager", "Responsable", "manager"),
                                         ("referent", "Référente Une", "referent"),
                                         ("referent2", "Référent Deux", "referent")]}
        accounts.create_user(REQUESTER_EMAIL, "Jean Demandeur", ["requester"], PASSWORD)
        queues = seed_reference_data(users)["queues"]
        amendments = queues["referents-amendements"]
        db.session.add(QueueMember(queue=amendments, user=users["referent2"]))
        for key in ("referent", "referent2"):
            db.session.add(ReferentProfile(user=users[key], group=amendments, topics=["avenant"]))
        for ext, question, phrasings, answer, topic in ARTICLES:
            create_article({"question": question, "phrasings": phrasings, "answer": answer, "topic": topic,
                            "status": "published"}, None, external_id=ext)
        ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=None)
        db.session.commit()


# -- measuring ----------------------------------------------------------------------------------------


class Recorder:
    """Statements and commits of whatever runs while `active`."""

    def __init__(self) -> None:
        self.active = False
        self.statements: list[str] = []
        self.commits = 0

    def on_statement(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if self.active and not statement.lstrip().upper().startswith(IGNORED):
            self.statements.append(" ".join(statement.split()))

    def on_commit(self, _session) -> None:
        if self.active:
            self.commits += 1

    def install(self, app) -> None:
        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", self.on_statement)
        sa.event.listen(sa.orm.Session, "after_commit", self.on_commit)


@dataclass
class Sample:
    statements: list[str]
    commits: int
    ms: float
    status: int


@dataclass
class Action:
    name: str
    label: str
    prepare: Callable[[], dict]  # → keyword arguments of perform (not measured)
    perform: Callable[..., object]  # one HTTP request (measured)
    expect: int = 302
    #: what the ticket of `ref` looks like afterwards (checked through the models, not measured)
    after: Callable[[object], bool] | None = None
    samples: list[Sample] = field(default_factory=list)


class Bench:
    def __init__(self, app) -> None:
        self.app = app
        self.recorder = Recorder()
        self.recorder.install(app)
        self.public = app.test_client()  # anonymous visitor: submissions
        self.agent = self._logged_in("agent@guichet.example")
        self.requester = self._logged_in(REQUESTER_EMAIL)

    def _logged_in(self, email: str):
        client = self.app.test_client()
        response = client.post("/connexion", data={"email": email, "password": PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"Connexion impossible pour {email} : {response.status_code}")
        return client

    # helpers through the routes, not measured

    def _check(self, response, what: str) -> None:
        if response.status_code not in (200, 302):
            raise SystemExit(f"{what} : statut {response.status_code}\n{response.get_data(as_text=True)[:800]}")

    def latest_reference(self) -> tuple[str, str]:
        from tickets.models import Ticket

        with self.app.app_context():
            ticket = db.session.scalar(sa.select(Ticket).order_by(Ticket.id.desc()).limit(1))
            return ticket.reference, str(ticket.status)

    def ticket_is(self, reference: str, check: Callable[[object], bool]) -> bool:
        from tickets.models import Ticket

        with self.app.app_context():
            return check(db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference)))

    def submit(self, kind: str, client=None) -> str:
        """A ticket of the requester account, filed from `client` (default the anonymous one).

        The client that files a ticket may follow it (the session remembers it, as after opening the e-mail
        link), so the requester's own actions are filed from the requester's logged-in client.
        """
        response = (client or self.public).post("/demande", data={"name": "Jean Demandeur", "email": REQUESTER_EMAIL,
                                                                  **FORMS[kind]})
        self._check(response, f"dépôt {kind}")
        reference, status = self.latest_reference()
        expected = {"human": "new", "routed": "open", "auto": "auto_answered"}[kind]
        if status != expected:
            raise SystemExit(f"dépôt {kind} : statut {status} au lieu de {expected} (règles ou articles changés ?)")
        return reference

    def agent_post(self, reference: str, action: str, data: dict | None = None):
        response = self.agent.post(f"/agent/demandes/{reference}/{action}", data=data or {})
        self._check(response, f"{action} {reference}")
        return response

    def claimed(self) -> str:
        reference = self.submit("human")
        self.agent_post(reference, "prendre")
        return reference

    def replied(self, next_status: str = "", client=None) -> str:
        reference = self.submit("human", client)
        self.agent_post(reference, "prendre")
        self.agent_post(reference, "repondre", {"body": "Bonjour, pouvez-vous préciser ?", "next_status": next_status})
        return reference

    # the actions

    def actions(self) -> list[Action]:
        agent, requester = self.agent, self.requester

        def submission(kind: str) -> Action:
            return Action(f"submit-{kind}", f"public submission, {kind} (POST /demande)", dict,
                          lambda: self.public.post("/demande", data={**ANONYMOUS, **FORMS[kind]}))

        return [
            submission("human"), submission("routed"), submission("auto"),
            Action("claim", "claim a new ticket", lambda: {"ref": self.submit("human")},
                   lambda ref: agent.post(f"/agent/demandes/{ref}/prendre"),
                   after=lambda t: t.assignee_id is not None),
            Action("agent-reply", "agent reply, first response (claimed ticket)", lambda: {"ref": self.claimed()},
                   lambda ref: agent.post(f"/agent/demandes/{ref}/repondre", data={
                       "body": "Bonjour,\n\nLe bouton est grisé tant que le PDF dépasse 10 Mo.\n\nCordialement",
                       "next_status": ""}), after=lambda t: t.first_responded_at is not None),
            Action("internal-note", "internal note (claimed ticket)", lambda: {"ref": self.claimed()},
                   lambda ref: agent.post(f"/agent/demandes/{ref}/note",
                                          data={"note": "Vérifier la taille du fichier avec l'équipe."})),
            Action("status-hold", "status change: on hold (after a reply)", lambda: {"ref": self.replied()},
                   lambda ref: agent.post(f"/agent/demandes/{ref}/attente"),
                   after=lambda t: t.status == "waiting_on_requester"),
            Action("status-resolve", "status change: resolve (after a reply)", lambda: {"ref": self.replied()},
                   lambda ref: agent.post(f"/agent/demandes/{ref}/resoudre"), after=lambda t: t.status == "resolved"),
            Action("requester-reply", "requester reply on the follow page (ticket waiting)",
                   lambda: {"ref": self.replied("waiting_on_requester", requester)},
                   lambda ref: requester.post(f"/demandes/{ref}/repondre",
                                              data={"body": "Le fichier fait 12 Mo, je le compresse."}),
                   after=lambda t: t.status == "open"),
            Action("merge", "merge a duplicate into another new ticket",
                   lambda: {"ref": self.submit("human"), "target": self.submit("human")},
                   lambda ref, target: agent.post(f"/agent/demandes/{ref}/fusionner", data={"target": target}),
                   after=lambda t: t.merged_into_id is not None),
            Action("auto-confirm", "auto answer confirmed (« Cela répond à ma question »)",
                   lambda: {"ref": self.submit("auto", requester)},
                   lambda ref: requester.post(f"/demandes/{ref}/reponse-automatique/resolue"),
                   after=lambda t: t.status == "resolved"),
            Action("auto-advisor", "auto answer: ask for an advisor", lambda: {"ref": self.submit("auto", requester)},
                   lambda ref: requester.post(f"/demandes/{ref}/reponse-automatique/conseiller"),
                   after=lambda t: t.status in ("new", "open")),
        ]

    def measure(self, action: Action, runs: int, warmup: int) -> None:
        recorder = self.recorder
        for i in range(warmup + runs):
            kwargs = action.prepare()
            recorder.statements, recorder.commits = [], 0
            recorder.active = True
            started = time.perf_counter()
            try:
                response = action.perform(**kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                recorder.active = False
            if response.status_code != action.expect:
                raise SystemExit(f"{action.name} : statut {response.status_code} au lieu de {action.expect}\n"
                                 f"{response.get_data(as_text=True)[:800]}")
            flashed = response.headers.get("Location", "")
            if action.name.startswith("submit") and "/demande/envoyee" not in flashed:
                raise SystemExit(f"{action.name} : redirigé vers {flashed}")
            if action.after is not None and not self.ticket_is(kwargs["ref"], action.after):
                raise SystemExit(f"{action.name} : la demande {kwargs['ref']} n'est pas dans l'état attendu après "
                                 f"l'action (refusée ?)")
            if i >= warmup:
                action.samples.append(Sample(recorder.statements, recorder.commits, elapsed, response.status_code))


# -- reporting ----------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(action: Action) -> dict:
    counts = [len(s.statements) for s in action.samples]
    commits = [s.commits for s in action.samples]
    times = [s.ms for s in action.samples]
    return {"action": action.name, "label": action.label, "runs": len(action.samples),
            "statements_median": statistics.median(counts), "statements_min": min(counts),
            "statements_max": max(counts), "commits_min": min(commits), "commits_max": max(commits),
            "p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2)}


def _number(value: float) -> str:
    return f"{value:g}"


def markdown(rows: list[dict]) -> str:
    lines = ["| action | statements (median, max) | commits | p50 ms | p95 ms |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        over = " **>12**" if row["statements_max"] > LIMIT else ""
        commits = (str(row["commits_min"]) if row["commits_min"] == row["commits_max"]
                   else f"{row['commits_min']}–{row['commits_max']}")
        lines.append(f"| `{row['action']}` {row['label']} | {_number(row['statements_median'])}, "
                     f"{row['statements_max']}{over} | {commits} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} |")
    return "\n".join(lines)


_TABLE = re.compile(r"^(?:INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)|\bFROM\s+\"?(\w+)", re.IGNORECASE)


def shape(statement: str) -> str:
    """'SELECT tickets', 'INSERT ticket_events', 'NOTIFY' …: the verb and the first table named."""
    verb = statement.split(None, 1)[0].upper() if statement else "?"
    match = _TABLE.search(statement)
    table = next((g for g in match.groups() if g), "") if match else ""
    return f"{verb} {table}".strip()


def show(action: Action, width: int) -> str:
    """The statements of the request whose count is the median of the action's runs, and their shapes."""
    counts = [len(s.statements) for s in action.samples]
    target = sorted(counts)[len(counts) // 2]
    sample = next(s for s in action.samples if len(s.statements) == target)
    lines = [f"{action.name} ({action.label}): {len(sample.statements)} statements, {sample.commits} commit(s), "
             f"{sample.ms:.1f} ms"]
    for number, statement in enumerate(sample.statements, 1):
        text = statement if width <= 0 or len(statement) <= width else statement[:width] + " …"
        lines.append(f"{number:3d}. {text}")
    lines.append("by kind: " + ", ".join(f"{k} ×{n}" for k, n in Counter(map(shape, sample.statements)).most_common()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=50, help="measured requests per action (default 50)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests per action first (default 2)")
    parser.add_argument("--database-url", help="PostgreSQL URL of a scratch database, created then dropped")
    parser.add_argument("--replace", action="store_true", help="drop the scratch database first if it exists")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database after the run")
    parser.add_argument("--only", action="append", help="measure only this action (repeatable)")
    parser.add_argument("--show", metavar="ACTION", action="append",
                        help="print the statements of one request of ACTION (the median one; repeatable)")
    parser.add_argument("--width", type=int, default=240, help="cut shown statements at this length (0: never)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the Markdown table")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="guichet-writes-")
    url = args.database_url
    if url:
        if not url.startswith("postgresql"):
            raise SystemExit("--database-url : une URL PostgreSQL (la base SQLite par défaut est temporaire)")
        create_database(url, args.replace)
    else:
        url = "sqlite:///" + os.path.join(scratch.name, "bench.sqlite3")
    os.environ.setdefault("GUICHET_INSTANCE_PATH", scratch.name)
    try:
        app = build_app(url, os.path.join(scratch.name, "uploads"))
        seed(app)
        bench = Bench(app)
        actions = bench.actions()
        known = {a.name for a in actions}
        wanted = set(args.only or []) | set(args.show or [])
        if wanted - known:
            raise SystemExit(f"actions inconnues : {', '.join(sorted(wanted - known))} (connues : {', '.join(known)})")
        if args.only:
            actions = [a for a in actions if a.name in wanted]
        started = time.perf_counter()
        for action in actions:
            bench.measure(action, args.runs, args.warmup)
            print(f"… {action.name}", file=sys.stderr)
        rows = [summary(a) for a in actions]
        with app.app_context():
            backend = db.engine.dialect.name
            version = "SELECT version()" if backend == "postgresql" else "SELECT sqlite_version()"
            server = db.session.scalar(sa.text(version))
        meta = {"backend": backend, "server": server, "runs": args.runs, "warmup": args.warmup,
                "seconds": round(time.perf_counter() - started, 1), "limit": LIMIT,
                "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_average": [round(x, 2) for x in os.getloadavg()]}
        if args.json:
            print(json.dumps({**meta, "actions": rows}, ensure_ascii=False, indent=2))
        else:
            print(f"{backend} ({str(server).split(' on ')[0]}), {args.runs} runs per action after {args.warmup} "
                  f"warm-up, {meta['at']}, load average {meta['load_average'][0]}\n")
            print(markdown(rows))
        for name in args.show or []:
            print("\n" + show(next(a for a in actions if a.name == name), args.width),
                  file=sys.stderr if args.json else sys.stdout)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if args.database_url and not args.keep:
            drop_database(args.database_url)
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

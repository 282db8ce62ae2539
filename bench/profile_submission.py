"""Where one public submission spends its time: cProfile over N × POST /demande, in process (issue 9).

    taskset -c 1 .venv/bin/python bench/profile_submission.py [--runs 200] [--database-url URL] [--top 40]
    .venv/bin/python bench/profile_submission.py --database-url postgresql+psycopg://postgres@127.0.0.1:55432/guichet_profile

Builds an application on a scratch database (a temporary SQLite file by default, or the PostgreSQL database of
--database-url, created for the run and dropped after it) with the same seed as bench/write_statements.py
(demo reference data, the demo triage rules, three articles, staff accounts), plus the demo knowledge base
(knowledge_base/data/demo_kb.jsonl) as the peer benchmark imports it. The settings are those of production
where it matters for the profile: CSRF on (the token is read from GET /demande, as a browser does),
REFERENCE_REFRESH_SECONDS at its default (2 s), the outbox kick off (the e-mail is rendered and stored, not
sent, as in ../shared/bench/peers/guichet/run.sh); rate limits off.

Each request is an anonymous multipart POST /demande with a new French request (the peer load client's texts,
../shared/bench/peers/django_helpdesk/frtext.py, when that folder is there; otherwise three fixed requests),
a random topic of the form; success is the redirect to /demande/envoyee. After --warmup unprofiled requests,
--runs requests run under cProfile. The report gives the wall time per request, the exclusive time grouped by
area (which library or project module the time is spent in), the inclusive time of the main steps of the
submission, and the top entries by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import write_statements as ws  # noqa: E402  (scratch database, app and seed shared with that bench)

FRTEXT = ROOT.parent / "shared" / "bench" / "peers" / "django_helpdesk"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TOPIC_SELECT = re.compile(r'<select[^>]*name="topic"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option[^>]*value="([^"]+)"')

#: exclusive time is charged to the first area whose pattern is in the function's file name (or name)
AREAS = [
    ("e-mail/notification templates (Jinja2)", ("jinja2", "<template>", "/templates/")),
    ("Markdown / HTML sanitising", ("markdown", "bleach", "nh3", "html5lib", "tinycss", "premailer")),
    ("matching / TF-IDF (knowledge_base, scikit-learn, rapidfuzz)", ("knowledge_base/", "sklearn", "numpy", "scipy",
                                                                    "unicodedata", "rapidfuzz", "simplemma",
                                                                    "snowballstemmer")),
    # werkzeug's multipart parser compiles a regex of the (random) boundary on every request: re's cache misses
    ("regex compilation (re.compile of new patterns)", ("re/_parser", "re/_compiler", "re/_casefix", "sre_")),
    ("triage rules (expert)", ("expert/",)),
    ("SQLAlchemy ORM (flush, unit of work, loading)", ("sqlalchemy/orm",)),
    ("SQLAlchemy Core (SQL compilation, execution)", ("sqlalchemy/",)),
    ("DB driver + server round trips", ("psycopg", "sqlite3", "<method 'execute'", "<method 'commit'",
                                         "<method 'fetch", "_psycopg", "psycopg_binary")),
    ("forms, CSRF, signing (WTForms, itsdangerous, hashlib)", ("wtforms", "flask_wtf", "itsdangerous", "hashlib",
                                                                "hmac", "_hashlib", "secrets", "email_validator")),
    ("passwords (argon2 / werkzeug.security)", ("argon2", "werkzeug/security", "passlib", "bcrypt")),
    ("SLA clock (tickets/sla*)", ("tickets/sla",)),
    ("tickets services / workflow", ("tickets/",)),
    ("notifications / outbox", ("notifications/",)),
    ("crm core (refcache, config, security)", ("crm/",)),
    ("Flask / Werkzeug request & response, test client", ("flask", "werkzeug", "blinker", "babel")),
    ("e-mail message building (stdlib email)", ("/email/", "email.")),
]
#: inclusive time of these functions (file fragment, function name)
STEPS = [
    ("the view: POST /demande", "tickets/views/public.py", "new_request"),
    ("form validation (incl. CSRF)", "flask_wtf/form.py", "validate_on_submit"),
    ("multipart body parsing (werkzeug formparser)", "werkzeug/formparser.py", "parse"),
    ("CSRF token check (flask_wtf validate_csrf)", "flask_wtf/csrf.py", "validate_csrf"),
    ("workflow.create_ticket (everything written)", "tickets/workflow.py", "create_ticket"),
    ("  services.open_ticket", "tickets/services.py", "open_ticket"),
    ("  triage.triage_ticket", "tickets/triage.py", "triage_ticket"),
    ("    expert.services.decide (rules and candidates)", "expert/services.py", "decide"),
    ("      knowledge_base.index.search_articles (matching)", "knowledge_base/index.py", "search_articles"),
    ("  sla_tracking.opening (its exit flushes ticket, messages, events)", "tickets/sla_tracking.py", "opening"),
    ("  notifications.batch (its exit writes notifications and outbox rows)", "notifications/services.py", "batch"),
    ("  services.apply_sla_policy", "tickets/services.py", "apply_sla_policy"),
    ("  signals.ticket_created subscribers (mails, notifications)", "blinker/base.py", "send"),
    ("  triage.announce_auto_answer", "tickets/triage.py", "announce_auto_answer"),
    ("SQLAlchemy Session.flush", "sqlalchemy/orm/session.py", "flush"),
    ("SQLAlchemy Session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("every statement executed (Connection._execute_context)", "sqlalchemy/engine/base.py", "_execute_context"),
    ("Jinja2 Template.render", "jinja2/environment.py", "render"),
    ("flask.render_template", "flask/templating.py", "render_template"),
]


def texts(seed: int):
    """An endless supply of (subject, body, email): the peer client's French texts if available."""
    rng = random.Random(seed)
    if (FRTEXT / "frtext.py").exists():
        sys.path.insert(0, str(FRTEXT))
        from frtext import make_ticket_text

        while True:
            yield make_ticket_text(rng)
    fixed = list(ws.FORMS.values())
    while True:
        form = rng.choice(fixed)
        yield form["subject"], form["message"], f"demandeur{rng.randrange(10**6)}@labo.example"


def form_page(client) -> tuple[str, list[str]]:
    response = client.get("/demande")
    html = response.get_data(as_text=True)
    token = CSRF.search(html)
    select = TOPIC_SELECT.search(html)
    topics = [v for v in OPTION.findall(select.group(1)) if v] if select else []
    if response.status_code != 200 or token is None or not topics:
        raise SystemExit(f"GET /demande : {response.status_code}, jeton {'trouvé' if token else 'absent'}, "
                         f"{len(topics)} thème(s)")
    return token.group(1), topics


def submit(client, token: str, topic: str, subject: str, body: str, email: str):
    from werkzeug.datastructures import FileStorage

    data = {"csrf_token": token, "name": "Camille Martin", "email": email, "topic": topic, "subject": subject,
            "message": body, "project_reference": "", "website": "",
            "attachments": FileStorage(io.BytesIO(b""), filename="", content_type="application/octet-stream")}
    response = client.post("/demande", data=data, content_type="multipart/form-data",
                           headers={"Origin": "http://localhost", "Referer": "http://localhost/demande"})
    if response.status_code != 302 or "/demande/envoyee" not in response.headers.get("Location", ""):
        raise SystemExit(f"POST /demande : {response.status_code}\n{response.get_data(as_text=True)[:800]}")
    return response


def area_of(key: tuple) -> str:
    filename, _line, name = key
    where = f"{filename} {name}".replace(os.sep, "/")
    for area, patterns in AREAS:
        if any(p in where for p in patterns):
            return area
    return "other (stdlib, Python overhead)"


def short(key: tuple) -> str:
    filename, line, name = key
    filename = filename.replace(os.sep, "/")
    for marker in ("site-packages/", str(ROOT).replace(os.sep, "/") + "/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
    return f"{filename}:{line}({name})" if line else name


def report(profile: cProfile.Profile, runs: int, wall_ms: list[float], top: int, meta: str) -> str:
    stats = pstats.Stats(profile)
    raw = stats.stats  # key → (primitive calls, total calls, tottime, cumtime, callers)
    total = sum(v[2] for v in raw.values())
    per = lambda seconds: seconds * 1000 / runs  # noqa: E731  (ms per request)
    out = [meta, "",
           f"wall time per request (test client, profiler off): p50 {statistics.median(wall_ms[0]):.2f} ms, "
           f"mean {statistics.fmean(wall_ms[0]):.2f} ms over {len(wall_ms[0])} requests",
           f"under cProfile: p50 {statistics.median(wall_ms[1]):.2f} ms; profiled CPU time "
           f"{per(total):.2f} ms per request (the profiler inflates Python-heavy parts)", "",
           "### Exclusive time by area (ms per request, share of the profiled time)", "",
           "| area | ms / request | share |", "|---|---|---|"]
    areas: dict[str, float] = {}
    for key, value in raw.items():
        areas[area_of(key)] = areas.get(area_of(key), 0.0) + value[2]
    for area, seconds in sorted(areas.items(), key=lambda kv: -kv[1]):
        out.append(f"| {area} | {per(seconds):.2f} | {100 * seconds / total:.0f} % |")
    out += ["", "### Inclusive time of the main steps (ms per request)", "",
            "| step | calls / request | ms / request |", "|---|---|---|"]
    for label, fragment, name in STEPS:
        hits = [(k, v) for k, v in raw.items() if fragment in k[0].replace(os.sep, "/") and k[2] == name]
        if not hits:
            out.append(f"| {label} | – | not called |")
            continue
        # recursive or nested calls: the largest cumulative entry is the outermost one
        calls = sum(v[1] for _k, v in hits)
        cum = max(v[3] for _k, v in hits)
        out.append(f"| {label} | {calls / runs:.1f} | {per(cum):.2f} |")
    out += ["", f"### Top {top} by cumulative time (ms per request)", "",
            "| function | calls / request | cumulative | own |", "|---|---|---|---|"]
    for key, value in sorted(raw.items(), key=lambda kv: -kv[1][3])[:top]:
        out.append(f"| `{short(key)}` | {value[1] / runs:.1f} | {per(value[3]):.2f} | {per(value[2]):.2f} |")
    out += ["", f"### Top {top} by own time (ms per request)", "", "| function | area | calls / request | own |",
            "|---|---|---|---|"]
    for key, value in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        out.append(f"| `{short(key)}` | {area_of(key)} | {value[1] / runs:.1f} | {per(value[2]):.2f} |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200, help="profiled requests (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="requests first, not profiled (default 20)")
    parser.add_argument("--timed", type=int, default=100, help="requests timed without the profiler (default 100)")
    parser.add_argument("--database-url", help="PostgreSQL URL of a scratch database, created then dropped")
    parser.add_argument("--replace", action="store_true", help="drop the scratch database first if it exists")
    parser.add_argument("--top", type=int, default=40, help="entries of the cumulative list (default 40)")
    parser.add_argument("--dump", help="also write the raw pstats file here (for snakeviz, pstats…)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--semantic", action="store_true",
                        help="semantic channel on (vectors computed before the warm-up), issue 14")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="guichet-profile-")
    url = args.database_url
    if url:
        if not url.startswith("postgresql"):
            raise SystemExit("--database-url : une URL PostgreSQL (la base SQLite par défaut est temporaire)")
        ws.create_database(url, args.replace)
    else:
        url = "sqlite:///" + os.path.join(scratch.name, "profile.sqlite3")
    os.environ.setdefault("GUICHET_INSTANCE_PATH", scratch.name)
    try:
        from crm.core.config import Config

        app = ws.build_app(url, os.path.join(scratch.name, "uploads"))
        app.config.update(WTF_CSRF_ENABLED=True, REFERENCE_REFRESH_SECONDS=Config.REFERENCE_REFRESH_SECONDS,
                          OUTBOX_KICK_AFTER_COMMIT=False, RATELIMIT_ENABLED=False)
        ws.seed(app)
        with app.app_context():
            from crm.core.database import transaction
            from knowledge_base.transfer import import_articles, read_kb_lines

            with open(ROOT / "knowledge_base" / "data" / "demo_kb.jsonl", encoding="utf-8") as handle:
                lines = read_kb_lines(handle, "published")
            with transaction():
                import_articles(lines)
            if args.semantic:
                from knowledge_base.index import index_service, refresh_index
                from knowledge_base.vectors import embed_pending

                app.config["KB_SEMANTIC"] = True
                with transaction():
                    embed_pending(questions=index_service().calibration_questions())
                refresh_index()
        client = app.test_client()
        token, topics = form_page(client)
        rng = random.Random(args.seed)
        supply = texts(args.seed)

        def one():
            subject, body, email = next(supply)
            submit(client, token, rng.choice(topics), subject, body, email)

        for _ in range(args.warmup):
            one()
        plain, profiled, cpu = [], [], []
        for _ in range(args.timed):
            started, cpu_started = time.perf_counter(), time.process_time()
            one()
            plain.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        profile = cProfile.Profile()
        for _ in range(args.runs):
            started = time.perf_counter()
            profile.enable()
            one()
            profile.disable()
            profiled.append((time.perf_counter() - started) * 1000)
        import sqlalchemy as sa

        from crm.core.extensions import db

        with app.app_context():
            backend = db.engine.dialect.name
            version = "SELECT version()" if backend == "postgresql" else "SELECT sqlite_version()"
            server = db.session.scalar(sa.text(version))
            db.session.remove()
            db.engine.dispose()
        meta = (f"{backend} ({str(server).split(' on ')[0]}), {args.runs} profiled POST /demande after "
                f"{args.warmup} warm-up and {args.timed} timed, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}")
        if args.dump:
            profile.dump_stats(args.dump)
        print(report(profile, args.runs, [plain, profiled], args.top, meta))
        # the Python side alone (this process's CPU, test client included; not the database server's, nor waits)
        print(f"\nCPU time of this process per request, profiler off: p50 {statistics.median(cpu):.2f} ms, "
              f"mean {statistics.fmean(cpu):.2f} ms")
    finally:
        if args.database_url:
            ws.drop_database(args.database_url)
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fill PostgreSQL with 100,000 modification requests (each with its ticket), then time the first pages.

    .venv/bin/python bench/modifications_queue.py [--url URL] [--requests 100000] [--runs 50] [--refill] [--explain]

Four first pages, as the views build them (tickets.modifications.queries): the agency's queue (requests under
review or waiting for information, earliest due first, 50 rows and the capped count), the same filtered on a rare
kind (team changes, 6 %), on a due date within a week, and the portal's tracking table of a headquarters profile
reaching about 5 % of the projects (25 rows and the next-page probe; and as it was before 2026-12-04, through the
SIREN's join with db.paginate's exact count, to compare in the same run). Rows are written with multi-row INSERTs
(schema from the models), then VACUUM ANALYZE. The Markdown table is printed and written into docs/benchmarks.md
under "Modification requests at 100,000".
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm import create_app  # noqa: E402
from crm.core.extensions import db, utcnow  # noqa: E402
from crm.core.models import User  # noqa: E402
from crm.organisations.models import Organisation  # noqa: E402
from crm.portal.models import PortalGrant  # noqa: E402
from crm.portal.scope import load_profiles, project_scope  # noqa: E402
from crm.projects.models import Partner, Project  # noqa: E402
from tickets.models import Queue, Ticket  # noqa: E402
from tickets.modifications import queries  # noqa: E402
from tickets.modifications.models import ChangeRequest  # noqa: E402
from tickets.modifications.states import TICKET_STATUS, State  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/guichet_bench_modifications"
from tickets_queue import ensure_database, timed, write_section  # noqa: E402 - bench/ helpers

SECTION = "## Modification requests at 100,000"
DOC = ROOT / "docs" / "benchmarks.md"
TARGET_MS = 50.0
AGENT_PAGE, PORTAL_PAGE = 50, 25
KINDS = [("extension", 59), ("amounts", 31), ("team", 6), ("beneficiary_entry", 2), ("beneficiary_withdrawal", 1),
         ("administrative", 0.6), ("coordinator", 0.4)]
STATES = [(State.CLOSED, 55), (State.RECORDED, 8), (State.ACCEPTED, 4), (State.PARTLY_ACCEPTED, 2),
          (State.REFUSED, 4), (State.UNDER_REVIEW, 12), (State.INFORMATION_REQUESTED, 5), (State.CO_VALIDATION, 6),
          (State.DRAFT, 3), (State.WITHDRAWN, 1)]


def _insert(table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(table), rows[start:start + 5000])


def _pick(rng: random.Random, table):
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]


def fill(n: int, seed: int) -> None:
    """1,000 establishments (one large: 5 % of the partners), n/4 projects of 2 partners, n requests and tickets."""
    from crm.core import services
    from crm.organisations.identifiers import luhn_complete

    rng = random.Random(seed)
    db.drop_all()
    db.create_all()
    filer = services.create_user("filer@bench.example", "Déposant", ["requester"])
    viewer = services.create_user("siege@bench.example", "Siège", ["requester"])
    queue = Queue(slug="referents-amendements", name="Référents", is_referent_group=True)
    db.session.add(queue)
    db.session.flush()
    now = utcnow()
    orgs = []
    for i in range(1000):
        siren = luhn_complete(f"{30000000 + i:08d}")
        orgs.append(dict(id=i + 1, code=f"ORG{i}", kind="headquarters", name=f"Établissement {i}", siren=siren,
                         siret=luhn_complete(f"{siren}{1:04d}"), created_at=now, updated_at=now, city="", row_hash=""))
    _insert(Organisation.__table__, orgs)
    db.session.add(PortalGrant(user_id=viewer.id, kind="headquarters", identifier=orgs[0]["siren"], granted_at=now))
    n_projects = max(n // 4, 1)
    _insert(Project.__table__, [dict(id=p + 1, reference=f"ANR-26-BENCH-{p:06d}", acronym=f"B{p}", title="Projet",
                                     call_code="AAPG2026", call_name="", state="follow_up", created_at=now,
                                     updated_at=now, row_hash="") for p in range(n_projects)])
    partners = []
    for p in range(n_projects):
        for k in range(2):
            org = 1 if rng.random() < 0.025 else rng.randint(2, 1000)
            partners.append(dict(id=p * 2 + k + 1, project_id=p + 1, number=k + 1, organisation_id=org,
                                 is_coordinator=k == 0, row_hash=""))
    _insert(Partner.__table__, partners)
    tickets, requests = [], []
    for i in range(n):
        state = _pick(rng, STATES)
        kind = _pick(rng, KINDS)
        created = now - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440))
        project_id = rng.randint(1, n_projects)
        ticket_id = due = None
        if state != State.DRAFT:
            ticket_id = len(tickets) + 1
            status = TICKET_STATUS[state]
            due = created + timedelta(days=rng.randint(5, 40)) if status in ("open", "new") else None
            tickets.append(dict(
                id=ticket_id, reference=f"DEM-BENCH-{ticket_id:07d}", subject="Demande de modification",
                status=status, priority="normal", channel="portal", queue_id=queue.id, requester_id=filer.id,
                requester_email=filer.email, requester_name="Déposant", requester_locale="fr", project_id=project_id,
                access_key_hash="0" * 64, reply_token=None, created_at=created, updated_at=created,
                sla_reason="", sla_paused=due is None, first_response_state="on_track", resolution_state="on_track",
                resolution_due_at=due, next_due_at=due, tier_origin=""))
        decided = created + timedelta(days=rng.randint(3, 60)) if state in (
            State.ACCEPTED, State.PARTLY_ACCEPTED, State.REFUSED, State.RECORDED, State.CLOSED) else None
        requests.append(dict(
            id=i + 1, project_id=project_id, kind=kind, state=state, ticket_id=ticket_id, filer_id=filer.id,
            filer_role="scientific_lead", partner_id=(project_id - 1) * 2 + 1, data={}, documents=[],
            decision=(State.REFUSED if state == State.REFUSED else State.ACCEPTED) if decided else None,
            decision_reason="", decided_at=decided, due_at=due, submitted_at=created if ticket_id else None,
            created_at=created, updated_at=decided or created))
    _insert(Ticket.__table__, tickets)
    _insert(ChangeRequest.__table__, requests)
    db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), :n)"), {"n": len(tickets)})
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def agent_page(query: sa.Select) -> int:
    """What the queue view runs: 51 rows (the next-page probe), the capped count, each row's cells."""
    rows = db.session.execute(query.limit(AGENT_PAGE + 1)).all()
    for item, ticket in rows[:AGENT_PAGE]:
        _ = (item.project.acronym, item.kind_label, item.state_label, ticket.reference, ticket.next_due_at)
    return queries.capped_count(query)


def portal_page(query: sa.Select) -> int:
    """What the tracking view runs: 26 rows (the next-page probe, no count), each row's cells."""
    items = db.session.scalars(query.limit(PORTAL_PAGE + 1)).all()
    for item in items[:PORTAL_PAGE]:
        _ = (item.reference, item.project.acronym, item.state_label)
    return len(items)


def portal_page_before(query: sa.Select) -> int:
    """The tracking view before 2026-12-04: db.paginate, i.e. the page and an exact count."""
    page = db.paginate(query, page=1, per_page=PORTAL_PAGE, error_out=False)
    for item in page.items:
        _ = (item.reference, item.project.acronym, item.state_label)
    return page.total


def portal_requests_before(profiles, user_id: int) -> sa.Select:
    """The tracking table's query before 2026-12-04: the projects in scope through the SIREN's join."""
    return (sa.select(ChangeRequest)
            .where(ChangeRequest.project_id.in_(sa.select(Project.id).where(project_scope(profiles))),
                   queries.visible_to(profiles, user_id))
            .options(sa.orm.selectinload(ChangeRequest.ticket), sa.orm.selectinload(ChangeRequest.project))
            .order_by(ChangeRequest.updated_at.desc(), ChangeRequest.id.desc()))


def matching_count(query: sa.Select) -> int:
    """The matching requests, for the table (counted once, outside the timed runs)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


def measure(runs: int, explain: bool) -> list[tuple[str, float, float, int]]:
    viewer = db.session.scalar(sa.select(User).where(User.email == "siege@bench.example"))
    profiles = load_profiles(viewer)
    week = utcnow() + timedelta(days=7)
    cases = [
        ("Agency queue (under review, information requested), first page", agent_page,
         queries.agent_queue(queries.QueueFilters())),
        ("Agency queue, team changes only (6 %)", agent_page, queries.agent_queue(queries.QueueFilters(kind="team"))),
        ("Agency queue, due within a week", agent_page,
         queries.agent_queue(queries.QueueFilters(due_before=week))),
        ("Portal tracking table, headquarters profile (~5 % of projects): page and next-page probe", portal_page,
         queries.portal_requests(profiles, viewer.id)),
        ("Same, as before 2026-12-04 (scope joined through the SIREN, exact count)", portal_page_before,
         portal_requests_before(profiles, viewer.id)),
    ]
    rows = []
    for label, run, query in cases:
        if explain:
            plan = db.session.execute(sa.text("EXPLAIN ANALYZE " + str(query.limit(AGENT_PAGE).compile(
                db.engine, compile_kwargs={"literal_binds": True})))).scalars().all()
            print(label, *plan, sep="\n  ")
            db.session.rollback()
        total = run(query) if run is not portal_page else matching_count(query)
        db.session.rollback()
        times, _ = timed(lambda r=run, q=query: r(q), runs)
        rows.append((label, statistics.median(times), statistics.quantiles(times, n=20, method="inclusive")[18],
                     total))
    return rows


def markdown(rows, n: int, runs: int, command: str) -> str:
    lines = [SECTION, "", f"`{command}` — {n:,} requests (and their tickets) on PostgreSQL, {runs} runs after "
             f"warm-up; agency pages: {AGENT_PAGE} rows, the next-page probe and the count capped at "
             f"{queries.COUNT_CAP:,}; portal page: {PORTAL_PAGE} rows and the next-page probe (before: the exact "
             f"count); each row's project and ticket read ({platform.python_version()}, {date.today().isoformat()}). "
             f"Target: p95 < {TARGET_MS:.0f} ms.",
             "", "| first page | matching requests (agency: counted up to 1,001) | p50 (ms) | p95 (ms) | target met |",
             "|---|---:|---:|---:|---|"]
    for label, p50, p95, total in rows:
        lines.append(f"| {label} | {total:,} | {p50:.1f} | {p95:.1f} | {'yes' if p95 < TARGET_MS else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL URL (database created if missing)")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each first page")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if not args.url.startswith("postgresql"):
        parser.error("this benchmark needs PostgreSQL")
    ensure_database(args.url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        present = 0
        if sa.inspect(db.engine).has_table("change_requests"):
            present = db.session.scalar(sa.select(sa.func.count()).select_from(ChangeRequest))
            db.session.rollback()
        if args.refill or present != args.requests:
            started = time.perf_counter()
            fill(args.requests, args.seed)
            print(f"{args.requests} demandes écrites en {time.perf_counter() - started:.1f} s.")
        rows = measure(args.runs, args.explain)
    command = "python bench/modifications_queue.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--explain", "--no-write"))
    text = markdown(rows, args.requests, args.runs, command)
    print(text)
    if not args.no_write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

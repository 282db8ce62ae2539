"""Fill PostgreSQL with 100,000 financial annexes, then time the first page of the annex queues.

    .venv/bin/python bench/annexes_queue.py [--url URL] [--annexes 100000] [--runs 50] [--refill] [--explain]

Three first pages, as the pages build them (tickets.annexes.queries, db.paginate: the page and its count): the
agency's queue (waiting annexes, earliest deadline first), the same filtered on overdue annexes, and the portal
queue of a référent designated for a large establishment's SIREN (about 5 % of the annexes). The rows are
written with multi-row INSERTs (the schema from the models), then VACUUM ANALYZE. The Markdown table is printed
and written into docs/benchmarks.md under "Financial annexes at 100,000".
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
from crm.organisations.models import Organisation  # noqa: E402
from crm.portal.models import PortalGrant  # noqa: E402
from crm.portal.scope import load_profiles  # noqa: E402
from crm.projects.models import Partner, Project  # noqa: E402
from tickets.annexes import queries  # noqa: E402
from tickets.annexes.models import AnnexReferent, AnnexVersion, FinancialAnnex  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/guichet_bench_annexes"
from tickets_queue import ensure_database, timed, write_section  # noqa: E402 - bench/ helpers

SECTION = "## Financial annexes at 100,000"
DOC = ROOT / "docs" / "benchmarks.md"
TARGET_MS = 50.0
PER_PAGE = 25
PARTNERS_PER_PROJECT = 4
STATES = [("approved", 70), ("published", 22), ("corrections_requested", 8)]


def _insert(table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(table), rows[start:start + 5000])


def fill(n: int, seed: int) -> None:
    """Schema from the models; 1,000 establishments (one large), n/4 projects of 4 partners, one annex each."""
    from crm.core import services
    from crm.organisations.identifiers import luhn_complete

    rng = random.Random(seed)
    db.drop_all()
    db.create_all()
    agent = services.create_user("agent@bench.example", "Agent", ["agent"])
    referent = services.create_user("referent@bench.example", "Référent", ["requester"])
    now, today = utcnow(), date.today()
    orgs = []
    for i in range(1000):
        siren = luhn_complete(f"{30000000 + i:08d}")
        orgs.append(dict(id=i + 1, code=f"ORG{i}", kind="entity", name=f"Établissement {i}", siren=siren,
                         siret=luhn_complete(f"{siren}{1:04d}"), created_at=now, updated_at=now, city="",
                         row_hash=""))
    _insert(Organisation.__table__, orgs)
    big = orgs[0]["siren"]
    db.session.add(PortalGrant(user_id=referent.id, kind="headquarters", identifier=big, granted_at=now))
    db.session.add(AnnexReferent(kind="headquarters", identifier=big, user_id=referent.id, designated_at=now))
    n_projects = n // PARTNERS_PER_PROJECT
    _insert(Project.__table__, [dict(id=p + 1, reference=f"ANR-26-BENCH-{p:06d}", acronym=f"B{p}", title="Projet",
                                     call_code="AAPG2026", call_name="", state="contracting", created_at=now,
                                     updated_at=now, row_hash="") for p in range(n_projects)])
    partners, annexes, versions = [], [], []
    states, weights = zip(*STATES, strict=True)
    for p in range(n_projects):
        for k in range(PARTNERS_PER_PROJECT):
            number = p * PARTNERS_PER_PROJECT + k + 1
            org = 1 if rng.random() < 0.05 else rng.randint(2, 1000)
            partners.append(dict(id=number, project_id=p + 1, number=k + 1, organisation_id=org,
                                 is_coordinator=k == 0, row_hash=""))
            state = rng.choices(states, weights)[0]
            due = today + timedelta(days=rng.randint(-20, 40))
            annexes.append(dict(id=number, project_id=p + 1, partner_id=number, organisation_id=org, state=state,
                                current_version=1,
                                due_on=due, first_published_at=now, published_at=now, published_by_id=agent.id,
                                approved_at=now if state == "approved" else None))
            versions.append(dict(annex_id=number, number=1, staff=100000, equipment=20000, missions=5000,
                                 subcontracting=0, overheads=10000, requested_aid=135000, rate=100, note="",
                                 digest="0" * 64, published_by_id=agent.id, published_at=now))
    _insert(Partner.__table__, partners)
    _insert(FinancialAnnex.__table__, annexes)
    _insert(AnnexVersion.__table__, versions)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def first_page(query: sa.Select):
    page = db.paginate(query, page=1, per_page=PER_PAGE, error_out=False)
    for annex in page.items:  # what the templates read on each row
        _ = (annex.project.acronym, annex.partner.organisation.name, annex.reference)
    return page


def measure(runs: int, explain: bool) -> list[tuple[str, float, float, int]]:
    referent = db.session.scalar(sa.select(sa.text("id")).select_from(sa.text("users"))
                                 .where(sa.text("email = 'referent@bench.example'")))
    from crm.core.models import User

    user = db.session.get(User, referent)
    profiles = load_profiles(user)
    designations = queries.designations_of(user, profiles)
    cases = [
        ("Agency queue, waiting annexes, first page", queries.agency_queue(queries.QueueFilters())),
        ("Agency queue, overdue only, first page",
         queries.agency_queue(queries.QueueFilters(overdue_on=date.today()))),
        ("Référent's portal queue (one SIREN, ~5 %), first page",
         queries.referent_annexes(designations, profiles)),
    ]
    rows = []
    for label, query in cases:
        if explain:
            plan = db.session.execute(sa.text("EXPLAIN ANALYZE " + str(query.limit(PER_PAGE).compile(
                db.engine, compile_kwargs={"literal_binds": True})))).scalars().all()
            print(label, *plan, sep="\n  ")
            db.session.rollback()
        total = first_page(query).total
        db.session.rollback()
        times, _ = timed(lambda q=query: first_page(q), runs)
        rows.append((label, statistics.median(times), statistics.quantiles(times, n=20, method="inclusive")[18],
                     total))
    return rows


def markdown(rows, n: int, runs: int, command: str) -> str:
    lines = [SECTION, "", f"`{command}` — {n:,} annexes on PostgreSQL, {runs} runs after warm-up, "
             f"first page of {PER_PAGE} with its count, rows' project and establishment read "
             f"({platform.python_version()}, {date.today().isoformat()}). Target: p95 < {TARGET_MS:.0f} ms.", "",
             "| first page | matching annexes | p50 (ms) | p95 (ms) | target met |", "|---|---:|---:|---:|---|"]
    for label, p50, p95, total in rows:
        lines.append(f"| {label} | {total:,} | {p50:.1f} | {p95:.1f} | {'yes' if p95 < TARGET_MS else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL URL (database created if missing)")
    parser.add_argument("--annexes", type=int, default=100_000)
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
        if sa.inspect(db.engine).has_table("financial_annexes"):
            present = db.session.scalar(sa.select(sa.func.count()).select_from(FinancialAnnex))
            db.session.rollback()
        if args.refill or present != args.annexes:
            started = time.perf_counter()
            fill(args.annexes, args.seed)
            print(f"{args.annexes} annexes écrites en {time.perf_counter() - started:.1f} s.")
        rows = measure(args.runs, args.explain)
    command = "python bench/annexes_queue.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--explain", "--no-write"))
    text = markdown(rows, args.annexes, args.runs, command)
    print(text)
    if not args.no_write:
        write_section(text, SECTION)


if __name__ == "__main__":
    main()

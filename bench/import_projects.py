"""Benchmark of the nightly import: N projects with partners, payment schedules, deliverables.

    .venv/bin/python bench/import_projects.py --projects 100000
    .venv/bin/python bench/import_projects.py --projects 100000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Generates the export set in a temporary folder, then times a first import (everything created), a
second one (everything unchanged) and a third after changing 1 % of the projects. With --annexes the set also
holds every partner's budget (file financial_annexes), and the import publishes the financial annex of each
partner of a project in the portal's states (tickets.annexes.services.publish_imported_budgets).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.demo.projects import PARTNER_COLUMNS, PAYMENT_COLUMNS, PEOPLE_COLUMNS, PROJECT_COLUMNS  # noqa: E402
from crm.organisations.identifiers import luhn_complete  # noqa: E402

STATES = ["submission", "selected", "contracting", "follow_up", "follow_up", "follow_up", "closed", "abandoned"]


def _writer(path: Path, columns: list[str]):
    handle = path.open("w", newline="", encoding="utf-8")
    writer = csv.writer(handle, delimiter=";")
    writer.writerow(columns)
    return handle, writer


ANNEX_COLUMNS = ["project_reference", "partner_number", "staff", "equipment", "missions", "subcontracting",
                 "overheads", "requested_aid", "rate", "total_budget"]


def generate(directory: Path, n_projects: int, seed: int = 1, bump: int = 0, annexes: bool = False) -> dict[str, int]:
    """Write the export set; bump > 0 changes the title of every bump-th project (for the update run); annexes
    adds every partner's budget (file financial_annexes), changed too for a bump-th project."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    n_hq, n_entities, n_labs = 60, 300, 1500
    n_people = max(1000, n_projects // 2)
    handle, w = _writer(directory / "organisations.csv", ["code", "kind", "name", "siren", "siret", "rnsr",
                                                         "parent_code", "supervisor_codes"])
    sirens = []
    for h in range(n_hq):
        siren = luhn_complete(f"{19000000 + h:08d}")
        sirens.append(siren)
        w.writerow([f"HQ{h}", "headquarters", f"Établissement {h}", siren, luhn_complete(siren + "0001"), "", "", ""])
    for e in range(n_entities):
        siren = sirens[e % n_hq]
        w.writerow([f"EN{e}", "entity", f"Entité {e}", "", luhn_complete(siren + f"{e + 2:04d}"), "", f"HQ{e % n_hq}",
                    ""])
    for lab in range(n_labs):
        w.writerow([f"LAB{lab}", "laboratory", f"Laboratoire {lab}", "", "", f"2000{lab:05d}A", "",
                    f"EN{lab % n_entities}|HQ{(lab * 7) % n_hq}"])
    handle.close()
    counts["organisations"] = n_hq + n_entities + n_labs
    handle, w = _writer(directory / "people.csv", PEOPLE_COLUMNS)
    for p in range(n_people):
        w.writerow([f"P{p}", f"personne{p}@exemple.fr", "Prénom", f"Nom{p}", "", f"LAB{p % n_labs}", ""])
    handle.close()
    counts["people"] = n_people
    files = {name: _writer(directory / f"{name}.csv", cols) for name, cols in [
        ("projects", PROJECT_COLUMNS), ("partners", PARTNER_COLUMNS), ("payment_lines", PAYMENT_COLUMNS),
        ("deliverables", ["project_reference", "code", "title", "due_date", "submitted_on", "conditions_payment"]),
        *([("financial_annexes", ANNEX_COLUMNS)] if annexes else [])]}
    counts.update(partners=0, payment_lines=0, deliverables=0, projects=n_projects)
    if annexes:
        counts["financial_annexes"] = 0
    for i in range(n_projects):
        ref = f"ANR-{20 + i % 6}-CE{i % 50:02d}-{i:06d}"
        title = f"Projet {i}" + (" (modifié)" if bump and i % bump == 0 else "")
        files["projects"][1].writerow([ref, f"ACR{i}", title, f"AAPG{2020 + i % 6}", "Appel générique",
                                       2020 + i % 6, STATES[i % len(STATES)], f"DEC-{i}", "450000.00",
                                       "2022-01-01", "2025-12-31", 48, f"P{rng.randrange(n_people)}"])
        for number in range(1, rng.randint(2, 4) + 1):
            lab = rng.randrange(n_labs)
            files["partners"][1].writerow([ref, number, f"EN{lab % n_entities}", f"LAB{lab}",
                                           f"P{rng.randrange(n_people)}", f"P{rng.randrange(n_people)}",
                                           int(number == 1), "150000.00"])
            counts["partners"] += 1
            if annexes:  # the amounts add up, the aid within the rate (100 %); a changed project's budgets too
                staff, aid = ("90000.00", "125000.00") if bump and i % bump == 0 else ("100000.00", "135000.00")
                files["financial_annexes"][1].writerow([ref, number, staff, "20000.00", "5000.00", "0.00",
                                                        "10000.00", aid, "100", aid])
                counts["financial_annexes"] += 1
            for line, (label, amount, due) in enumerate([("Avance", "45000.00", "2022-02-01"),
                                                         ("Intermédiaire", "75000.00", "2023-12-01"),
                                                         ("Solde", "30000.00", "2026-03-31")], start=1):
                files["payment_lines"][1].writerow([ref, number, line, label, due, amount,
                                                    amount if line < 3 else "0", ""])
                counts["payment_lines"] += 1
        for d in (1, 2):
            files["deliverables"][1].writerow([ref, f"L{d}", "Rapport", f"202{3 + d}-06-30",
                                               "2024-07-02" if d == 1 else "", d == 1])
            counts["deliverables"] += 1
    for handle, _w in files.values():
        handle.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--annexes", action="store_true", help="also every partner's budget (financial_annexes)")
    args = parser.parse_args()

    from crm import create_app
    from crm.core.extensions import db
    from crm.imports.services import import_directory

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        data = Path(tmp) / "export"
        data.mkdir()
        t0 = time.perf_counter()
        counts = generate(data, args.projects, annexes=args.annexes)
        print(f"generated {sum(counts.values()):,} lines {counts} in {time.perf_counter() - t0:.1f} s")
        with app.app_context():
            db.drop_all()
            db.create_all()
            for label, bump in (("first run (all created)", 0), ("second run (unchanged)", 0),
                                ("third run (1 % of projects changed)", 100)):
                if bump:
                    generate(data, args.projects, bump=bump, annexes=args.annexes)
                t0 = time.perf_counter()
                run = import_directory(data, trigger="bench")
                db.session.commit()
                print(f"{label}: {time.perf_counter() - t0:.1f} s — created {run.created:,}, "
                      f"updated {run.updated:,}, unchanged {run.unchanged:,}, rejected {run.rejected:,}")
                db.session.commit()
            db.session.remove()
            db.drop_all()


if __name__ == "__main__":
    main()

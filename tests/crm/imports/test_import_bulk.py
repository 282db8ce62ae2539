"""The PostgreSQL write path of the import (COPY into a staging table, one upsert per file) against the batch path
SQLite takes: same reports, same rows; a line the database itself refuses is refused alone on both."""

from __future__ import annotations

import csv
import json
import shutil

import factories_crm
import sqlalchemy as sa

from crm import create_app
from crm.core.config import TestConfig
from crm.core.database import is_postgresql
from crm.core.extensions import db
from crm.imports import services
from crm.imports.services import import_directory
from crm.organisations.models import Organisation, OrgContact, Person, laboratory_supervisors
from crm.projects.models import Deliverable, ModificationRequest, Partner, PaymentLine, Project

demo_dir = factories_crm.demo_dir  # fixture

#: Foreign keys, by column name, and the table whose business key stands for them (ids differ between databases).
_REFERENCES = {"organisation_id": "organisations", "laboratory_id": "organisations", "parent_id": "organisations",
               "coordinator_id": "people", "scientific_lead_id": "people", "administrative_lead_id": "people",
               "person_id": "people", "project_id": "projects", "partner_id": "partners"}


def _rows() -> dict[str, list[tuple]]:
    """Every imported row, ids replaced by business keys, timestamps and digests left out, sorted.

    A row's digest covers its parsed values, database ids of its references included: equal rows on two databases
    whose sequences stand at different values (tests before this one committed rows) have different digests.
    """
    keys = {
        "organisations": dict(db.session.execute(sa.select(Organisation.id, Organisation.code)).all()),
        "people": dict(db.session.execute(sa.select(Person.id, Person.code)).all()),
        "projects": dict(db.session.execute(sa.select(Project.id, Project.reference)).all()),
    }
    keys["partners"] = {id_: (keys["projects"][project_id], number) for id_, project_id, number in
                        db.session.execute(sa.select(Partner.id, Partner.project_id, Partner.number))}
    rows = {}
    for table in (Organisation.__table__, Person.__table__, Project.__table__, Partner.__table__,
                  PaymentLine.__table__, Deliverable.__table__, ModificationRequest.__table__,
                  OrgContact.__table__, laboratory_supervisors):
        columns = [c for c in table.c if c.name not in ("id", "created_at", "updated_at", "row_hash")]
        values = []
        for row in db.session.execute(sa.select(*columns)):
            values.append(tuple(keys[_REFERENCES[c.name]].get(v) if c.name in _REFERENCES and v is not None
                                else v for c, v in zip(columns, row, strict=True)))
        rows[table.name] = sorted(values, key=repr)
    return rows


def _report(run) -> dict:
    return {"totals": (run.created, run.updated, run.unchanged, run.rejected, run.deleted), "counts": run.counts,
            "rejections": [(r.file, r.line, r.reason) for r in run.rejections]}


def _runs(directories) -> tuple[list[dict], dict]:
    reports = [_report(import_directory(directory)) for directory in directories]
    return reports, _rows()


def _edit_csv(path, edit) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    rows = [rows[0]] + [r for r in (edit(i, row) for i, row in enumerate(rows[1:])) if r is not None]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=";").writerows(rows)


def _second_export(demo_dir, directory):
    """The demo set a day later: values changed, a deliverable gone, refused lines, new lines."""
    shutil.copytree(demo_dir, directory)
    projects = directory / "projects.csv"
    _edit_csv(projects, lambda i, row: row[:2] + [row[2] + " (révisé)"] + row[3:] if i % 7 == 0 else row)
    _edit_csv(directory / "people.csv", lambda i, row: row[:3] + ["Renommé"] + row[4:] if i == 3 else row)
    payments = directory / "payment_lines.csv"
    _edit_csv(payments, lambda i, row: row[:5] + ["-5"] + row[6:] if i == 2 else  # refused: keeps the line
              row[:5] + ["1234.00", "0"] + row[7:] if i % 11 == 0 else row)
    lines = (directory / "deliverables.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    lines = lines[:1] + lines[2:]  # the second deliverable is no longer listed: deleted
    lines.append(json.dumps({**first, "code": "L99", "title": "Nouveau livrable"}))
    other = next(json.loads(line) for line in lines if json.loads(line)["project_reference"]
                 != first["project_reference"])
    lines.append(json.dumps({**other, "code": "L98", "due_date": "pas une date"}))  # refused: its project is kept
    (directory / "deliverables.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def test_the_postgresql_and_sqlite_paths_give_the_same_reports_and_rows(app, demo_dir, tmp_path, monkeypatch):
    second = _second_export(demo_dir, tmp_path / "second")
    directories = [demo_dir, second, second]
    copies = []
    original = services._copy_upsert
    monkeypatch.setattr(services, "_copy_upsert", lambda *a: copies.append(a[0].name) or original(*a))

    reports, rows = _runs(directories)
    assert bool(copies) == is_postgresql()  # the test database's own path: COPY on PostgreSQL only
    copies.clear()

    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    reference = create_app(config)
    with reference.app_context():
        db.create_all()
        try:
            expected_reports, expected_rows = _runs(directories)
            assert not copies
        finally:
            db.session.remove()
            db.engine.dispose()

    assert reports == expected_reports
    assert rows == expected_rows
    first, changed, again = reports
    assert first["counts"]["projects"]["created"] == 60 and first["totals"][3] == 2
    assert changed["counts"]["projects"]["updated"] == 9 and changed["counts"]["projects"]["unchanged"] == 51
    assert changed["counts"]["people"]["updated"] == 1
    assert changed["counts"]["deliverables"]["created"] == 1 and changed["counts"]["deliverables"]["deleted"] == 1
    assert changed["counts"]["payment_lines"]["rejected"] == 1 and changed["counts"]["payment_lines"]["updated"] > 0
    assert again["totals"][:2] == (0, 0) and again["totals"][4] == 0  # the same files again: nothing written


def _refuse_a_title_in_the_database() -> None:
    """A rule only the database knows: a trigger refuses one title (Python's checks let it through)."""
    if is_postgresql():
        db.session.execute(sa.text(
            "CREATE FUNCTION refuse_title() RETURNS trigger AS $$ BEGIN "
            "IF NEW.title = 'Refusé par la base' THEN RAISE EXCEPTION 'titre refusé'; END IF; RETURN NEW; END "
            "$$ LANGUAGE plpgsql"))
        db.session.execute(sa.text("CREATE TRIGGER refuse_title BEFORE INSERT ON deliverables FOR EACH ROW "
                                   "EXECUTE FUNCTION refuse_title()"))
    else:
        db.session.execute(sa.text("CREATE TRIGGER refuse_title BEFORE INSERT ON deliverables "
                                   "WHEN NEW.title = 'Refusé par la base' BEGIN SELECT RAISE(ABORT, 'titre refusé'); "
                                   "END"))


def test_a_line_the_database_refuses_is_refused_alone(demo_dir, tmp_path, count_rows):
    import_directory(demo_dir)
    project = db.session.scalar(sa.select(Project).join(Deliverable).limit(1))
    existing = db.session.scalars(sa.select(Deliverable).where(Deliverable.project_id == project.id)
                                  .order_by(Deliverable.code)).all()
    lines = [{"project_reference": project.reference, "code": d.code, "title": d.title,
              "due_date": d.due_date.isoformat(), "submitted_on": d.submitted_on and d.submitted_on.isoformat(),
              "conditions_payment": d.conditions_payment} for d in existing]
    lines[0]["title"] = "Rapport revu"
    lines.append({**lines[0], "code": "N1", "title": "Refusé par la base"})
    lines.append({**lines[0], "code": "N2", "title": "Nouveau livrable"})
    (tmp_path / "deliverables.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n", encoding="utf-8")
    _refuse_a_title_in_the_database()
    before = count_rows(Deliverable)

    run = import_directory(tmp_path)

    assert run.counts["deliverables"] == {"created": 1, "updated": 1, "unchanged": len(existing) - 1,
                                          "rejected": 1, "deleted": 0}
    [rejection] = run.rejections
    assert rejection.line == len(existing) + 1
    assert rejection.reason.startswith("refusée par la base de données") and "titre refusé" in rejection.reason
    db.session.expire_all()
    titles = dict(db.session.execute(sa.select(Deliverable.code, Deliverable.title)
                                     .where(Deliverable.project_id == project.id)).all())
    assert titles[existing[0].code] == "Rapport revu" and titles["N2"] == "Nouveau livrable" and "N1" not in titles
    assert count_rows(Deliverable) == before + 1


def test_rows_digested_by_an_older_version_count_as_unchanged_and_get_the_new_digest(demo_dir, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(services, "row_hash", services.legacy_row_hash)
        old = import_directory(demo_dir)
    assert not any(h.startswith(services.DIGEST_PREFIX) for h in db.session.scalars(sa.select(Project.row_hash)))

    upgraded = import_directory(demo_dir)

    assert (upgraded.created, upgraded.updated, upgraded.deleted) == (0, 0, 0)
    assert upgraded.unchanged == old.created
    db.session.expire_all()
    hashes = set(db.session.scalars(sa.select(Deliverable.row_hash))) | set(
        db.session.scalars(sa.select(Organisation.row_hash)))
    assert hashes and all(h.startswith(services.DIGEST_PREFIX) and len(h) == 32 for h in hashes)
    again = import_directory(demo_dir)
    assert (again.created, again.updated, again.unchanged) == (0, 0, old.created)

"""The nightly import: formats, idempotence, upserts by business key, per-line rejections, run summary."""

from __future__ import annotations

import json
from decimal import Decimal

import factories_crm
import pytest
import sqlalchemy as sa

from crm.core.extensions import db
from crm.imports import signals
from crm.imports.models import ImportRejection, ImportRun, ImportStatus
from crm.imports.services import import_directory, run_nightly_import
from crm.organisations.models import Organisation, OrgContact, Person
from crm.projects.models import Deliverable, ModificationRequest, Partner, PaymentLine, Project

demo, demo_dir = factories_crm.demo, factories_crm.demo_dir  # fixtures

ORG_HEADER = "code;kind;name;siren;siret;rnsr;parent_code;supervisor_codes;service_tier;city\n"


def write(directory, name: str, text: str):
    (directory / name).write_text(text, encoding="utf-8")


def test_demo_set_imports_with_its_two_bad_lines(demo, count_rows):
    assert demo.status == ImportStatus.SUCCEEDED
    assert count_rows(Project) == 60
    assert demo.counts["projects"]["created"] == 60
    assert count_rows(Partner) > 60 and count_rows(PaymentLine) > 100
    assert count_rows(Deliverable) > 60 and count_rows(ModificationRequest) > 10
    reasons = {(r.file, r.reason.split(" :")[0]) for r in demo.rejections}
    assert demo.rejected == 2
    assert ("organisations.csv", "SIRET « 12345678901234 »") in reasons
    assert any(f == "partners.csv" and "inconnu" in r for f, r in
               ((x.file, x.reason) for x in demo.rejections))
    kinds = set(db.session.scalars(sa.select(ModificationRequest.kind)).all())
    assert len(kinds) == 7  # every type of modification request


def test_second_run_changes_nothing(demo, demo_dir, count_rows):
    before = {model: count_rows(model) for model in (Organisation, Person, Project, Partner, PaymentLine)}
    again = import_directory(demo_dir)
    assert again.created == 0 and again.updated == 0 and again.deleted == 0
    assert again.unchanged == demo.created
    assert again.rejected == 2
    assert {model: count_rows(model) for model in before} == before


def test_hierarchy_supervisors_and_roles_are_linked(demo):
    entity = db.session.scalar(sa.select(Organisation).where(Organisation.code == "CNRS-EX-DR07"))
    assert entity.parent.code == "CNRS-EX"
    assert entity.siren == entity.parent.siren
    assert entity.effective_service_tier == "premium"
    lab = db.session.scalar(sa.select(Organisation).where(Organisation.code == "LAB-LMC"))
    assert {s.code for s in lab.supervisors} == {"UNIV-EX", "CNRS-EX-DR07"}
    director = db.session.scalar(sa.select(OrgContact).where(OrgContact.organisation_id == lab.id))
    assert director.role == "lab_director" and director.person.email == "claire.delorme@univ-exemple.fr"


def test_bad_line_is_reported_and_others_are_applied(tmp_path):
    write(tmp_path, "organisations.csv", ORG_HEADER
          + "HQ1;headquarters;Université A;199900010;;;;;;\n"
          + "HQ2;headquarters;Université B;199900011;;;;;;\n"  # bad Luhn key
          + "E1;entity;Composante;;19990001000018;;HQ1;;;\n"
          + "E2;entity;Sans parent;;19990001000026;;NOPE;;;\n"
          + "L1;laboratory;Labo;;;2000123;;;;\n"
          + "L2;laboratory;Labo 2;;;200012345A;;HQ1|E1;;\n")
    run = import_directory(tmp_path)
    assert run.counts["organisations"] == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 3, "deleted": 0}
    rejected = {r.line: r.reason for r in run.rejections}
    assert set(rejected) == {3, 5, 6}
    assert "clé de contrôle" in rejected[3]
    assert "NOPE" in rejected[5]
    assert "RNSR" in rejected[6] and "200012345A" in rejected[6]
    assert db.session.scalar(sa.select(Organisation.code).where(Organisation.siret == "19990001000018")) == "E1"


def test_update_by_business_key_and_unique_identifiers(tmp_path, count_rows):
    write(tmp_path, "organisations.csv", ORG_HEADER + "HQ1;headquarters;Université A;199900010;;;;;;\n")
    import_directory(tmp_path)
    write(tmp_path, "organisations.csv", ORG_HEADER
          + "HQ1;headquarters;Université A (nouveau nom);199900010;;;;;premium;\n"
          + "HQ9;headquarters;Doublon;;19990001000018;;;;;\n"
          + "HQ8;headquarters;Doublon de SIRET;;19990001000018;;;;;\n")
    run = import_directory(tmp_path)
    assert run.counts["organisations"]["updated"] == 1
    assert run.counts["organisations"]["created"] == 1
    assert "déjà attribué" in run.rejections[0].reason and run.rejections[0].line == 4
    org = db.session.scalar(sa.select(Organisation).where(Organisation.code == "HQ1"))
    assert org.name == "Université A (nouveau nom)" and org.service_tier == "premium"
    assert count_rows(Organisation) == 2


def test_missing_column_rejects_the_file_not_the_run(tmp_path):
    write(tmp_path, "organisations.csv", "code,kind\nX,entity\n")
    write(tmp_path, "people.csv", "code;last_name;email\nP1;Durand;p1@exemple.fr\n")
    run = import_directory(tmp_path)
    assert run.rejections[0].file == "organisations.csv"
    assert "name" in run.rejections[0].reason
    assert run.counts["people"]["created"] == 1


def test_jsonl_lines_and_children_sync(demo, demo_dir, tmp_path, count_rows):
    project = db.session.scalar(sa.select(Project).join(Deliverable).limit(1))
    codes = db.session.scalars(sa.select(Deliverable.code).where(Deliverable.project_id == project.id)).all()
    assert len(codes) >= 2
    kept = {"project_reference": project.reference, "code": codes[0], "title": "Rapport revu",
            "due_date": "2027-01-31", "submitted_on": None, "conditions_payment": True}
    write(tmp_path, "deliverables.jsonl", json.dumps(kept) + "\n")
    run = import_directory(tmp_path)
    assert run.counts["deliverables"]["updated"] == 1
    assert run.counts["deliverables"]["deleted"] == len(codes) - 1  # the project's others are gone
    remaining = db.session.scalars(sa.select(Deliverable).where(Deliverable.project_id == project.id)).all()
    assert [(d.code, d.title, d.conditions_payment) for d in remaining] == [(codes[0], "Rapport revu", True)]


def test_refused_jsonl_lines_are_reported_and_delete_nothing(demo, tmp_path):
    project = db.session.scalar(sa.select(Project).join(Deliverable).limit(1))
    codes = db.session.scalars(sa.select(Deliverable.code).where(Deliverable.project_id == project.id)).all()
    kept = {"project_reference": project.reference, "code": codes[0], "title": "Rapport revu",
            "due_date": "2027-01-31", "submitted_on": None, "conditions_payment": True}
    lines = [json.dumps(kept), "{pas du json", json.dumps({"project_reference": project.reference, "code": "L9"})]
    write(tmp_path, "deliverables.jsonl", "\n".join(lines) + "\n")
    run = import_directory(tmp_path)
    assert run.counts["deliverables"]["updated"] == 1
    assert run.counts["deliverables"]["deleted"] == 0  # a line that could not be read may have named any of them
    assert run.counts["deliverables"]["kept"] == len(codes) - 1
    assert {r.line for r in run.rejections if r.line} == {2, 3}
    reasons = [r.reason for r in run.rejections]
    assert "JSON invalide" in reasons[0] and "title" in reasons[1]
    assert any("conservé" in reason for reason in reasons)
    assert set(db.session.scalars(sa.select(Deliverable.code).where(Deliverable.project_id == project.id))) \
        == set(codes)


def test_partner_still_named_by_a_payment_line_is_not_deleted(demo, tmp_path):
    project = db.session.scalar(sa.select(Project).where(Project.reference == "ANR-23-CE10-0001"))
    partners = db.session.scalars(sa.select(Partner).where(Partner.project_id == project.id)).all()
    assert len(partners) >= 2
    first, second = partners[0], partners[1]
    header = "project_reference;number;organisation_code\n"
    write(tmp_path, "partners.csv", header + f"{project.reference};{first.number};{first.organisation.code}\n")
    write(tmp_path, "payment_lines.csv", "project_reference;partner_number;number;amount\n"
          + f"{project.reference};{second.number};1;1000.00\n")
    run = import_directory(tmp_path)
    numbers = set(db.session.scalars(sa.select(Partner.number).where(Partner.project_id == project.id)).all())
    assert second.number in numbers  # a later line still names it
    assert numbers == {first.number, second.number}
    assert run.counts["partners"]["deleted"] == len(partners) - 2
    line = db.session.scalar(sa.select(PaymentLine).where(PaymentLine.partner_id == second.id))
    assert line.amount == Decimal("1000.00")


def test_amounts_dates_and_references_are_validated(demo, tmp_path):
    header = "project_reference;partner_number;number;amount;paid_amount;due_date\n"
    write(tmp_path, "payment_lines.csv", header
          + "ANR-23-CE10-0001;1;9;1 234,50;;01/02/2027\n"
          + "ANR-23-CE10-0001;1;10;12.345;;\n"
          + "ANR-23-CE10-0001;1;11;100;200;\n"
          + "ANR-23-CE10-0001;99;1;100;;\n"
          + "ANR-23-CE10-0001;1;12;100;;31/02/2027\n")
    run = import_directory(tmp_path)
    reasons = {r.line: r.reason for r in run.rejections}
    assert set(reasons) == {3, 4, 5, 6}
    assert "deux décimales" in reasons[3] and "dépasse" in reasons[4]
    assert "partenaire n° 99" in reasons[5] and "date attendue" in reasons[6]
    line = db.session.scalar(sa.select(PaymentLine).where(PaymentLine.number == 9))
    assert line.amount == Decimal("1234.50") and line.due_date.isoformat() == "2027-02-01"


def test_rejections_are_listed_for_admins_only(demo, client, make_user, login):
    login(make_user("agent"))
    assert client.get("/crm/admin/imports").status_code == 403
    client.post("/deconnexion")
    login(make_user("admin"))
    page = client.get("/crm/admin/imports").get_data(as_text=True)
    assert f'/crm/admin/imports/{demo.id}"' in page
    detail = client.get(f"/crm/admin/imports/{demo.id}").get_data(as_text=True)
    assert "organisations.csv" in detail and "12345678901234" in detail


def test_import_cli_runs_and_prints_summary(app, demo_dir):
    result = app.test_cli_runner().invoke(args=["import", "run", str(demo_dir)])
    assert result.exit_code == 0, result.output
    assert "refusées" in result.output and "partners.csv, ligne" in result.output


@pytest.mark.committed
def test_nightly_job_commits_and_signals(app, demo_dir, tmp_path):
    received = []
    app.config["IMPORT_DIR"] = str(demo_dir)
    try:
        with signals.import_finished.connected_to(lambda sender, run: received.append(run.id)):
            run = run_nightly_import(app)
        assert run.trigger == "nightly" and run.status == ImportStatus.SUCCEEDED
        assert received == [run.id]
        db.session.remove()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 60
        app.config["IMPORT_DIR"] = str(tmp_path / "absent")
        failed = run_nightly_import(app)
        assert failed.status == ImportStatus.FAILED and "introuvable" in failed.error
        db.session.remove()  # the job ran in its own app context and session
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRejection)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRun)) == 2
    finally:
        app.config["IMPORT_DIR"] = None

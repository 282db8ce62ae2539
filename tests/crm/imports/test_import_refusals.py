"""A refused import line leaves the record it names as it was; a truncated export never empties the portal."""

from __future__ import annotations

import factories_crm
import sqlalchemy as sa

from crm.core.extensions import db
from crm.imports.services import import_directory
from crm.projects.models import Partner, PaymentLine, Project

demo, demo_dir = factories_crm.demo, factories_crm.demo_dir  # fixtures

PARTNER_HEADER = "project_reference;number;organisation_code;aid_granted\n"
PAYMENT_HEADER = "project_reference;partner_number;number;amount\n"


def _project_with_partners(minimum: int = 2) -> Project:
    for project in db.session.scalars(sa.select(Project).order_by(Project.reference)):
        if len(project.partners) >= minimum and any(p.payment_lines for p in project.partners):
            return project
    raise AssertionError("no demo project with enough partners")


def _partner_line(project: Project, partner: Partner, *, aid=None, org_code=None) -> str:
    aid = partner.aid_granted if aid is None else aid
    return f"{project.reference};{partner.number};{org_code or partner.organisation.code};{aid}\n"


def _snapshot(partner_id: int) -> tuple:
    db.session.expire_all()
    partner = db.session.get(Partner, partner_id)
    lines = sorted((line.number, line.amount, line.paid_amount) for line in partner.payment_lines)
    return partner.organisation_id, partner.aid_granted, partner.number, lines


def _write(directory, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_a_partner_line_with_a_bad_amount_keeps_the_partner_as_it_was(demo, tmp_path):
    project = _project_with_partners()
    first, refused = project.partners[0], project.partners[1]
    before = _snapshot(refused.id)
    others = "".join(_partner_line(project, p) for p in project.partners if p.id != refused.id)
    _write(tmp_path, "partners.csv", PARTNER_HEADER + others + _partner_line(project, refused, aid="abc"))

    run = import_directory(tmp_path)

    assert run.counts["partners"]["rejected"] == 1 and run.counts["partners"]["deleted"] == 0
    assert _snapshot(refused.id) == before
    assert any("conservé" in r.reason for r in run.rejections)
    assert db.session.get(Partner, first.id) is not None


def test_a_partner_with_an_unknown_organisation_keeps_its_payment_lines(demo, tmp_path):
    project = _project_with_partners()
    refused = next(p for p in project.partners if p.payment_lines)
    before = _snapshot(refused.id)
    others = "".join(_partner_line(project, p) for p in project.partners if p.id != refused.id)
    _write(tmp_path, "partners.csv", PARTNER_HEADER + others + _partner_line(project, refused, org_code="INCONNU"))

    run = import_directory(tmp_path)

    assert run.counts["partners"]["rejected"] == 1 and run.counts["partners"]["deleted"] == 0
    assert _snapshot(refused.id) == before and before[3]


def test_a_payment_line_with_a_negative_amount_keeps_the_existing_line(demo, tmp_path):
    project = _project_with_partners()
    partner = next(p for p in project.partners if len(p.payment_lines) >= 2)
    good, bad = partner.payment_lines[0], partner.payment_lines[1]
    before = (bad.id, bad.amount, bad.paid_amount, bad.due_date, len(partner.payment_lines))
    _write(tmp_path, "payment_lines.csv", PAYMENT_HEADER
           + f"{project.reference};{partner.number};{good.number};{good.amount}\n"
           + f"{project.reference};{partner.number};{bad.number};-1\n")

    run = import_directory(tmp_path)

    assert run.counts["payment_lines"]["rejected"] == 1 and run.counts["payment_lines"]["deleted"] == 0
    db.session.expire_all()
    line = db.session.get(PaymentLine, bad.id)
    assert (line.id, line.amount, line.paid_amount, line.due_date, len(line.partner.payment_lines)) == before


def test_a_truncated_export_holds_its_deletions_unless_allowed(demo, tmp_path, count_rows):
    projects = db.session.scalars(sa.select(Project).order_by(Project.reference)).all()
    # Each project listed with its first partner only: far more than 5 % of the partners would go.
    lines = "".join(_partner_line(p, p.partners[0]) for p in projects if p.partners)
    _write(tmp_path, "partners.csv", PARTNER_HEADER + lines)
    partners = count_rows(Partner)
    payment_lines = count_rows(PaymentLine)

    held = import_directory(tmp_path)
    assert held.counts["partners"]["deleted"] == 0 and held.counts["partners"]["kept"] > 0.05 * partners
    assert count_rows(Partner) == partners and count_rows(PaymentLine) == payment_lines
    assert any("suppressions suspendues" in r.reason and "--allow-deletions" in r.reason for r in held.rejections)

    allowed = import_directory(tmp_path, allow_deletions=True)
    assert allowed.counts["partners"]["deleted"] == held.counts["partners"]["kept"]
    assert count_rows(Partner) == partners - allowed.counts["partners"]["deleted"]

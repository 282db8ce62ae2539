"""Team members in the nightly import: created, updated, refused line by line, deleted within the cap."""

from __future__ import annotations

import json

import factories_crm
import sqlalchemy as sa

from crm.core.extensions import db
from crm.demo.projects import COORDINATOR_EMAIL, TEAM_MEMBER_CODE
from crm.imports.services import import_directory
from crm.organisations.models import Person
from crm.projects.models import Partner, Project, TeamMember

demo, demo_dir = factories_crm.demo, factories_crm.demo_dir  # fixtures

HEADER = "project_reference;person_code;role;start_date;end_date\n"


def _members(project_id: int) -> dict[str, tuple]:
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Person.code, TeamMember.role, TeamMember.start_date, TeamMember.end_date)
        .join(Person, Person.id == TeamMember.person_id).where(TeamMember.project_id == project_id)).all()
    return {code: (role, start, end) for code, role, start, end in rows}


def _project_with_team(minimum: int = 3) -> Project:
    for project in db.session.scalars(sa.select(Project).order_by(Project.reference)):
        if len(project.team) >= minimum:
            return project
    raise AssertionError("no demo project with a team that large")


def _line(project: Project, member: TeamMember, **changes) -> str:
    values = {"person": member.person.code, "role": member.role, "start": member.start_date or "",
              "end": member.end_date or ""} | changes
    return f"{project.reference};{values['person']};{values['role']};{values['start']};{values['end']}\n"


def test_the_demo_export_imports_team_members_with_roles_and_dates(demo):
    assert demo.counts["team_members"]["created"] > 100 and demo.counts["team_members"]["rejected"] == 0
    coordinator = db.session.scalar(sa.select(Person).where(Person.email == COORDINATOR_EMAIL))
    assert coordinator.code == TEAM_MEMBER_CODE
    memberships = db.session.scalars(sa.select(TeamMember).where(TeamMember.person_id == coordinator.id)).all()
    assert memberships and all(m.role for m in memberships)
    led = set(db.session.scalars(sa.select(Partner.project_id).where(sa.or_(
        Partner.scientific_lead_id == coordinator.id, Partner.administrative_lead_id == coordinator.id))).all())
    assert {m.project_id for m in memberships} - led, "the demo must show a membership the partners do not give"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TeamMember)
                             .where(TeamMember.end_date.is_not(None))) > 0


def test_reimporting_the_demo_changes_nothing(demo, demo_dir):
    again = import_directory(demo_dir)
    assert again.counts["team_members"]["created"] == again.counts["team_members"]["updated"] == 0
    assert again.counts["team_members"]["unchanged"] == demo.counts["team_members"]["created"]


def test_a_member_is_updated_and_one_left_out_is_deleted(demo, tmp_path):
    project = _project_with_team()
    first, gone, *rest = project.team
    first_code, gone_code = first.person.code, gone.person.code
    lines = [_line(project, first, role="Responsable de tâche", end="2030-12-31")]
    lines += [_line(project, m) for m in rest]
    (tmp_path / "team_members.csv").write_text(HEADER + "".join(lines), encoding="utf-8")

    run = import_directory(tmp_path, allow_deletions=True)

    assert run.counts["team_members"]["updated"] == 1 and run.counts["team_members"]["deleted"] == 1
    after = _members(project.id)
    assert gone_code not in after
    assert after[first_code][0] == "Responsable de tâche"
    assert str(after[first_code][2]) == "2030-12-31"


def test_refused_lines_say_why_and_keep_the_projects_team(demo, tmp_path):
    project = _project_with_team()
    before = _members(project.id)
    member = project.team[0]
    lines = [_line(project, m) for m in project.team[1:]]  # the first member left out, but a line is refused
    lines.append(_line(project, member, person="INCONNU"))
    lines.append(_line(project, member, start="2026-05-01", end="2026-01-01"))
    lines.append(f"ANR-00-XX00-0000;{member.person.code};;;\n")
    lines.append(f"{project.reference};;Chercheur;;\n")
    (tmp_path / "team_members.csv").write_text(HEADER + "".join(lines), encoding="utf-8")

    run = import_directory(tmp_path)

    assert run.counts["team_members"]["rejected"] == 4 and run.counts["team_members"]["deleted"] == 0
    reasons = " | ".join(r.reason for r in run.rejections)
    for expected in ("personne « INCONNU » inconnue", "précède la date de début", "projet « ANR-00-XX00-0000 »",
                     "« person_code » est obligatoire"):
        assert expected in reasons
    assert _members(project.id) == before


def test_a_truncated_team_file_holds_its_deletions_unless_allowed(demo, tmp_path, count_rows):
    total = count_rows(TeamMember)
    projects = db.session.scalars(sa.select(Project).order_by(Project.reference)).all()
    kept = [_line(p, m) for p in projects for m in p.team[:1]]  # every project named, most members left out
    (tmp_path / "team_members.csv").write_text(HEADER + "".join(kept), encoding="utf-8")

    held = import_directory(tmp_path)
    assert held.counts["team_members"]["deleted"] == 0 and count_rows(TeamMember) == total
    assert any("suppressions suspendues" in r.reason for r in held.rejections)

    allowed = import_directory(tmp_path, allow_deletions=True)
    assert allowed.counts["team_members"]["deleted"] == total - len(kept) and count_rows(TeamMember) == len(kept)


def test_a_team_member_file_in_json_lines_is_read_too(demo, tmp_path):
    project = _project_with_team()
    rows = [{"project_reference": project.reference, "person_code": m.person.code, "role": m.role,
             "start_date": str(m.start_date) if m.start_date else None, "end_date": None} for m in project.team]
    (tmp_path / "team_members.jsonl").write_text("\n".join(json.dumps(r) for r in rows),
                                                 encoding="utf-8")
    run = import_directory(tmp_path)
    assert run.counts["team_members"]["rejected"] == 0
    assert all(end is None for _role, _start, end in _members(project.id).values())

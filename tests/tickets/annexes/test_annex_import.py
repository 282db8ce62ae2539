"""Annexes published by the nightly import (file financial_annexes): first version, unchanged, changed, refused."""

from __future__ import annotations

import factories_annexes
import pytest
import sqlalchemy as sa
from factories_crm import make_org, make_partner

from crm.core.extensions import db
from crm.core.i18n import paris_today
from crm.imports.services import import_directory
from crm.organisations.models import OrgKind
from crm.projects.models import PartnerBudget, ProjectState
from notifications.models import OutboxMessage
from tickets.annexes import budget, deadlines, services
from tickets.annexes.models import AnnexEvent, AnnexState, AnnexVersion, FinancialAnnex

FIGURES = factories_annexes.FIGURES
world = factories_annexes.world  # the fixture

COLUMNS = ("project_reference", "partner_number", "staff", "equipment", "missions", "subcontracting",
           "overheads", "requested_aid", "rate", "total_budget")


def _line(reference: str, number, **changes) -> str:
    values = {"project_reference": reference, "partner_number": number, **FIGURES, "total_budget": "",
              **changes}
    return ";".join(str(values[c]) for c in COLUMNS) + "\n"


def _import(tmp_path, *lines: str):
    (tmp_path / "financial_annexes.csv").write_text(";".join(COLUMNS) + "\n" + "".join(lines), encoding="utf-8")
    run = import_directory(tmp_path, trigger="test")
    db.session.expire_all()
    return run


def _annex(partner) -> FinancialAnnex | None:
    return db.session.scalar(sa.select(FinancialAnnex).where(FinancialAnnex.partner_id == partner.id))


def _versions() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AnnexVersion))


def test_the_import_publishes_new_figures_once_and_leaves_equal_ones(world, tmp_path):
    by_hand = world.publish()  # the agency entered the first partner's annex with the same figures
    ref, first, second = world.project.reference, world.partner.number, world.other_partner.number

    run = _import(tmp_path, _line(ref, first), _line(ref, second, staff="90000", requested_aid="125000"))

    assert run.counts["financial_annexes"]["created"] == 2 and run.counts["financial_annexes"]["rejected"] == 0
    assert _annex(world.partner).id == by_hand.id and _annex(world.partner).current_version == 1
    assert _annex(world.partner).version.published_by_id == world.agent.id
    imported = _annex(world.other_partner)
    assert imported.state == AnnexState.PUBLISHED and imported.current_version == 1
    assert imported.version.published_by_id is None and imported.version.note == services.IMPORT_NOTE
    assert str(imported.version.staff) == "90000.00" and str(imported.version.requested_aid) == "125000.00"

    again = _import(tmp_path, _line(ref, first), _line(ref, second, staff="90000", requested_aid="125000"))
    assert again.counts["financial_annexes"]["unchanged"] == 2 and _versions() == 2

    _import(tmp_path, _line(ref, first, overheads="11000"), _line(ref, second, staff="90000", requested_aid="125000"))
    corrected = _annex(world.partner)
    assert corrected.current_version == 2 and corrected.version.published_by_id is None
    assert corrected.published_by_id == world.agent.id  # still told of the answers and of an overdue deadline


def test_changed_figures_publish_a_new_version_and_withdraw_the_approval(world, tmp_path):
    ref, first, second = world.project.reference, world.partner.number, world.other_partner.number
    _import(tmp_path, _line(ref, first), _line(ref, second))
    annex, other = _annex(world.partner), _annex(world.other_partner)
    services.approve_annex(annex, by=world.referent, digest=annex.version.digest)
    services.approve_annex(other, by=world.outsider, digest=other.version.digest)
    decision = services.mark_decision_ready(world.project, by=world.agent)
    approved_digest = annex.approved_digest

    run = _import(tmp_path, _line(ref, first, equipment="30000", requested_aid="145000"), _line(ref, second))

    assert run.counts["financial_annexes"]["updated"] == 1 and run.counts["financial_annexes"]["unchanged"] == 1
    annex = _annex(world.partner)
    assert annex.current_version == 2 and annex.state == AnnexState.PUBLISHED
    assert annex.approved_digest is None and annex.version.digest != approved_digest
    assert _annex(world.other_partner).current_version == 1
    assert _annex(world.other_partner).state == AnnexState.APPROVED
    published = db.session.scalars(sa.select(AnnexEvent).where(
        AnnexEvent.annex_id == annex.id, AnnexEvent.kind == "annex_published").order_by(AnnexEvent.id)).all()
    assert published[-1].data["changes"] == {"equipment": ["20000.00", "30000.00"],
                                             "requested_aid": ["135000.00", "145000.00"]}
    assert not db.session.get(type(decision), decision.id).is_ready
    assert db.session.scalar(sa.select(AnnexEvent.id).where(AnnexEvent.kind == "decision_unready")) is not None


def test_bad_lines_are_refused_with_their_reason_and_publish_nothing(world, tmp_path):
    ref, first = world.project.reference, world.partner.number
    run = _import(
        tmp_path,
        _line("ANR-00-XX00-0000", first),
        _line(ref, 9),
        _line(ref, first, missions="beaucoup"),
        _line(ref, first, staff="-100"),
        _line(ref, first, rate="120"),
        _line(ref, first, total_budget="140000"),
        _line(ref, first, rate="50"),
    )

    assert run.counts["financial_annexes"]["rejected"] == 7 and run.counts["financial_annexes"]["created"] == 0
    reasons = [r.reason for r in sorted(run.rejections, key=lambda r: r.line)]
    expected = ["projet « ANR-00-XX00-0000 » inconnu", "partenaire n° 9 inconnu",
                "« missions » : montant attendu, reçu « beaucoup »", "« staff » : montant négatif",
                "« rate » : le taux est compris entre 0 et 100 %",
                "« total_budget » : 140 000,00 € annoncés, la somme des catégories fait 135 000,00 €",
                "dépasse le budget total multiplié par le taux (67 500,00 €)"]
    assert len(reasons) == len(expected)
    for reason, part in zip(reasons, expected, strict=True):
        assert part in reason
    assert _versions() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerBudget)) == 0


def test_a_closed_project_gets_no_annex_by_hand_nor_from_the_import(world, tmp_path):
    world.project.state = ProjectState.CLOSED
    db.session.flush()
    with pytest.raises(services.AnnexError, match="clos ou abandonné") as refused:
        world.publish()
    assert refused.value.status == 409 and refused.value.field == "partner"
    run = _import(tmp_path, _line(world.project.reference, world.partner.number))
    assert run.counts["financial_annexes"]["rejected"] == 0 and _annex(world.partner) is None


def _statements_of(call) -> int:
    statements = []

    def on_statement(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        call()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", on_statement)
    return len(statements)


def test_the_import_reads_the_partners_and_annexes_at_once_not_line_by_line(world, tmp_path, monkeypatch):
    partners = [world.partner, world.other_partner, *(make_partner(world.project, world.entity) for _ in range(2))]
    partners += [make_partner(world.project, make_org(OrgKind.ENTITY, name=f"Laboratoire {i}")) for i in range(4)]
    lines = [_line(world.project.reference, p.number) for p in partners]
    _import(tmp_path, *lines)
    assert _versions() == len(partners)
    # the establishment's référents read once for its three annexes, and each annex told to them all the same
    mails = db.session.scalars(sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == "annex_published"))
    assert sorted(mails) == [world.outsider.email] + [world.referent.email] * 3
    # first versions written together, each as publish_annex writes one: its version, its event, the deadline
    due_on = deadlines.default_deadline(paris_today())
    for partner in partners:
        annex = _annex(partner)
        assert annex.state == AnnexState.PUBLISHED and annex.current_version == 1 and annex.due_on == due_on
        assert annex.organisation_id == partner.organisation_id and annex.version.note == services.IMPORT_NOTE
        assert annex.version.digest == budget.digest(annex.subject(), budget.make_figures(FIGURES))
        events = db.session.scalars(sa.select(AnnexEvent).where(AnnexEvent.annex_id == annex.id)).all()
        assert [(e.kind, e.data["version"], e.data["digest"], e.data["due_on"]) for e in events] == [
            ("annex_published", 1, annex.version.digest, due_on.isoformat())]
        assert set(events[0].data["changes"]) == set(budget.LINES)  # every line, from nothing
    budgets = [{"partner_id": p.id, **{line: FIGURES[line] for line in budget.LINES}} for p in partners]

    def unchanged(rows):
        db.session.expire_all()
        return _statements_of(lambda: services.publish_imported_budgets(rows, today=factories_annexes.TODAY))

    # the partners (with their projects) and the current figures: two statements, however many lines
    assert unchanged(budgets[:2]) == unchanged(budgets) == 2
    monkeypatch.setattr(services, "IMPORT_CHUNK", 3)
    assert unchanged(budgets) == 2 * 3  # three chunks of at most three lines
    assert _versions() == len(partners)  # equal figures: nothing published

    changed = [dict(budgets[0], staff="90000", requested_aid="125000"), *budgets[1:]]
    assert [a.partner_id for a in services.publish_imported_budgets(changed, today=factories_annexes.TODAY)] == [
        world.partner.id]
    assert _annex(world.partner).current_version == 2 and _versions() == len(partners) + 1

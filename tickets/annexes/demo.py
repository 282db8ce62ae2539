"""Demo data: the university's officer is its annex référent; annexes in every state, one decision ready."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from crm.core.i18n import paris_today
from crm.core.services import user_by_email
from crm.organisations.models import Organisation
from crm.portal.models import ProfileKind
from crm.projects.models import PORTAL_STATES, Partner, Project
from tickets.annexes import budget, deadlines, services

HQ_OFFICER_EMAIL = "valorisation@univ-exemple.fr"  # crm.demo.projects' headquarters officer
UNIV_CODE = "UNIV-EX"


def _figures(partner: Partner, *, cut: Decimal = Decimal("0")) -> budget.Figures:
    aid = (partner.aid_granted or Decimal("150000")) - cut
    staff = (aid * Decimal("0.6")).quantize(budget.CENT)
    equipment = (aid * Decimal("0.2")).quantize(budget.CENT)
    missions = (aid * Decimal("0.08")).quantize(budget.CENT)
    subcontracting = (aid * Decimal("0.04")).quantize(budget.CENT)
    overheads = aid - staff - equipment - missions - subcontracting
    return budget.make_figures({"staff": staff, "equipment": equipment, "missions": missions,
                                "subcontracting": subcontracting, "overheads": overheads,
                                "requested_aid": aid, "rate": "100"})


def seed_demo_annexes(context: dict) -> None:
    """Annexes waiting, overdue, with corrections asked, approved at first pass and after a correction."""
    agent = context.get("users", {}).get("agent")
    officer = user_by_email(HQ_OFFICER_EMAIL)
    university = db.session.scalar(sa.select(Organisation).where(Organisation.code == UNIV_CODE))
    if agent is None or officer is None or university is None or not university.siren:
        return
    services.designate_referent(officer, ProfileKind.HEADQUARTERS, university.siren, officer)
    today = paris_today()
    projects = db.session.scalars(
        sa.select(Project).where(Project.state.in_([str(s) for s in PORTAL_STATES]),
                                 Project.id.in_(sa.select(Partner.project_id).join(Organisation, Organisation.id
                                                == Partner.organisation_id).where(Organisation.siren
                                                                                  == university.siren)))
        .order_by(Project.id).limit(12)).all()
    only_ours = [p for p in projects if all(x.organisation.siren == university.siren for x in p.partners)]
    ready = only_ours[0] if only_ours else None
    steps = iter(["waiting", "overdue", "corrections", "approved", "approved_after_correction"])
    for project in projects:
        step = "decision_ready" if project is ready else next(steps, "waiting")
        for partner in project.partners:
            ours = partner.organisation.siren == university.siren
            annex = services.publish_annex(partner, _figures(partner), due_on=deadlines.default_deadline(today),
                                           by=agent, today=today, now=utcnow() - timedelta(days=12))
            if not ours:
                continue  # another establishment, without a référent in the demo: it stays waiting
            if step == "overdue":
                annex.due_on = today - timedelta(days=2)
            elif step == "corrections":
                services.request_corrections(annex, by=officer, digest=annex.version.digest,
                                             comments={"staff": "Le poste d'ingénieur est compté deux fois."},
                                             now=utcnow() - timedelta(days=5))
            elif step in ("approved", "decision_ready"):
                services.approve_annex(annex, by=officer, digest=annex.version.digest,
                                       now=utcnow() - timedelta(days=8))
            elif step == "approved_after_correction":
                services.request_corrections(annex, by=officer, digest=annex.version.digest,
                                             comments={"missions": "Missions surévaluées de 2 000 €."},
                                             now=utcnow() - timedelta(days=9))
                annex = services.publish_annex(partner, _figures(partner, cut=Decimal("2000")),
                                               due_on=deadlines.default_deadline(today), by=agent, today=today,
                                               note="Missions ramenées au montant demandé.",
                                               now=utcnow() - timedelta(days=7))
                services.approve_annex(annex, by=officer, digest=annex.version.digest,
                                       now=utcnow() - timedelta(days=6))
        if step == "decision_ready":
            services.mark_decision_ready(project, by=agent)
    db.session.flush()

"""The requests block of an organisation's 360° view (registered on crm.core.registry.add_org_panel)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, render_template
from markupsafe import Markup

from crm.core import registry
from crm.core.extensions import db, utcnow
from crm.organisations.services import organisation_family_ids
from tickets import queries
from tickets.models import ACTIVE_STATUSES, SLA_STATE_LABELS, SlaState, Ticket

RECENT = 10

bp = Blueprint("tickets_crm_panels", __name__, template_folder="../templates")


def sla_summary(ids: list[int]) -> dict:
    """Counts of the organisations' tickets: total, active, and per SLA target met / missed and the met rate."""
    t = Ticket
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(t.status.in_([str(s) for s in ACTIVE_STATUSES])),
            sa.func.count().filter(t.first_response_state == SlaState.MET),
            sa.func.count().filter(t.first_response_state == SlaState.MISSED),
            sa.func.count().filter(t.resolution_state == SlaState.MET),
            sa.func.count().filter(t.resolution_state == SlaState.MISSED),
        ).where(t.organisation_id.in_(ids))
    ).one()
    total, active, fr_met, fr_missed, res_met, res_missed = (int(v or 0) for v in row)

    def rate(met: int, missed: int) -> float | None:
        return met / (met + missed) if met + missed else None

    return {"total": total, "active": active,
            "first_response": {"met": fr_met, "missed": fr_missed, "rate": rate(fr_met, fr_missed)},
            "resolution": {"met": res_met, "missed": res_missed, "rate": rate(res_met, res_missed)}}


def tickets_panel(organisation) -> Markup | None:
    """Every request of the organisation and its sub-entities: SLA met / missed, the latest ones."""
    ids = organisation_family_ids(organisation.id)
    summary = sla_summary(ids)
    recent = queries.recent_tickets_of(ids, RECENT)
    return Markup(render_template("tickets/_crm_org_panel.html", summary=summary,  # noqa: S704 - rendered template
                                  recent=recent, sla_labels=SLA_STATE_LABELS, now=utcnow()))


def init_app(app: Flask) -> None:
    """Add the requests panel to the 360° view (called by tickets.init_app)."""
    app.register_blueprint(bp)
    registry.add_org_panel(app, 50, tickets_panel)

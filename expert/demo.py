"""Demo data of the expert module: référent profiles and the rule set of expert/rules.yaml."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.extensions import db, utcnow
from expert import RULES_FILE, ruleset
from expert.models import Outcome, ReferentProfile, TriageDecision

# user key → (group slug, topics, calls, max load)
REFERENTS = {
    "referent": ("referents-amendements", ["avenant"], [], 25),
    "referent_finance": ("referents-finances", ["financement", "versements"], [], 25),
    "referent_evaluation": ("referents-evaluation", ["evaluation"], ["AAPG2024", "AAPG2025"], 25),
}


def seed(context: dict, groups: dict[str, int] | None = None) -> None:
    """Create the référent profiles (groups: queue id by slug) and import the demo rules (idempotent)."""
    groups = groups or {}
    users = context.get("users", {})
    for key, (group, topics, calls, max_load) in REFERENTS.items():
        user = users.get(key)
        if user is None:
            continue
        exists = db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == user.id))
        if exists is None:
            db.session.add(ReferentProfile(user=user, group_id=groups.get(group), topics=topics, calls=calls,
                                           available=True, max_load=max_load))
    if not ruleset.stored_rules():
        ruleset.import_yaml(RULES_FILE.read_text(encoding="utf-8"), by=users.get("admin"),
                            comment="Règles de démonstration")
    db.session.flush()


def outcome_fates(decisions: list[TriageDecision], *, seed: int = 25) -> list[tuple[TriageDecision, str, datetime]]:
    """What demo requesters do after automatic answers: (decision, "confirm" or "advisor", when); some never answer."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    now = utcnow()
    fates = []
    for decision in decisions:
        at = min(decision.decided_at + timedelta(minutes=rng.randint(5, 60 * 48)), now)
        fate = rng.random()
        if fate < 0.6:
            fates.append((decision, "confirm", at))
        elif fate < 0.85:
            fates.append((decision, "advisor", at))
    return fates


def waiting_auto_answers() -> list[TriageDecision]:
    """Decisions whose automatic answer still awaits the requester's reply, oldest first."""
    return list(db.session.scalars(
        sa.select(TriageDecision).where(TriageDecision.outcome == Outcome.AUTO_ANSWERED).order_by(TriageDecision.id)
    ))

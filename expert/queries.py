"""Named reads of the expert module: manager figures (rates, knowledge-base gaps), rule-set versions, référents."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import sqlalchemy as sa
from sklearn.feature_extraction.text import TfidfVectorizer

from crm.core.extensions import db
from crm.core.models import Role, User, UserRole
from crm.core.periods import Bucket, bucket_index
from expert.models import Outcome, ReferentAbsence, ReferentProfile, RuleSetVersion, TriageDecision
from knowledge_base.text import stems, tokens

#: A weak top article still says what the question is about: such questions are grouped under it.
ARTICLE_GROUP_FLOOR = 0.5
#: Cosine similarity from which two unmatched questions are put in the same group.
SIMILARITY = 0.35


@dataclass
class Rates:
    total: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)

    @property
    def auto_answered(self) -> int:
        """Every automatic answer sent, whatever the requester did next."""
        return sum(self.by_outcome.get(o, 0) for o in (Outcome.AUTO_ANSWERED, Outcome.DEFLECTED, Outcome.ESCALATED))

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def auto_answer_rate(self) -> float | None:
        return self._share(self.auto_answered, self.total)

    @property
    def deflection_rate(self) -> float | None:
        """Automatic answers the requester confirmed, over automatic answers sent."""
        return self._share(self.by_outcome.get(Outcome.DEFLECTED, 0), self.auto_answered)

    @property
    def escalation_rate(self) -> float | None:
        """Automatic answers after which the requester asked for an advisor, over automatic answers sent."""
        return self._share(self.by_outcome.get(Outcome.ESCALATED, 0), self.auto_answered)

    @property
    def routed_rate(self) -> float | None:
        return self._share(self.by_outcome.get(Outcome.ROUTED, 0), self.total)


def rates(since: datetime, until: datetime | None = None) -> Rates:
    """Counts of the triage decisions taken in the period (one per ticket), by outcome."""
    query = sa.select(TriageDecision.outcome, sa.func.count()).where(TriageDecision.decided_at >= since)
    if until is not None:
        query = query.where(TriageDecision.decided_at < until)
    by_outcome = {outcome: n for outcome, n in db.session.execute(query.group_by(TriageDecision.outcome))}
    return Rates(total=sum(by_outcome.values()), by_outcome=by_outcome)


def rates_by_step(steps: Sequence[Bucket]) -> list[Rates]:
    """The same counts per step of a period, in one grouped query."""
    result = [Rates() for _step in steps]
    if not steps:
        return result
    index = bucket_index(TriageDecision.decided_at, steps)
    query = (sa.select(index, TriageDecision.outcome, sa.func.count())
             .where(TriageDecision.decided_at >= steps[0].start, TriageDecision.decided_at < steps[-1].end)
             .group_by(index, TriageDecision.outcome))
    for position, outcome, count in db.session.execute(query):
        if position is not None:
            result[position].by_outcome[outcome] = count
            result[position].total += count
    return result


@dataclass
class Gap:
    """Questions the knowledge base could not answer, grouped."""

    label: str
    kind: str  # "article": near an existing article; "similar": similar questions with no article
    questions: list[tuple[str, str]] = field(default_factory=list)  # (ticket reference, question)

    @property
    def count(self) -> int:
        return len(self.questions)


def unanswered(since: datetime, threshold: float, *, limit: int = 1000) -> list[tuple[int, str, list]]:
    """(ticket id, question, candidates) of decisions not auto-answered whose best confidence was below threshold."""
    rows = db.session.execute(
        sa.select(TriageDecision.ticket_id, TriageDecision.question, TriageDecision.candidates)
        .where(TriageDecision.decided_at >= since, TriageDecision.confidence < threshold,
               TriageDecision.outcome.not_in((Outcome.AUTO_ANSWERED, Outcome.DEFLECTED)))
        .order_by(TriageDecision.decided_at.desc()).limit(limit)
    ).all()
    return [(r.ticket_id, r.question, r.candidates or []) for r in rows]


def group_gaps(items: list[tuple[str, str, list]], *, floor: float = ARTICLE_GROUP_FLOOR,
               similarity: float = SIMILARITY) -> list[Gap]:
    """Group questions under their weak top article, else cluster them by TF-IDF similarity (largest first)."""
    by_article: dict[str, Gap] = {}
    loose: list[tuple[str, str]] = []
    for reference, question, candidates in items:
        best = candidates[0] if candidates else None
        if best and best.get("confidence", 0) >= floor:
            gap = by_article.setdefault(str(best["article_id"]), Gap(label=best["title"], kind="article"))
            gap.questions.append((reference, question))
        else:
            loose.append((reference, question))
    gaps = list(by_article.values()) + _clusters(loose, similarity)
    return sorted(gaps, key=lambda g: (-g.count, g.label))


def _clusters(items: list[tuple[str, str]], similarity: float) -> list[Gap]:
    """Leader clustering on TF-IDF vectors of word stems: each question joins its closest group, if close enough."""
    if not items:
        return []
    try:
        matrix = TfidfVectorizer(analyzer=stems, sublinear_tf=True).fit_transform([q for _r, q in items])
    except ValueError:  # only stop words
        return [Gap(label=q[:80], kind="similar", questions=[(r, q)]) for r, q in items]
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for i in range(matrix.shape[0]):
        if leaders:
            scores = (matrix[leaders] @ matrix[i].T).toarray().ravel()
            best = int(np.argmax(scores))
            if scores[best] >= similarity:
                members[leaders[best]].append(i)
                continue
        leaders.append(i)
        members[i] = [i]
    gaps = []
    for indices in members.values():
        words = Counter(w for i in indices for w in set(tokens(items[i][1])))
        label = ", ".join(w for w, _n in sorted(words.items(), key=lambda item: (-item[1], item[0]))[:4])
        gaps.append(Gap(label=label or items[indices[0]][1][:80], kind="similar",
                        questions=[items[i] for i in indices]))
    return gaps


def rule_set_version(number: int) -> RuleSetVersion | None:
    """The stored version of the rule set with this number."""
    return db.session.scalar(sa.select(RuleSetVersion).where(RuleSetVersion.number == number))


def referent_users() -> list[User]:
    """The accounts holding the référent role, by name."""
    return list(db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role == Role.REFERENT).order_by(User.name)
    ))


def referent_profiles() -> dict[int, ReferentProfile]:
    """Every référent profile, by user id."""
    return {p.user_id: p for p in db.session.scalars(sa.select(ReferentProfile))}


def current_absences(today: date) -> dict[int, date]:
    """The référents absent on ``today``: user id -> last day of the absence."""
    rows = db.session.execute(
        sa.select(ReferentAbsence.user_id, sa.func.max(ReferentAbsence.ends_on))
        .where(ReferentAbsence.starts_on <= today, ReferentAbsence.ends_on >= today)
        .group_by(ReferentAbsence.user_id)
    ).all()
    return {user_id: until for user_id, until in rows}


def referent_profile(user: User) -> ReferentProfile | None:
    """The user's référent profile, if any."""
    return db.session.scalar(sa.select(ReferentProfile).where(ReferentProfile.user_id == user.id))

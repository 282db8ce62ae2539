"""The annex workflow: designate référents, publish a version, approve or ask for corrections, mark a decision ready.

Services flush; the request, command or job commits. Each step writes an AnnexEvent and its e-mails through
the outbox (notifications) in the same transaction. Illegal steps raise AnnexError with a French message.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

import sqlalchemy as sa
from flask_babel import gettext as _

from crm.core.extensions import db, utcnow
from crm.core.i18n import paris_today
from crm.core.models import User
from crm.portal.models import PortalGrant
from crm.projects.models import PORTAL_STATES, Partner, Project
from tickets.annexes import budget, deadlines, notices, queries
from tickets.annexes.models import (
    AnnexEvent,
    AnnexReferent,
    AnnexReview,
    AnnexState,
    AnnexVersion,
    FinancialAnnex,
    FundingDecision,
    ReferentKind,
    ReviewDecision,
)
from tickets.annexes.queries import project_annexes


class AnnexError(Exception):
    """A refused step; ``field`` names the input at fault (None: the whole request), ``status`` its HTTP status."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 409):
        super().__init__(message)
        self.field = field
        self.status = status


def _event(project_id: int, kind: str, actor: User | None, annex: FinancialAnnex | None = None,
           now: datetime | None = None, **data) -> None:
    db.session.add(AnnexEvent(project_id=project_id, annex_id=annex.id if annex else None,
                              actor_id=actor.id if actor else None, kind=kind, data=data,
                              created_at=now or utcnow()))


# -- référents ----------------------------------------------------------------------------------------------


def _holds(user: User, kind: str, identifier: str) -> bool:
    return db.session.scalar(sa.select(PortalGrant.id).where(
        PortalGrant.user_id == user.id, PortalGrant.kind == kind, PortalGrant.identifier == identifier)) is not None


def designate_referent(by: User, kind: str, identifier: str, user: User) -> AnnexReferent:
    """An establishment profile holder designates a holder of the same profile as annex référent."""
    if kind not in set(ReferentKind):
        raise AnnexError("Profil inconnu.", field="kind", status=422)
    if not _holds(by, kind, identifier):
        raise AnnexError("Vous ne détenez pas ce profil d'établissement.", field="identifier", status=404)
    if not _holds(user, kind, identifier):
        raise AnnexError("Cette personne ne détient pas le profil de cet établissement : elle doit d'abord le "
                         "demander depuis « Mes profils ».", field="user", status=422)
    existing = db.session.scalar(sa.select(AnnexReferent).where(
        AnnexReferent.kind == kind, AnnexReferent.identifier == identifier, AnnexReferent.user_id == user.id))
    if existing is not None:
        raise AnnexError("Cette personne est déjà désignée pour cet établissement.", field="user")
    designation = AnnexReferent(kind=kind, identifier=identifier, user_id=user.id, designated_by_id=by.id,
                                designated_at=utcnow())
    db.session.add(designation)
    db.session.flush()
    return designation


def remove_referent(by: User, designation: AnnexReferent) -> None:
    """A holder of the establishment profile withdraws a designation."""
    if not _holds(by, designation.kind, designation.identifier):
        raise AnnexError("Vous ne détenez pas ce profil d'établissement.", status=404)
    db.session.delete(designation)
    db.session.flush()


# -- publication --------------------------------------------------------------------------------------------


def publish_annex(partner: Partner, figures: budget.Figures, *, due_on: date, by: User | None, note: str = "",
                  today: date, now: datetime | None = None) -> FinancialAnnex:
    """Publish the partner's annex for validation: a first version, or a new one (after corrections or a change).

    A new version replaces the one waiting (its approval, if any, no longer holds: the decision is no longer
    ready) and restarts the reminders. Publishing the same figures again is refused. ``by`` is None when the
    nightly import publishes (publish_imported_budgets): the version has no publisher, and the annex keeps the
    agent who published it last, who is still told of the answers and of an overdue deadline.
    """
    now = now or utcnow()
    _check_open(partner)
    _check_deadline(due_on, today=today, calendar=deadlines.annex_calendar())
    annex = db.session.scalar(sa.select(FinancialAnnex).where(FinancialAnnex.partner_id == partner.id)
                              .with_for_update())
    if annex is not None and annex.version.figures == figures:
        raise AnnexError("Ces montants sont ceux de la version en cours : modifiez au moins une ligne.",
                         field="staff", status=422)
    return _publish_versions([(partner, figures)], {partner.id: annex} if annex else {}, due_on=due_on, by=by,
                             note=note, now=now)[0]


def _check_open(partner: Partner) -> None:
    if partner.project.state not in PORTAL_STATES:
        raise AnnexError(_("Ce projet est clos ou abandonné : son établissement ne peut plus valider d'annexe."),
                         field="partner", status=409)


def _check_deadline(due_on: date, *, today: date, calendar) -> None:
    if due_on < today:
        raise AnnexError("La date limite est déjà passée.", field="due_on", status=422)
    if not deadlines.is_working_day(calendar, due_on):
        raise AnnexError(_("Le %(day)s n'est pas un jour ouvré (week-end, jour férié ou fermeture) : choisissez un "
                           "jour ouvré, par exemple le %(next)s.", day=due_on.strftime("%d/%m/%Y"),
                           next=deadlines.add_working_days(calendar, due_on, 1).strftime("%d/%m/%Y")),
                         field="due_on", status=422)


def _open_version(annex: FinancialAnnex | None, partner: Partner, *, due_on: date, by: User | None,
                  now: datetime) -> tuple[FinancialAnnex, bool]:
    """The annex (a new one for a first version) set to wait for the version about to be written; whether it was
    approved (the decision is then no longer ready)."""
    if annex is None:
        annex = FinancialAnnex(project_id=partner.project_id, partner_id=partner.id, current_version=1,
                               first_published_at=now)
        annex.project, annex.partner = partner.project, partner
        annex.versions = []  # known empty: the first version is appended without reading the collection
        db.session.add(annex)
    else:
        annex.current_version += 1
    was_approved = annex.state == AnnexState.APPROVED
    annex.state = AnnexState.PUBLISHED
    annex.due_on, annex.published_at = due_on, now
    if by is not None:  # an imported version leaves the annex with the agent who published it last (if any)
        annex.published_by_id = by.id
    annex.organisation_id = partner.organisation_id
    annex.approved_at = annex.approved_by_id = annex.approved_version = annex.approved_digest = None
    annex.reminder_sent_at = annex.escalated_at = None
    return annex, was_approved


def _write_version(annex: FinancialAnnex, figures: budget.Figures, previous: AnnexVersion | None, *, due_on: date,
                   by: User | None, note: str, now: datetime) -> AnnexVersion:
    """The annex's new version (the annex written already: its id is in the event) and its history event."""
    version = AnnexVersion(annex_id=annex.id, number=annex.current_version, note=note.strip(),
                           digest=budget.digest(annex.subject(), figures), published_by_id=by.id if by else None,
                           published_at=now, requested_aid=figures.requested_aid, rate=figures.rate,
                           **figures.amounts)
    annex.versions.append(version)
    changes = budget.differences(previous.figures if previous else None, figures)
    _event(annex.project_id, "annex_published", by, annex, now, version=version.number, due_on=due_on.isoformat(),
           digest=version.digest, changes={c.line: [_text(c.before), _text(c.after)] for c in changes})
    return version


def _publish_versions(items: list[tuple[Partner, budget.Figures]], annexes: dict[int, FinancialAnnex], *,
                      due_on: date, by: User | None, note: str, now: datetime) -> list[FinancialAnnex]:
    """Publish a version for each (partner, figures), checked already: on the partner's annex in ``annexes``
    (locked by the caller), or on a new one. The annexes are written in one flush, then their versions and events
    in another (the unit of work writes a table's rows together, for one annex or a thousand); the decisions of
    the projects whose approved annex changed are no longer ready; then the référents' e-mails."""
    opened = []
    for partner, figures in items:
        annex = annexes.get(partner.id)
        previous = annex.version if annex is not None else None
        annex, was_approved = _open_version(annex, partner, due_on=due_on, by=by, now=now)
        opened.append((annex, figures, previous, was_approved))
    db.session.flush()
    versions = [_write_version(annex, figures, previous, due_on=due_on, by=by, note=note, now=now)
                for annex, figures, previous, _approved in opened]
    for project in dict.fromkeys(annex.project for annex, _f, _p, approved in opened if approved):
        _unready(project, by, now, reason="annex_changed")
    db.session.flush()
    for (annex, *_rest), version in zip(opened, versions, strict=True):
        notices.published(annex, version)
    return [annex for annex, *_rest in opened]


def _publish_imported(items: list[tuple[Partner, budget.Figures]], *, today: date, now: datetime,
                      calendar, due_on: date) -> list[FinancialAnnex]:
    """publish_annex for a chunk of the import's budgets that differ from their annex (or have none), their
    projects open (_publish_chunk kept only those): the deadline checked once, the existing annexes locked and
    read with their versions in two statements, then every version at once."""
    _check_deadline(due_on, today=today, calendar=calendar)
    annexes = {a.partner_id: a for a in db.session.scalars(
        sa.select(FinancialAnnex).where(FinancialAnnex.partner_id.in_([p.id for p, _f in items]))
        .options(sa.orm.selectinload(FinancialAnnex.versions)).with_for_update())}
    return _publish_versions(items, annexes, due_on=due_on, by=None, note=IMPORT_NOTE, now=now)


#: The note of a version the nightly import published.
IMPORT_NOTE = "Publiée par l'import nocturne des données de l'agence (fichier financial_annexes)."


#: partners read at once by publish_imported_budgets (bound parameters of one IN list)
IMPORT_CHUNK = 1000


def publish_imported_budgets(budgets: list[dict], *, today: date, now: datetime | None = None) -> list[FinancialAnnex]:
    """Publish the partners' budgets the nightly import created or changed, where they differ from the annex.

    A partner without an annex gets its first version; an annex whose current figures are the imported ones is
    left as it is (no new version); otherwise a new version is published exactly as the agency's correction by
    hand (its differences in the history; an approval no longer holds, the decision waits again). The deadline is
    the default one (deadlines.default_deadline). The partners, their projects and the annexes' current figures
    are read IMPORT_CHUNK lines at a time (two statements), not line by line; a chunk with figures to publish
    locks its annexes (two more) and publishes them together (_publish_versions).
    """
    @cache
    def deadline():  # the calendar and the deadline read once, at the first publication
        calendar = deadlines.annex_calendar()
        return calendar, deadlines.default_deadline(today, calendar)

    published = []
    with queries.remembered_referents():  # each establishment's référents read once
        for start in range(0, len(budgets), IMPORT_CHUNK):
            published += _publish_chunk(budgets[start:start + IMPORT_CHUNK], today=today, now=now, deadline=deadline)
    return published


def _publish_chunk(chunk: list[dict], *, today: date, now: datetime | None, deadline) -> list[FinancialAnnex]:
    """One chunk of publish_imported_budgets: its partners (project and establishment joined) and the current
    figures of their annexes in two statements, then a version for each partner whose figures differ."""
    ids = sorted({values["partner_id"] for values in chunk})
    partners = {p.id: p for p in db.session.scalars(
        sa.select(Partner).where(Partner.id.in_(ids))
        .options(sa.orm.joinedload(Partner.project), sa.orm.joinedload(Partner.organisation)))}
    current = {partner_id: version.figures for partner_id, version in db.session.execute(
        sa.select(FinancialAnnex.partner_id, AnnexVersion)
        .join(AnnexVersion, sa.and_(AnnexVersion.annex_id == FinancialAnnex.id,
                                    AnnexVersion.number == FinancialAnnex.current_version))
        .where(FinancialAnnex.partner_id.in_(ids)))}
    differing = []  # the file keeps one line per partner (a key seen twice is refused)
    for values in chunk:
        partner = partners[values["partner_id"]]
        if partner.project.state not in PORTAL_STATES:  # closed or abandoned: no establishment validates any more
            continue
        figures = budget.make_figures({line: values[line] for line in budget.LINES})  # checked by the import
        if current.get(partner.id) != figures:  # no annex yet, or other figures
            differing.append((partner, figures))
    if not differing:
        return []
    calendar, due_on = deadline()
    return _publish_imported(differing, today=today, now=now or utcnow(), calendar=calendar, due_on=due_on)


def on_partner_budgets_imported(_sender, budgets: list[dict], **_kw) -> None:
    """Receiver of crm.imports.signals.partner_budgets_imported (connected in tickets.annexes.init_app)."""
    publish_imported_budgets(budgets, today=paris_today())


def _text(value) -> str | None:
    return None if value is None else str(value)


# -- the référent's answer ------------------------------------------------------------------------------------


def _check_answerable(annex: FinancialAnnex, digest: str) -> AnnexVersion:
    if annex.state != AnnexState.PUBLISHED:
        raise AnnexError("Cette annexe n'attend pas de réponse : " + annex.state_label.lower() + ".")
    version = annex.version
    if digest != version.digest:
        raise AnnexError("L'annexe a changé depuis que vous l'avez ouverte : relisez la nouvelle version "
                         f"(version {version.number}).", field="digest")
    return version


def approve_annex(annex: FinancialAnnex, *, by: User, digest: str, now: datetime | None = None) -> AnnexReview:
    """The référent approves the exact version they read (its digest): who, when and what are recorded."""
    now = now or utcnow()
    version = _check_answerable(annex, digest)
    review = AnnexReview(annex_id=annex.id, version=version.number, decision=ReviewDecision.APPROVED,
                         reviewer_id=by.id, reviewed_at=now, digest=version.digest, comments={})
    db.session.add(review)
    annex.state = AnnexState.APPROVED
    annex.approved_at, annex.approved_by_id = now, by.id
    annex.approved_version, annex.approved_digest = version.number, version.digest
    _event(annex.project_id, "annex_approved", by, annex, now, version=version.number, digest=version.digest)
    db.session.flush()
    notices.answered(annex, review)
    return review


def request_corrections(annex: FinancialAnnex, *, by: User, digest: str, comments: dict[str, str],
                        comment: str = "", now: datetime | None = None) -> AnnexReview:
    """The référent asks for corrections, with a comment per line concerned (at least one)."""
    now = now or utcnow()
    unknown = sorted(set(comments) - set(budget.LINES))
    if unknown:
        raise AnnexError("Ligne inconnue : " + ", ".join(unknown) + ".", field="comments", status=422)
    cleaned = {line: text.strip() for line, text in comments.items() if text and text.strip()}
    if not cleaned:
        raise AnnexError("Indiquez au moins une ligne à corriger, avec votre commentaire.", field="comments",
                         status=422)
    version = _check_answerable(annex, digest)
    review = AnnexReview(annex_id=annex.id, version=version.number, decision=ReviewDecision.CORRECTIONS,
                         reviewer_id=by.id, reviewed_at=now, digest=version.digest, comments=cleaned,
                         comment=comment.strip())
    db.session.add(review)
    annex.state = AnnexState.CORRECTIONS
    _event(annex.project_id, "annex_corrections_requested", by, annex, now, version=version.number,
           lines=sorted(cleaned))
    db.session.flush()
    notices.answered(annex, review)
    return review


# -- the funding decision -------------------------------------------------------------------------------------


def decision_of(project: Project) -> FundingDecision | None:
    return db.session.scalar(sa.select(FundingDecision).where(FundingDecision.project_id == project.id))


def blocking_partners(project: Project) -> list[tuple[Partner, FinancialAnnex | None]]:
    """The partners whose annex is missing or not approved (or whose approval no longer matches its version)."""
    annexes = project_annexes(project)
    blocking = []
    for partner in project.partners:
        annex = annexes.get(partner.id)
        if (annex is None or annex.state != AnnexState.APPROVED
                or annex.approved_digest != annex.version.digest):
            blocking.append((partner, annex))
    return blocking


def mark_decision_ready(project: Project, *, by: User, now: datetime | None = None) -> FundingDecision:
    """Mark the funding decision ready to issue; refused while an annex of the project is not approved."""
    now = now or utcnow()
    if not project.partners:
        raise AnnexError("Ce projet n'a aucun partenaire : il n'y a pas d'annexe à valider.")
    blocking = blocking_partners(project)
    if blocking:
        names = ", ".join(f"partenaire {p.number} ({p.organisation.name})" for p, _a in blocking)
        raise AnnexError("La décision ne peut pas être marquée prête à émettre : l'annexe financière n'est pas "
                         f"approuvée pour {names}.")
    decision = decision_of(project)
    if decision is None:
        decision = FundingDecision(project_id=project.id)
        db.session.add(decision)
    elif decision.is_ready:
        raise AnnexError("La décision est déjà marquée prête à émettre.")
    decision.ready_at, decision.ready_by_id = now, by.id
    _event(project.id, "decision_ready", by, None, now,
           digests={str(a.partner.number): a.approved_digest for a in project_annexes(project).values()})
    db.session.flush()
    return decision


def _unready(project: Project, by: User | None, now: datetime, *, reason: str) -> None:
    decision = decision_of(project)
    if decision is not None and decision.is_ready:
        decision.ready_at = decision.ready_by_id = None
        _event(project.id, "decision_unready", by, None, now, reason=reason)

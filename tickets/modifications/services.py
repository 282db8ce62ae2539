"""Modification requests on the request engine: draft, submit (a ticket), co-validate, review, decide, record,
close when the import shows the change. Every step goes through states.step and is an event of the ticket.
Services flush; the request (or job) commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from crm.core.extensions import db, utcnow
from crm.core.models import User
from crm.organisations.models import Organisation
from crm.projects.models import Call, ModificationRequest, Partner, Project
from notifications.outbox import start_thread
from tickets import services as tickets
from tickets import signals
from tickets.attachments import AttachmentError, IncomingFile, check_files, store_file, stored_path
from tickets.models import Channel, Status, Ticket
from tickets.modifications import kinds
from tickets.modifications.models import ChangeRequest
from tickets.modifications.states import (
    DECISIONS,
    TICKET_STATUS,
    Actor,
    State,
    TransitionError,
    step,
)


class ModificationError(ValueError):
    """A request was refused: a message, and the errors by field when the form's data is at fault."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


@dataclass(frozen=True)
class Filing:
    """How a person may file on a project: their role and the partner they act for."""

    role: str
    partner: Partner


def filings_of(person_id: int | None, project: Project) -> list[Filing]:
    """The roles a person holds on a project (scientific lead, administrative lead, coordinator), by SQL."""
    if person_id is None:
        return []
    partners = db.session.scalars(
        sa.select(Partner).where(Partner.project_id == project.id, sa.or_(
            Partner.scientific_lead_id == person_id, Partner.administrative_lead_id == person_id,
            sa.and_(Partner.is_coordinator.is_(True), Project.coordinator_id == person_id)))
        .join(Project, Project.id == Partner.project_id).order_by(Partner.number)).all()
    found = []
    for partner in partners:
        if project.coordinator_id == person_id and partner.is_coordinator:
            found.append(Filing("coordinator", partner))
        if partner.scientific_lead_id == person_id:
            found.append(Filing("scientific_lead", partner))
        if partner.administrative_lead_id == person_id:
            found.append(Filing("administrative_lead", partner))
    return found


def project_facts(project: Project, siret: str | None = None) -> kinds.ProjectFacts:
    """The project as the forms check it; ``siret``: tell whether the agency knows this establishment."""
    maximum = db.session.scalar(sa.select(Call.max_duration_months).where(Call.code == project.call_code))
    known = frozenset()
    if siret:
        known = frozenset(db.session.scalars(sa.select(Organisation.siret).where(Organisation.siret == siret)))
    return kinds.ProjectFacts(
        reference=project.reference, start_date=project.start_date, end_date=project.scientific_end_date,
        aid_granted=project.aid_granted, max_duration_months=maximum, known_sirets=known,
        partners=tuple(kinds.PartnerFacts(p.number, p.organisation.name, p.organisation.siret, p.aid_granted,
                                          p.is_coordinator) for p in project.partners))


def start_draft(project: Project, kind: str, *, filer: User, person_id: int | None, role: str | None = None,
                now: datetime | None = None) -> ChangeRequest:
    """A new draft, pre-filled from the project; the filer must hold one of the three roles on it."""
    if kind not in kinds.SPECS:
        raise ModificationError(_("Type de demande inconnu."))
    filings = filings_of(person_id, project)
    filing = next((f for f in filings if role in (None, f.role)), None)
    if filing is None:
        raise ModificationError(_("Seuls le responsable scientifique, le coordinateur et le responsable "
                                  "administratif de l'établissement gestionnaire peuvent déposer une demande."))
    now = now or utcnow()
    request = ChangeRequest(project=project, kind=kind, state=State.DRAFT, filer=filer, filer_person_id=person_id,
                            filer_role=filing.role, partner=filing.partner, created_at=now, updated_at=now,
                            data=kinds.prefill(kind, project_facts(project), filing.partner.number), documents=[])
    db.session.add(request)
    db.session.flush()
    return request


def save_draft(request: ChangeRequest, raw: dict, *, by: User, files: dict[str, IncomingFile] | None = None,
               now: datetime | None = None) -> dict:
    """Keep what the filer typed (what parses) and the documents given (a new file replaces the kept one of its
    kind); answer the errors found so far, a refused file's on its field (the draft is saved anyway)."""
    if request.state != State.DRAFT:
        raise ModificationError(_("Seul un brouillon peut être modifié."))
    data, errors = kinds.validate(request.kind, raw, project_facts(request.project), complete=False)
    request.data = data
    errors.update(_keep_documents(request, files or {}))
    request.updated_at = now or utcnow()
    db.session.flush()
    return errors


def _document_error(f: IncomingFile) -> str | None:
    """Why a document is refused: not a PDF, or the attachments' limits (size, type, empty), else None."""
    if not f.filename.lower().endswith(".pdf") or not f.content.startswith(b"%PDF-"):
        return _("« %(name)s » : un fichier PDF est attendu.", name=f.filename)
    try:
        check_files([f])
    except AttachmentError as error:
        return str(error)
    return None


def _keep_documents(request: ChangeRequest, files: dict[str, IncomingFile]) -> dict[str, str]:
    """Store the draft's new documents (by content, as attachments are) in request.documents, one per kind of
    document; answer the refused ones' errors by field."""
    spec = kinds.SPECS[request.kind]
    kept = {d["slug"]: d for d in request.documents or []}
    errors = {}
    for slug, f in files.items():
        if slug not in {d.slug for d in spec.documents}:
            continue
        error = _document_error(f)
        if error:
            errors[f"document_{slug}"] = error
            continue
        filename, _type, digest, size = store_file(f)
        kept[slug] = {"slug": slug, "filename": filename, "sha256": digest, "size": size}
    request.documents = [kept[d.slug] for d in spec.documents if d.slug in kept]
    return errors


def _kept_documents(request: ChangeRequest) -> tuple[dict[str, IncomingFile], dict[str, dict]]:
    """The draft's documents at submission: those to attach (read back from storage), and those its ticket already
    holds (a request sent back by the other party), by slug."""
    if request.state != State.DRAFT:
        return {}, {}
    held = {a.sha256 for m in request.ticket.public_messages for a in m.attachments} if request.ticket else set()
    to_attach, attached = {}, {}
    for d in request.documents or []:
        path = stored_path(d["sha256"])
        if d["sha256"] in held:
            attached[d["slug"]] = d
        elif path.is_file():
            to_attach[d["slug"]] = IncomingFile(d["filename"], path.read_bytes(), "application/pdf")
    return to_attach, attached


def draft_documents_in_use(execute, digests: list[str]) -> set[str]:
    """The stored files drafts still keep (tickets.attachments.register_file_holder: not orphans)."""
    wanted = set(digests)
    rows = execute(sa.select(ChangeRequest.documents).where(ChangeRequest.state == State.DRAFT)).scalars()
    return {d.get("sha256") for documents in rows for d in documents or []} & wanted


def _co_validator(request: ChangeRequest) -> int | None:
    """The other party: the administrative lead for a scientific lead's or coordinator's request, and the reverse."""
    if not kinds.needs_co_validation(request.kind, request.filer_role):
        return None
    partner = request.partner
    other = partner.scientific_lead_id if request.filer_role == "administrative_lead" else \
        partner.administrative_lead_id
    if other is None or other == request.filer_person_id:
        raise ModificationError(_("Cette demande doit être co-validée, mais l'agence ne connaît pas d'autre "
                                  "responsable pour votre établissement : contactez l'agence."))
    return other


def _check_documents(request: ChangeRequest, data: dict, files: dict[str, IncomingFile],
                     attached: frozenset[str] = frozenset()) -> dict:
    errors = {}
    for document in kinds.required_documents(request.kind, data):
        if document.slug not in files and document.slug not in attached:
            errors[f"document_{document.slug}"] = _("Document obligatoire.")
    for slug, f in files.items():
        if not f.filename.lower().endswith(".pdf") or not f.content.startswith(b"%PDF-"):
            errors[f"document_{slug}"] = _("« %(name)s » : un fichier PDF est attendu.", name=f.filename)
    return errors


def _move(request: ChangeRequest, action: str, actor: str, by: User | None, now: datetime, reason: str = "",
          sync_ticket: bool = True) -> None:
    """Take one step of the state machine, record it in the ticket's history, set the ticket's status."""
    before = request.state
    try:
        request.state = step(before, action, actor, reason)
    except TransitionError as error:
        raise ModificationError(str(error)) from None
    request.updated_at = now
    ticket = request.ticket
    if ticket is None:
        return
    tickets.record_event(ticket, "modification", by, at=now, action=action, before=before, after=request.state,
                         **({"reason": reason} if reason else {}))
    status = TICKET_STATUS.get(State(request.state))
    if sync_ticket and status and status != ticket.status:
        tickets.change_status(ticket, status, by=by, now=now)
    request.due_at = ticket.next_due_at


def _topic(kind: str) -> str | None:
    """The kind's routing topic (its référent group and SLA policy), else the amendments topic, else none."""
    for slug in (kinds.SPECS[kind].topic, "avenant"):
        if tickets.topic_with_slug(slug) is not None:
            return slug
    return None


def submit_request(request: ChangeRequest, raw: dict, files: dict[str, IncomingFile], *, by: User,
                   now: datetime | None = None) -> Ticket:
    """Check everything, open (or resume) the ticket with the documents, and send the request on its way:
    to the other party for co-validation, or to the agency. Nothing is written when anything is refused."""
    now = now or utcnow()
    if request.filer_id != by.id:
        raise ModificationError(_("Seul l'auteur de la demande peut la déposer."))
    if request.state != State.DRAFT:
        raise ModificationError(_("Cette demande est déjà déposée."))
    facts = project_facts(request.project, siret=kinds.normalised_siret(raw.get("siret")))
    data, errors = kinds.validate(request.kind, raw, facts)
    kept, attached = _kept_documents(request)
    files = {**kept, **files}  # a file given now replaces the draft's
    attached = {slug: d for slug, d in attached.items() if slug not in files}
    errors.update(_check_documents(request, data, files, frozenset(attached)))
    if errors:
        raise ModificationError(_("La demande contient des erreurs : elle n'est pas déposée."), errors)
    co_validator = _co_validator(request)
    request.data = data
    summary = kinds.summary(request.kind, data, facts)
    named = [IncomingFile(f"{slug}-{f.filename}", f.content, f.content_type) for slug, f in files.items()]
    try:
        if request.ticket is None:
            ticket, message, key = tickets.open_ticket(
                subject=_("Demande de modification — %(kind)s — %(acronym)s", kind=_(request.kind_label),
                          acronym=request.project.acronym)[:200],
                body=summary, requester_email=by.email, requester_name=by.name, requester=by,
                topic=_topic(request.kind), channel=Channel.PORTAL, project_reference=request.project.reference,
                project_id=request.project_id, organisation_id=request.partner.organisation_id if request.partner
                else None, attachments=named, actor=by, locale=by.locale or "fr", created_at=now)
            request.ticket = ticket
        else:
            ticket, key = request.ticket, None
            message = tickets.record_requester_reply(ticket, body=summary, author=by, attachments=named, now=now)
    except (tickets.TicketError, AttachmentError) as error:
        raise ModificationError(str(error)) from None
    given = {slug: {"slug": slug, "filename": a.filename, "sha256": a.sha256, "size": a.size}
             for slug, a in zip(files, message.attachments, strict=True)}
    request.documents = [{**attached, **given}[d.slug] for d in kinds.SPECS[request.kind].documents
                         if d.slug in given or d.slug in attached]
    request.submitted_at = now
    request.co_validator_person_id = co_validator
    db.session.flush()
    _move(request, "submit", Actor.FILER, by, now, sync_ticket=False)
    if co_validator is not None:
        _move(request, "ask_co_validation", Actor.SYSTEM, None, now)
    else:
        _move(request, "start_review", Actor.SYSTEM, None, now)
    tickets.apply_sla_policy(ticket, now=now)
    request.due_at = ticket.next_due_at
    if key is not None:
        start_thread(ticket.id)
        signals.ticket_created.send(ticket, message=message, access_key=key)
    db.session.flush()
    return ticket


def co_validate(request: ChangeRequest, *, by: User, person_id: int | None, now: datetime | None = None) -> None:
    """The designated other party agrees: the request goes to the agency, its clock starts."""
    now = now or utcnow()
    if person_id is None or person_id != request.co_validator_person_id:
        raise ModificationError(_("Seule la personne désignée peut co-valider cette demande."))
    _move(request, "co_validate", Actor.CO_VALIDATOR, by, now)
    request.co_validated_at, request.co_validated_by = now, by
    db.session.flush()


def decline_co_validation(request: ChangeRequest, *, by: User, person_id: int | None, reason: str,
                          now: datetime | None = None) -> None:
    """The other party disagrees: back to a draft for the filer, with the reason in the ticket."""
    now = now or utcnow()
    if person_id is None or person_id != request.co_validator_person_id:
        raise ModificationError(_("Seule la personne désignée peut co-valider cette demande."))
    _move(request, "decline_co_validation", Actor.CO_VALIDATOR, by, now, reason.strip(), sync_ticket=False)
    tickets.add_internal_note(request.ticket, author=by, now=now,
                              body=_("Co-validation refusée : %(reason)s", reason=reason.strip()))
    db.session.flush()


def request_information(request: ChangeRequest, *, by: User, body: str, now: datetime | None = None) -> None:
    """The agency asks the filer for more: a reply on the ticket, whose clock pauses until they answer."""
    now = now or utcnow()
    _move(request, "request_information", Actor.AGENT, by, now, body, sync_ticket=False)
    try:
        tickets.reply_to_ticket(request.ticket, author=by, body=body, now=now, next_status=Status.WAITING)
    except tickets.TicketError as error:
        raise ModificationError(str(error)) from None
    request.due_at = request.ticket.next_due_at


def provide_information(request: ChangeRequest, *, by: User, body: str, files=(), now: datetime | None = None) -> None:
    """The filer answers: the request is under review again, the clock resumes."""
    now = now or utcnow()
    if request.filer_id != by.id:
        raise ModificationError(_("Seul l'auteur de la demande peut envoyer des compléments."))
    _move(request, "provide_information", Actor.FILER, by, now, body, sync_ticket=False)
    try:
        tickets.record_requester_reply(request.ticket, body=body, author=by, attachments=list(files), now=now)
    except (tickets.TicketError, AttachmentError) as error:
        raise ModificationError(str(error)) from None
    request.due_at = request.ticket.next_due_at


#: The states in which the filer may write about the decision (its ticket is resolved, not closed).
REPLYABLE = (State.ACCEPTED, State.PARTLY_ACCEPTED, State.REFUSED, State.RECORDED)


def reply_after_decision(request: ChangeRequest, *, by: User, body: str, files=(), now: datetime | None = None) -> None:
    """The filer writes about the decision (a question, a disagreement, a document): a requester reply on the ticket,
    which reopens it for the agency within the reopen window (its clock running again); the decision stands, a
    different change is a new request. The step is in the request's history."""
    now = now or utcnow()
    if request.filer_id != by.id:
        raise ModificationError(_("Seul l'auteur de la demande peut écrire à l'agence à son sujet."))
    if request.state not in REPLYABLE:
        raise ModificationError(_("Vous pourrez écrire au sujet de la décision une fois qu'elle aura été rendue."))
    try:
        tickets.record_requester_reply(request.ticket, body=body, author=by, attachments=list(files), now=now)
    except (tickets.TicketError, AttachmentError) as error:
        raise ModificationError(str(error)) from None
    tickets.record_event(request.ticket, "modification", by, at=now, action="reply", before=request.state,
                         after=request.state, reason=body.strip())
    request.updated_at = now
    request.due_at = request.ticket.next_due_at


def write_to_agency(request: ChangeRequest, *, by: User, body: str, files=(), now: datetime | None = None) -> None:
    """The filer's message, as the request's state gives it: the answer to a request for information (the clock
    resumes), or a message about the decision; refused in any other state."""
    if request.state == State.INFORMATION_REQUESTED:
        provide_information(request, by=by, body=body, files=files, now=now)
    else:
        reply_after_decision(request, by=by, body=body, files=files, now=now)


def decide(request: ChangeRequest, decision: str, *, by: User, reason: str, now: datetime | None = None) -> None:
    """Accept, partly accept or refuse, with the reasons sent to the filer; the ticket is resolved."""
    now = now or utcnow()
    if decision not in DECISIONS:
        raise ModificationError(_("Décision inconnue."))
    _move(request, decision, Actor.AGENT, by, now, reason, sync_ticket=False)
    request.decision, request.decision_reason = str(request.state), reason.strip()
    request.decided_at, request.decided_by = now, by
    try:
        tickets.reply_to_ticket(request.ticket, author=by, body=reason, now=now, next_status=Status.RESOLVED)
    except tickets.TicketError as error:
        raise ModificationError(str(error)) from None
    request.due_at = request.ticket.next_due_at


def record_request(request: ChangeRequest, *, by: User | None, now: datetime | None = None) -> None:
    """The accepted change is entered in the business systems (by an agent, or seen by the import)."""
    now = now or utcnow()
    _move(request, "record", Actor.AGENT if by is not None else Actor.SYSTEM, by, now)
    request.recorded_at = now
    db.session.flush()


def close_request(request: ChangeRequest, *, by: User | None, now: datetime | None = None) -> None:
    """Close a recorded (or refused) request; its ticket is closed."""
    now = now or utcnow()
    _move(request, "close", Actor.AGENT if by is not None else Actor.SYSTEM, by, now)
    request.closed_at = now
    db.session.flush()


def withdraw_request(request: ChangeRequest, *, by: User, now: datetime | None = None) -> None:
    """The filer withdraws a request not yet decided."""
    now = now or utcnow()
    if request.filer_id != by.id:
        raise ModificationError(_("Seul l'auteur de la demande peut la retirer."))
    _move(request, "withdraw", Actor.FILER, by, now)
    request.closed_at = now
    db.session.flush()


# -- the nightly import: the business systems are the reference ----------------------------------------------


def reconcile_with_import(now: datetime | None = None) -> int:
    """Close the decided requests the import shows recorded (an imported request of the same project and kind,
    decided on or after our decision, not yet matched). Returns the number closed."""
    now = now or utcnow()
    taken = sa.select(ChangeRequest.imported_request_id).where(ChangeRequest.imported_request_id.is_not(None))
    pending = db.session.scalars(
        sa.select(ChangeRequest).where(ChangeRequest.state.in_([State.ACCEPTED, State.PARTLY_ACCEPTED,
                                                                State.RECORDED]),
                                       ChangeRequest.imported_request_id.is_(None))
        .order_by(ChangeRequest.decided_at, ChangeRequest.id)).all()
    closed = 0
    for request in pending:
        match = db.session.scalar(
            sa.select(ModificationRequest).where(
                ModificationRequest.project_id == request.project_id, ModificationRequest.kind == request.kind,
                ModificationRequest.state == "accepted", ModificationRequest.id.not_in(taken),
                sa.or_(ModificationRequest.decided_on.is_(None),
                       ModificationRequest.decided_on >= request.decided_at.date()))
            .order_by(ModificationRequest.decided_on, ModificationRequest.id).limit(1))
        if match is None:
            continue
        request.imported_request = match
        if request.state != State.RECORDED:
            record_request(request, by=None, now=now)
        close_request(request, by=None, now=now)
        closed += 1
    return closed


def on_import_finished(_app, run=None, **_kw) -> None:
    """After a successful nightly import, close what it reflects (the import's job commits)."""
    if run is not None and getattr(run, "status", None) == "failed":
        return
    reconcile_with_import()

"""The entities of the nightly import: their file columns, business keys, line parsers and follow-ups.

Each entity is an `EntitySpec` (a small strategy object, see docs/import-format.md); the engine in
crm/imports/services.py reads the file, calls `parse` on every line and upserts the values by business key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from crm.core.extensions import db
from crm.imports import signals
from crm.imports.parsing import RowError, amount, boolean, choice, codes, day, integer, text
from crm.organisations.identifiers import IdentifierError, validate_rnsr, validate_siren, validate_siret
from crm.organisations.models import ContactRole, Organisation, OrgContact, OrgKind, Person, laboratory_supervisors
from crm.projects.models import (
    Deliverable,
    ModificationKind,
    ModificationRequest,
    ModificationState,
    Partner,
    PartnerBudget,
    PaymentLine,
    Project,
    ProjectState,
    TeamMember,
)


@dataclass
class EntitySpec:
    """How one file maps onto one table: columns, business key, parser, follow-up after the upsert."""

    name: str
    model: type
    key: tuple[str, ...]
    required: tuple[str, ...]
    parse: Callable[[dict, ImportContext], dict]
    #: For child entities: the key column naming the parent; a parent's rows absent from the file go.
    parent: str | None = None
    #: Columns that must stay unique across rows (besides the key): checked before writing.
    unique: tuple[str, ...] = ()
    #: Called with [(line, values)] of created or updated rows once they are written.
    after: Callable[[ImportContext, list[tuple[int, dict]]], None] | None = None
    #: Columns the application owns once they hold a value: the file fills an empty one, never replaces it.
    kept: tuple[str, ...] = ()


@dataclass
class ImportContext:
    """Lookups shared by the entities of one run (business key → id) and the rejected lines."""

    file: str = ""
    org_codes: dict[str, tuple[int, str]] = field(default_factory=dict)  # code → (id, kind)
    person_codes: dict[str, int] = field(default_factory=dict)
    project_refs: dict[str, int] = field(default_factory=dict)
    partner_keys: dict[tuple[int, int], int] = field(default_factory=dict)
    #: Organisation codes defined by the organisations file of this run (parents may come later in it).
    org_codes_in_file: set[str] = field(default_factory=set)
    rejections: list[tuple[str, int, str]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejections.append((self.file, line, reason[:500]))

    def load(self, name: str) -> None:
        """(Re)load the key → id lookup of an entity after it was written."""
        if name == "organisations":
            rows = db.session.execute(sa.select(Organisation.code, Organisation.id, Organisation.kind))
            self.org_codes = {code: (id_, kind) for code, id_, kind in rows}
        elif name == "people":
            self.person_codes = dict(db.session.execute(sa.select(Person.code, Person.id)).all())
        elif name == "projects":
            self.project_refs = dict(db.session.execute(sa.select(Project.reference, Project.id)).all())
        elif name == "partners":
            rows = db.session.execute(sa.select(Partner.project_id, Partner.number, Partner.id))
            self.partner_keys = {(p, n): id_ for p, n, id_ in rows}

    def person(self, row: dict, name: str) -> int | None:
        code = text(row, name, max_length=40)
        if code is None:
            return None
        if code not in self.person_codes:
            raise RowError(f"« {name} » : personne « {code} » inconnue")
        return self.person_codes[code]

    def project(self, row: dict) -> int:
        reference = text(row, "project_reference", required=True, max_length=40)
        if reference not in self.project_refs:
            raise RowError(f"projet « {reference} » inconnu")
        return self.project_refs[reference]

    def partner(self, row: dict, project_id: int) -> int:
        number = integer(row, "partner_number", required=True, minimum=1)
        partner_id = self.partner_keys.get((project_id, number))
        if partner_id is None:
            raise RowError(f"partenaire n° {number} inconnu pour ce projet")
        return partner_id

    def organisation(self, row: dict, name: str, *, laboratory: bool | None, required: bool) -> int | None:
        """The id of the organisation named by code; laboratory=True/False also checks its kind."""
        code = text(row, name, required=required, max_length=40)
        if code is None:
            return None
        if code not in self.org_codes:
            raise RowError(f"« {name} » : organisation « {code} » inconnue")
        org_id, kind = self.org_codes[code]
        if laboratory is True and kind != OrgKind.LABORATORY:
            raise RowError(f"« {name} » : « {code} » n'est pas un laboratoire")
        if laboratory is False and kind == OrgKind.LABORATORY:
            raise RowError(f"« {name} » : « {code} » est un laboratoire ; indiquez l'établissement")
        return org_id


def _identifier(row: dict, name: str, validate) -> str | None:
    value = text(row, name, max_length=20)
    if value is None:
        return None
    try:
        return validate(value)
    except IdentifierError as error:
        raise RowError(str(error)) from None


def parse_organisation(row: dict, ctx: ImportContext) -> dict:
    kind = choice(row, "kind", [k.value for k in OrgKind])
    code = text(row, "code", required=True, max_length=40)
    siren = _identifier(row, "siren", validate_siren)
    siret = _identifier(row, "siret", validate_siret)
    rnsr = _identifier(row, "rnsr", validate_rnsr)
    if siret and siren and siret[:9] != siren:
        raise RowError(f"le SIRET {siret} n'appartient pas au SIREN {siren}")
    siren = siren or (siret[:9] if siret else None)
    if kind == OrgKind.HEADQUARTERS and not siren:
        raise RowError("un siège doit avoir un SIREN")
    if kind == OrgKind.ENTITY and not siret:
        raise RowError("une entité doit avoir un SIRET")
    if kind == OrgKind.LABORATORY and not rnsr:
        raise RowError("un laboratoire doit avoir un numéro RNSR")
    parent = text(row, "parent_code", max_length=40)
    supervisors = codes(row, "supervisor_codes")
    for other in ([parent] if parent else []) + supervisors:
        if other == code:
            raise RowError("une organisation ne peut pas se rattacher à elle-même")
        if other not in ctx.org_codes and other not in ctx.org_codes_in_file:
            raise RowError(f"organisation « {other} » inconnue (parent ou tutelle)")
    tier = text(row, "service_tier", max_length=30)
    return {
        "code": code, "kind": kind, "name": text(row, "name", required=True, max_length=255),
        "siren": siren, "siret": siret, "rnsr": rnsr, "service_tier": tier,
        "city": text(row, "city", max_length=120) or "",
        "_parent": parent, "_supervisors": supervisors,
    }


def after_organisations(ctx: ImportContext, rows: list[tuple[int, dict]]) -> None:
    """Attach parents and supervising organisations once every organisation of the file exists."""
    ctx.load("organisations")
    parents, links, ids = [], [], []
    for line, values in rows:
        org_id = ctx.org_codes[values["code"]][0]
        ids.append(org_id)
        parent = values["_parent"]
        if parent and parent not in ctx.org_codes:
            ctx.reject(line, f"organisation parente « {parent} » refusée : rattachement non appliqué")
        parents.append({"b_id": org_id, "b_parent": ctx.org_codes[parent][0] if parent in ctx.org_codes
                        else None})
        links += [{"laboratory_id": org_id, "organisation_id": ctx.org_codes[s][0]}
                  for s in values["_supervisors"] if s in ctx.org_codes]
    table = Organisation.__table__
    if parents:
        db.session.execute(
            table.update().where(table.c.id == sa.bindparam("b_id")).values(parent_id=sa.bindparam("b_parent")),
            parents)
    for start in range(0, len(ids), 500):
        db.session.execute(laboratory_supervisors.delete().where(
            laboratory_supervisors.c.laboratory_id.in_(ids[start:start + 500])))
    if links:
        db.session.execute(laboratory_supervisors.insert(), links)


def parse_person(row: dict, ctx: ImportContext) -> dict:
    email = text(row, "email", max_length=254)
    if email is not None:
        email = email.lower()
        local, _, domain = email.partition("@")
        if not local or "." not in domain:
            raise RowError(f"« email » : adresse invalide « {email[:60]} »")
    roles = codes(row, "roles")
    unknown = [r for r in roles if r not in {c.value for c in ContactRole}]
    if unknown:
        raise RowError(f"« roles » : rôle inconnu « {unknown[0][:40]} »")
    organisation_id = ctx.organisation(row, "organisation_code", laboratory=None, required=False)
    if roles and organisation_id is None:
        raise RowError("« roles » : un rôle demande une organisation de rattachement")
    if ContactRole.LAB_DIRECTOR in roles and not _is_lab(row, ctx):
        raise RowError("« roles » : un directeur de laboratoire doit être rattaché à un laboratoire")
    return {
        "code": text(row, "code", required=True, max_length=40), "email": email,
        "first_name": text(row, "first_name", max_length=100) or "",
        "last_name": text(row, "last_name", required=True, max_length=100),
        "phone": text(row, "phone", max_length=30) or "", "organisation_id": organisation_id,
        "_roles": sorted(set(roles)),
    }


def _is_lab(row: dict, ctx: ImportContext) -> bool:
    code = (row.get("organisation_code") or "").strip()
    return code in ctx.org_codes and ctx.org_codes[code][1] == OrgKind.LABORATORY


def after_people(ctx: ImportContext, rows: list[tuple[int, dict]]) -> None:
    """Replace the organisation roles of the people written."""
    ctx.load("people")
    ids = [ctx.person_codes[values["code"]] for _line, values in rows]
    for start in range(0, len(ids), 500):
        db.session.execute(OrgContact.__table__.delete().where(
            OrgContact.__table__.c.person_id.in_(ids[start:start + 500])))
    contacts = [{"organisation_id": values["organisation_id"], "person_id": person_id, "role": role}
                for (_line, values), person_id in zip(rows, ids, strict=True) for role in values["_roles"]]
    if contacts:
        db.session.execute(OrgContact.__table__.insert(), contacts)


def parse_project(row: dict, ctx: ImportContext) -> dict:
    start, end = day(row, "start_date"), day(row, "scientific_end_date")
    if start and end and end < start:
        raise RowError("la date de fin scientifique précède la date de début")
    duration = integer(row, "duration_months", minimum=0)
    if duration is None and start and end:
        duration = (end.year - start.year) * 12 + end.month - start.month
    return {
        "reference": text(row, "reference", required=True, max_length=40),
        "acronym": text(row, "acronym", required=True, max_length=60),
        "title": text(row, "title", required=True, max_length=500),
        "call_code": text(row, "call_code", required=True, max_length=40),
        "call_name": text(row, "call_name", max_length=255) or "",
        "call_year": integer(row, "call_year", minimum=1900),
        "state": choice(row, "state", [s.value for s in ProjectState]),
        "decision_number": text(row, "decision_number", max_length=40),
        "aid_granted": amount(row, "aid_granted"),
        "start_date": start, "scientific_end_date": end, "duration_months": duration,
        "coordinator_id": ctx.person(row, "coordinator_code"),
    }


def parse_partner(row: dict, ctx: ImportContext) -> dict:
    return {
        "project_id": ctx.project(row),
        "number": integer(row, "number", required=True, minimum=1),
        "organisation_id": ctx.organisation(row, "organisation_code", laboratory=False, required=True),
        "laboratory_id": ctx.organisation(row, "laboratory_code", laboratory=True, required=False),
        "scientific_lead_id": ctx.person(row, "scientific_lead_code"),
        "administrative_lead_id": ctx.person(row, "administrative_lead_code"),
        "is_coordinator": boolean(row, "is_coordinator"),
        "aid_granted": amount(row, "aid_granted"),
    }


def parse_team_member(row: dict, ctx: ImportContext) -> dict:
    person_id = ctx.person(row, "person_code")
    if person_id is None:
        raise RowError("« person_code » est obligatoire")
    start, end = day(row, "start_date"), day(row, "end_date")
    if start and end and end < start:
        raise RowError("la date de fin de participation précède la date de début")
    return {
        "project_id": ctx.project(row), "person_id": person_id,
        "role": text(row, "role", max_length=100) or "", "start_date": start, "end_date": end,
    }


def parse_payment_line(row: dict, ctx: ImportContext) -> dict:
    partner_id = ctx.partner(row, ctx.project(row))
    due, paid = amount(row, "amount", required=True), amount(row, "paid_amount") or 0
    if paid > due:
        raise RowError("le montant versé dépasse le montant de l'échéance")
    return {
        "partner_id": partner_id, "number": integer(row, "number", required=True, minimum=1),
        "label": text(row, "label", max_length=200) or "", "due_date": day(row, "due_date"),
        "amount": due, "paid_amount": paid, "paid_on": day(row, "paid_on"),
    }


#: The budget categories of a partner's financial annex (the columns of tickets.annexes' versions).
BUDGET_CATEGORIES = ("staff", "equipment", "missions", "subcontracting", "overheads")


def _euros(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


def parse_partner_budget(row: dict, ctx: ImportContext) -> dict:
    project_id = ctx.project(row)
    partner_id = ctx.partner(row, project_id)
    amounts = {category: amount(row, category, required=True) for category in BUDGET_CATEGORIES}
    requested = amount(row, "requested_aid", required=True)
    try:
        rate = amount(row, "rate", required=True)
    except RowError as error:
        raise RowError(f"{error} (un taux en pourcentage, de 0 à 100)") from None
    if rate > 100:
        raise RowError(f"« rate » : le taux est compris entre 0 et 100 %, reçu « {rate} »")
    total = sum(amounts.values(), Decimal("0.00"))
    declared = amount(row, "total_budget")
    if declared is not None and declared != total:
        raise RowError(f"« total_budget » : {_euros(declared)} € annoncés, la somme des catégories fait "
                       f"{_euros(total)} €")
    ceiling = (total * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if requested > ceiling:
        raise RowError(f"« requested_aid » : l'aide demandée ({_euros(requested)} €) dépasse le budget total "
                       f"multiplié par le taux ({_euros(ceiling)} €)")
    return {"project_id": project_id, "partner_id": partner_id, **amounts, "requested_aid": requested, "rate": rate}


def after_partner_budgets(_ctx: ImportContext, rows: list[tuple[int, dict]]) -> None:
    """Announce the budgets created or changed: the annexes publish a version where the figures differ."""
    signals.partner_budgets_imported.send(None, budgets=[values for _line, values in rows])


def parse_deliverable(row: dict, ctx: ImportContext) -> dict:
    return {
        "project_id": ctx.project(row), "code": text(row, "code", required=True, max_length=20),
        "title": text(row, "title", required=True, max_length=300),
        "due_date": day(row, "due_date", required=True), "submitted_on": day(row, "submitted_on"),
        "conditions_payment": boolean(row, "conditions_payment"),
    }


def parse_modification_request(row: dict, ctx: ImportContext) -> dict:
    return {
        "project_id": ctx.project(row), "number": text(row, "number", required=True, max_length=30),
        "kind": choice(row, "kind", [k.value for k in ModificationKind]),
        "state": choice(row, "state", [s.value for s in ModificationState]),
        "submitted_on": day(row, "submitted_on"), "decided_on": day(row, "decided_on"),
        "summary": text(row, "summary", max_length=500) or "",
    }


#: In dependency order: a file may only reference entities of the files before it.
ENTITIES: tuple[EntitySpec, ...] = (
    EntitySpec("organisations", Organisation, ("code",), ("code", "kind", "name"), parse_organisation,
               kept=("service_tier",),  # set on the organisation's page (issue 11): the page is the reference
               unique=("siret", "rnsr"), after=after_organisations),
    EntitySpec("people", Person, ("code",), ("code", "last_name"), parse_person, unique=("email",),
               after=after_people),
    EntitySpec("projects", Project, ("reference",),
               ("reference", "acronym", "title", "call_code", "state"), parse_project),
    EntitySpec("partners", Partner, ("project_id", "number"),
               ("project_reference", "number", "organisation_code"), parse_partner, parent="project_id"),
    EntitySpec("team_members", TeamMember, ("project_id", "person_id"), ("project_reference", "person_code"),
               parse_team_member, parent="project_id"),
    EntitySpec("payment_lines", PaymentLine, ("partner_id", "number"),
               ("project_reference", "partner_number", "number", "amount"), parse_payment_line,
               parent="partner_id"),
    EntitySpec("financial_annexes", PartnerBudget, ("project_id", "partner_id"),
               ("project_reference", "partner_number", *BUDGET_CATEGORIES, "requested_aid", "rate"),
               parse_partner_budget, parent="project_id", after=after_partner_budgets),
    EntitySpec("deliverables", Deliverable, ("project_id", "code"),
               ("project_reference", "code", "title", "due_date"), parse_deliverable, parent="project_id"),
    EntitySpec("modification_requests", ModificationRequest, ("project_id", "number"),
               ("project_reference", "number", "kind", "state"), parse_modification_request,
               parent="project_id"),
)

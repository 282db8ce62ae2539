"""Which person, project and organisations a request is about, on every channel (docs/linking.md).

The person is found by the requester's address; the project by a reference in the project field, the subject
or the body, else as the only active project the person coordinates or leads a partner of; the establishment
(and laboratory) from the project's partner that person belongs to, else from the person. What is certain is
linked; when several projects or establishments fit, they are kept as candidates for an agent to choose.
A request whose text names no project from an unknown address costs one query (the person lookup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm.core.extensions import db
from crm.organisations import queries as organisation_queries
from crm.organisations.models import SERVICE_TIER_LABELS, Organisation, OrgKind, Person
from crm.projects import queries as project_queries
from crm.projects.models import Partner, Project
from tickets.models import Ticket

#: A funding reference as the agency writes it: ANR-24-CE01-0001 (agency, year, instrument, number).
REFERENCE_RE = re.compile(r"\b[A-Z]{2,10}-\d{2}-[A-Z0-9]{2,12}-\d{2,6}\b", re.IGNORECASE)
MAX_REFERENCES = 20


@dataclass
class Links:
    """What a request is linked to, how the establishment was found, and what is left for an agent."""

    person: Person | None = None
    project: Project | None = None
    organisation: Organisation | None = None
    laboratory: Organisation | None = None
    #: How the establishment was found, completing "Université X" ("partenaire du projet ANR-…").
    origin: str = ""
    project_candidates: list[Project] = field(default_factory=list)
    organisation_candidates: list[Organisation] = field(default_factory=list)

    @property
    def candidates(self) -> dict | None:
        """The candidates as stored on the ticket (ids), or None when nothing is left to choose."""
        if not self.project_candidates and not self.organisation_candidates:
            return None
        return {"projects": [p.id for p in self.project_candidates],
                "organisations": [o.id for o in self.organisation_candidates]}


def references_in(*texts: str | None) -> list[str]:
    """The project references written in these texts, in capitals, in order, without repeats."""
    found: list[str] = []
    for text in texts:
        for match in REFERENCE_RE.finditer(text or ""):
            reference = match.group(0).upper()
            if reference not in found:
                found.append(reference)
    return found[:MAX_REFERENCES]


def tier_source(organisation: Organisation) -> tuple[str, Organisation | None]:
    """The organisation's effective service tier and the organisation (itself or a parent) that sets it."""
    node, seen = organisation, set()
    while node is not None and node.id not in seen:
        if node.service_tier:
            return node.service_tier, node
        seen.add(node.id)
        node = node.parent
    return "standard", None


def _involves(project: Project, person: Person) -> bool:
    return project.coordinator_id == person.id or any(
        person.id in (p.scientific_lead_id, p.administrative_lead_id) for p in project.partners)


def _distinct_establishments(partners: list[Partner]) -> list[Organisation]:
    seen: dict[int, Organisation] = {}
    for partner in partners:
        seen.setdefault(partner.organisation_id, partner.organisation)
    return list(seen.values())


def partner_of(project: Project, person: Person | None) -> tuple[Partner | None, list[Organisation]]:
    """The project's partner a request comes from, or None and the establishments to choose from.

    The partner whose lead the person is (the coordinating partner for the coordinator), else the one of the
    person's organisation (establishment, entity or laboratory), else the only partner establishment."""
    partners = list(project.partners)
    if person is not None:
        ours = [p for p in partners if person.id in (p.scientific_lead_id, p.administrative_lead_id)]
        if not ours and project.coordinator_id == person.id:
            ours = [p for p in partners if p.is_coordinator]
        if not ours and person.organisation_id is not None:
            parent = person.organisation.parent_id if person.organisation is not None else None
            ours = [p for p in partners if person.organisation_id in (p.organisation_id, p.laboratory_id)
                    or (parent is not None and parent == p.organisation_id)]
        if len(_distinct_establishments(ours)) == 1:
            return ours[0], []
    establishments = _distinct_establishments(partners)
    if len(establishments) == 1:
        return partners[0], []
    return None, establishments


def _from_person(links: Links, person: Person) -> None:
    """The establishment (and laboratory) of a person when no project says otherwise."""
    org = person.organisation
    if org is None:
        return
    if org.kind != OrgKind.LABORATORY:
        links.organisation, links.origin = org, f"établissement de {person.full_name}"
        return
    links.laboratory = org
    supervisors = list(org.supervisors)
    if len(supervisors) == 1:
        links.organisation = supervisors[0]
        links.origin = f"tutelle du laboratoire {org.name} de {person.full_name}"
    elif supervisors:
        links.organisation_candidates = supervisors
    else:
        links.organisation, links.origin = org, f"laboratoire de {person.full_name}"


def _from_project(links: Links, project: Project) -> None:
    partner, candidates = partner_of(project, links.person)
    if partner is None:
        links.organisation_candidates = candidates
        return
    links.organisation, links.laboratory = partner.organisation, partner.laboratory
    links.origin = f"partenaire du projet {project.reference}"


def _named_project(links: Links, field_reference: str, texts: tuple[str | None, ...]) -> None:
    """The project named in the project field, else the only one named in the text (or the person's only one)."""
    references = references_in(field_reference, *texts)
    if field_reference and field_reference not in references and len(field_reference) <= 40:
        references.insert(0, field_reference)
    if not references:
        return
    found = project_queries.projects_by_references(references)
    by_reference = {p.reference.upper(): p for p in found}
    if field_reference in by_reference:
        links.project = by_reference[field_reference]
        return
    if links.person is not None and len(found) > 1:
        found = [p for p in found if _involves(p, links.person)] or found
    if len(found) == 1:
        links.project = found[0]
    elif found:
        links.project_candidates = sorted(found, key=lambda p: p.reference)


def find_links(*, email: str, project_reference: str | None = None, texts: tuple[str | None, ...] = (),
               project: Project | None = None, organisation: Organisation | None = None,
               search_project: bool = True) -> Links:
    """Link a request: a given project or organisation is kept, the rest is found (see the module's rules);
    without ``search_project`` no project is looked for (an agent chose none)."""
    links = Links(person=organisation_queries.person_by_email(email), project=project)
    if project is None and search_project:
        _named_project(links, (project_reference or "").strip().upper(), texts)
    if (search_project and links.project is None and not links.project_candidates
            and links.person is not None):
        own = project_queries.active_projects_of_person(links.person.id)
        if len(own) == 1:
            links.project = own[0]
        elif own:
            links.project_candidates = own
    if organisation is not None:
        links.organisation = organisation
        partner = next((p for p in links.project.partners if p.organisation_id == organisation.id), None) \
            if links.project is not None else None
        if partner is not None:
            links.laboratory, links.origin = partner.laboratory, f"partenaire du projet {links.project.reference}"
    elif links.project is not None:
        _from_project(links, links.project)
    elif links.person is not None:
        _from_person(links, links.person)
    return links


def tier_and_origin(links: Links, given_tier: str | None = None) -> tuple[str | None, str]:
    """The ticket's service tier and the sentence saying where it comes from (the start of the SLA reason)."""
    if links.organisation is None:
        if given_tier:
            return given_tier, f"Niveau de service {_tier_label(given_tier)} : indiqué au dépôt de la demande"
        if links.organisation_candidates:
            return None, (f"Niveau de service standard : établissement à confirmer parmi "
                          f"{len(links.organisation_candidates)} candidats")
        return None, "Niveau de service standard : aucun établissement rattaché à la demande"
    tier, source = tier_source(links.organisation)
    tier = given_tier or tier
    text = f"Établissement {_tier_label(tier)} : {links.organisation.name}"
    if links.origin:
        text += f", {links.origin}"
    if source is not None and source is not links.organisation and not given_tier:
        text += f" (niveau de service de {source.name})"
    return tier, text[:400]


def _tier_label(tier: str) -> str:
    return SERVICE_TIER_LABELS.get(tier, tier).lower()


def set_links(ticket: Ticket, links: Links, *, given_tier: str | None = None) -> None:
    """Write the links on the ticket (objects, so that reading them back needs no query)."""
    ticket.person = links.person
    ticket.project = links.project
    ticket.organisation = links.organisation
    ticket.laboratory = links.laboratory
    ticket.service_tier, ticket.tier_origin = tier_and_origin(links, given_tier)
    ticket.link_candidates = links.candidates


def link_ticket(ticket: Ticket, *, body: str, project_id: int | None = None,
                organisation_id: int | None = None) -> Links:
    """Link a ticket being opened (tickets.services.open_ticket): a tier given at opening is kept."""
    project = db.session.get(Project, project_id) if project_id is not None else None
    organisation = db.session.get(Organisation, organisation_id) if organisation_id is not None else None
    links = find_links(email=ticket.requester_email, project_reference=ticket.project_reference,
                       texts=(ticket.subject, body), project=project, organisation=organisation)
    set_links(ticket, links, given_tier=ticket.service_tier)
    return links

"""The demo export set: French establishments, laboratories and ~60 projects, as the business systems
would export them, written to a folder and loaded through the real import code."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from crm.organisations.identifiers import luhn_complete

# Fictitious identifiers (valid keys, not real establishments).
UNIV_SIREN = luhn_complete("19990001")
CNRS_SIREN = luhn_complete("18099901")
INSERM_SIREN = luhn_complete("18099902")
BIOTECH_SIREN = luhn_complete("81234567")
DIRECTOR_EMAIL = "claire.delorme@univ-exemple.fr"
COORDINATOR_EMAIL = "paul.renaud@cnrs-exemple.fr"
HQ_OFFICER_EMAIL = "valorisation@univ-exemple.fr"
DIRECTOR_LAB_CODE = "LAB-LMC"

ORG_COLUMNS = ["code", "kind", "name", "siren", "siret", "rnsr", "parent_code", "supervisor_codes",
               "service_tier", "city"]
PEOPLE_COLUMNS = ["code", "email", "first_name", "last_name", "phone", "organisation_code", "roles"]
PROJECT_COLUMNS = ["reference", "acronym", "title", "call_code", "call_name", "call_year", "state",
                   "decision_number", "aid_granted", "start_date", "scientific_end_date", "duration_months",
                   "coordinator_code"]
PARTNER_COLUMNS = ["project_reference", "number", "organisation_code", "laboratory_code",
                   "scientific_lead_code", "administrative_lead_code", "is_coordinator", "aid_granted"]
TEAM_COLUMNS = ["project_reference", "person_code", "role", "start_date", "end_date"]
PAYMENT_COLUMNS = ["project_reference", "partner_number", "number", "label", "due_date", "amount",
                   "paid_amount", "paid_on"]


def _siret(siren: str, nic: str) -> str:
    return luhn_complete(siren + nic)


def organisations() -> list[dict]:
    """Headquarters, their entities (SIRET) and laboratories (RNSR) with their supervisors."""
    rows = [
        dict(code="UNIV-EX", kind="headquarters", name="Université Lumière-Exemple", siren=UNIV_SIREN,
             siret=_siret(UNIV_SIREN, "0001"), service_tier="prioritaire", city="Lyon"),
        dict(code="UNIV-EX-SANTE", kind="entity", name="Université Lumière-Exemple — UFR de santé",
             siret=_siret(UNIV_SIREN, "0002"), parent_code="UNIV-EX", city="Lyon"),
        dict(code="UNIV-EX-SCIENCES", kind="entity", name="Université Lumière-Exemple — Faculté des sciences",
             siret=_siret(UNIV_SIREN, "0003"), parent_code="UNIV-EX", city="Villeurbanne"),
        dict(code="CNRS-EX", kind="headquarters", name="Centre national de la recherche (exemple)",
             siren=CNRS_SIREN, siret=_siret(CNRS_SIREN, "0001"), service_tier="premium", city="Paris"),
        dict(code="CNRS-EX-DR07", kind="entity", name="Délégation régionale Rhône Auvergne (exemple)",
             siret=_siret(CNRS_SIREN, "0007"), parent_code="CNRS-EX", city="Villeurbanne"),
        dict(code="CNRS-EX-DR04", kind="entity", name="Délégation Île-de-France Gif-sur-Yvette (exemple)",
             siret=_siret(CNRS_SIREN, "0004"), parent_code="CNRS-EX", city="Gif-sur-Yvette"),
        dict(code="INSERM-EX", kind="headquarters", name="Institut national de la santé (exemple)",
             siren=INSERM_SIREN, siret=_siret(INSERM_SIREN, "0001"), city="Paris"),
        dict(code="INSERM-EX-LYON", kind="entity", name="Délégation régionale Auvergne-Rhône-Alpes (exemple)",
             siret=_siret(INSERM_SIREN, "0012"), parent_code="INSERM-EX", city="Lyon"),
        dict(code="BIOTECH-EX", kind="headquarters", name="Biotech Exemple SAS", siren=BIOTECH_SIREN,
             siret=_siret(BIOTECH_SIREN, "0015"), city="Grenoble"),
    ]
    labs = [
        ("LAB-LMC", "Laboratoire de matériaux et catalyse", "200012345", "UNIV-EX|CNRS-EX-DR07"),
        ("LAB-IGF", "Institut de génomique fonctionnelle (exemple)", "200512876", "UNIV-EX|INSERM-EX-LYON"),
        ("LAB-LIS", "Laboratoire d'informatique et systèmes (exemple)", "201119432", "UNIV-EX|CNRS-EX-DR07"),
        ("LAB-CPT", "Centre de physique théorique (exemple)", "199812011", "CNRS-EX-DR04"),
        ("LAB-NEURO", "Centre de recherche en neurosciences (exemple)", "201220987", "INSERM-EX-LYON|UNIV-EX"),
        ("LAB-ECO", "Laboratoire d'écologie des hydrosystèmes (exemple)", "200311567", "CNRS-EX-DR04"),
    ]
    for code, name, digits, supervisors in labs:
        letter = "ABCDEFGHJKLMNPRSTUVWXYZ"[int(digits) % 23]
        rows.append(dict(code=code, kind="laboratory", name=name, rnsr=digits + letter,
                         supervisor_codes=supervisors, city="Lyon"))
    return rows


FIRST_NAMES = ["Claire", "Paul", "Sophie", "Nicolas", "Amélie", "Julien", "Camille", "Thomas", "Inès", "Louis",
               "Chloé", "Mathieu", "Léa", "Antoine", "Sarah", "Hugo", "Manon", "Karim", "Élise", "Yann"]
LAST_NAMES = ["Delorme", "Renaud", "Martin", "Bernard", "Roux", "Fournier", "Girard", "Bonnet", "Dupuis",
              "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure", "Andrieu", "Mercier",
              "Blanc", "Guérin"]
DOMAINS = {"UNIV": "univ-exemple.fr", "CNRS": "cnrs-exemple.fr", "INSERM": "inserm-exemple.fr",
           "BIOTECH": "biotech-exemple.fr", "LAB": "univ-exemple.fr"}


def people(rng: random.Random, orgs: list[dict]) -> list[dict]:
    """Lab directors, establishment officers and researchers, with e-mails the portal will recognise."""
    rows = [
        dict(code="P-0001", email=DIRECTOR_EMAIL, first_name="Claire", last_name="Delorme",
             organisation_code=DIRECTOR_LAB_CODE, roles="lab_director"),
        dict(code="P-0002", email=COORDINATOR_EMAIL, first_name="Paul", last_name="Renaud",
             organisation_code="CNRS-EX-DR07", roles=""),
        dict(code="P-0003", email=HQ_OFFICER_EMAIL, first_name="Service", last_name="Valorisation",
             organisation_code="UNIV-EX", roles="officer|legal_representative"),
    ]
    n = 4
    for org in orgs:
        if org["kind"] == "laboratory" and org["code"] != DIRECTOR_LAB_CODE:
            rows.append(_person(rng, n, org["code"], "lab_director"))
            n += 1
        elif org["kind"] == "entity":
            rows.append(_person(rng, n, org["code"], "officer|financial_contact"))
            n += 1
    while n <= 45:
        org = rng.choice([o for o in orgs if o["kind"] != "headquarters"])
        rows.append(_person(rng, n, org["code"], ""))
        n += 1
    return rows


def _person(rng: random.Random, n: int, org_code: str, roles: str) -> dict:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = DOMAINS[org_code.split("-")[0]]
    email = f"{first}.{last}.{n}@{domain}".lower().replace("é", "e").replace("è", "e").replace("ï", "i")
    return dict(code=f"P-{n:04d}", email=email, first_name=first, last_name=last,
                phone=f"04 72 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                organisation_code=org_code, roles=roles)


CALLS = [("AAPG2023", "Appel à projets générique 2023", 2023),
         ("AAPG2024", "Appel à projets générique 2024", 2024),
         ("AAPG2025", "Appel à projets générique 2025", 2025),
         ("JCJC2024", "Jeunes chercheuses et jeunes chercheurs 2024", 2024),
         ("PRCE2025", "Projets de recherche collaborative — entreprise 2025", 2025)]
STATES = ["submission"] * 8 + ["selected"] * 8 + ["contracting"] * 8 + ["follow_up"] * 26 + ["closed"] * 6 + [
    "abandoned"] * 4
WORDS = ["catalyse", "hydrogène", "génome", "réseaux", "neurones", "climat", "matériaux", "quantique",
         "biodiversité", "imagerie", "protéines", "sols", "apprentissage", "polymères", "océans", "vaccins"]
DELIVERABLES = ["Rapport scientifique intermédiaire", "Rapport financier intermédiaire", "Plan de gestion des données",
                "Rapport scientifique final", "Rapport financier final", "Compte rendu de réunion de lancement"]
MOD_KINDS = ["extension", "amounts", "beneficiary_entry", "beneficiary_withdrawal", "team", "administrative",
             "coordinator"]
MOD_STATES = ["submitted", "under_review", "accepted", "refused", "withdrawn"]


def projects(rng: random.Random, today: date, orgs: list[dict], persons: list[dict]) -> dict[str, list[dict]]:
    """About 60 projects in every state, with partners, payment schedules, deliverables, modifications."""
    labs = [o for o in orgs if o["kind"] == "laboratory"]
    lab_parent = {"LAB-LMC": "UNIV-EX-SCIENCES", "LAB-IGF": "UNIV-EX-SANTE", "LAB-LIS": "CNRS-EX-DR07",
                  "LAB-CPT": "CNRS-EX-DR04", "LAB-NEURO": "INSERM-EX-LYON", "LAB-ECO": "CNRS-EX-DR04"}
    researchers = [p["code"] for p in persons[3:]]
    out: dict[str, list[dict]] = {k: [] for k in ("projects", "partners", "payment_lines", "deliverables",
                                                  "modification_requests")}
    for i, state in enumerate(STATES):
        call_code, call_name, year = CALLS[i % len(CALLS)]
        reference = f"ANR-{year % 100:02d}-CE{10 + i % 40:02d}-{i + 1:04d}"
        acronym = "".join(rng.choice("ABCDEFGHIKLMNOPRSTUV") for _ in range(rng.randint(4, 7)))
        start = date(year, 10, 1) + timedelta(days=rng.randint(0, 120))
        months = rng.choice([36, 42, 48])
        end = _add_months(start, months)
        aid = Decimal(rng.randrange(150_000, 700_000, 500))
        consortium = rng.sample(labs, rng.randint(1, 3))
        if i % 4 == 0 and all(lab["code"] != DIRECTOR_LAB_CODE for lab in consortium):
            consortium[0] = next(lab for lab in labs if lab["code"] == DIRECTOR_LAB_CODE)
        coordinator = "P-0002" if i % 7 == 0 else rng.choice(researchers)
        funded = state in ("contracting", "follow_up", "closed")
        out["projects"].append(dict(
            reference=reference, acronym=acronym, title=f"{acronym} : {rng.choice(WORDS)} et {rng.choice(WORDS)}",
            call_code=call_code, call_name=call_name, call_year=year, state=state,
            decision_number=f"DEC-{year}-{i + 1:05d}" if funded else "",
            aid_granted=aid if state != "submission" else "",
            start_date=start.isoformat() if state != "submission" else "",
            scientific_end_date=end.isoformat() if state != "submission" else "",
            duration_months=months, coordinator_code=coordinator))
        shares = _split(aid, len(consortium) + (1 if i % 5 == 0 else 0))
        members = [(lab_parent[lab["code"]], lab["code"]) for lab in consortium]
        if i % 5 == 0:
            members.append(("BIOTECH-EX", ""))
        for number, ((org_code, lab_code), share) in enumerate(zip(members, shares, strict=True), start=1):
            out["partners"].append(dict(
                project_reference=reference, number=number, organisation_code=org_code, laboratory_code=lab_code,
                scientific_lead_code=coordinator if number == 1 else rng.choice(researchers),
                administrative_lead_code=rng.choice(researchers), is_coordinator=1 if number == 1 else 0,
                aid_granted=share))
            if funded:
                out["payment_lines"] += _schedule(reference, number, share, start, end, today)
        for d, title in enumerate(rng.sample(DELIVERABLES, rng.randint(2, 4)) if state != "submission" else [],
                                  start=1):
            due = start + timedelta(days=rng.randint(120, months * 30))
            submitted = due + timedelta(days=rng.randint(-20, 30)) if due < today and rng.random() < 0.6 else None
            if submitted is not None and submitted > today:
                submitted = None
            out["deliverables"].append(dict(
                project_reference=reference, code=f"L{d}", title=title, due_date=due.isoformat(),
                submitted_on=submitted.isoformat() if submitted else None, conditions_payment=d == 1))
        if state in ("follow_up", "contracting", "closed"):
            for m in range(rng.randint(0, 2) if i >= 7 else 1):
                kind = MOD_KINDS[(i + m) % len(MOD_KINDS)]
                mstate = MOD_STATES[(i + 2 * m) % len(MOD_STATES)]
                submitted = start + timedelta(days=rng.randint(60, 500))
                out["modification_requests"].append(dict(
                    project_reference=reference, number=f"DM-{m + 1}", kind=kind, state=mstate,
                    submitted_on=min(submitted, today).isoformat(),
                    decided_on=(min(submitted, today) + timedelta(days=30)).isoformat()
                    if mstate in ("accepted", "refused") else None,
                    summary="Demande transmise par le coordinateur."))
    return out


TEAM_ROLES = ["Chercheur ou chercheuse", "Ingénieur ou ingénieure d'études", "Doctorant ou doctorante",
              "Post-doctorant ou post-doctorante", "Technicien ou technicienne"]
#: The demo coordinator (Paul Renaud) is also a team member of projects he neither coordinates nor leads.
TEAM_MEMBER_CODE = "P-0002"


def team_members(rng: random.Random, data: dict[str, list[dict]], persons: list[dict], today: date) -> list[dict]:
    """Two to four team members per project (never its partners' leads), some whose participation ended."""
    researchers = [p["code"] for p in persons[3:]]
    leads: dict[str, set[str]] = {}
    for partner in data["partners"]:
        leads.setdefault(partner["project_reference"], set()).update(
            {partner["scientific_lead_code"], partner["administrative_lead_code"]})
    rows, joined = [], 0
    for project in data["projects"]:
        reference = project["reference"]
        taken = leads.get(reference, set()) | {project["coordinator_code"]}
        members = rng.sample([r for r in researchers if r not in taken], rng.randint(2, 4))
        if joined < 3 and TEAM_MEMBER_CODE not in taken and project["state"] in ("selected", "contracting",
                                                                                  "follow_up"):
            members[0], joined = TEAM_MEMBER_CODE, joined + 1
        start = date.fromisoformat(project["start_date"]) if project["start_date"] else None
        for n, code in enumerate(members):
            ended = start is not None and n == len(members) - 1 and rng.random() < 0.3
            end = min(today - timedelta(days=rng.randint(30, 300)), start + timedelta(days=400)) if ended else None
            if end is not None and start is not None and end < start:
                end = None
            rows.append(dict(project_reference=reference, person_code=code,
                             role=rng.choice(TEAM_ROLES) if code != TEAM_MEMBER_CODE else TEAM_ROLES[0],
                             start_date=start.isoformat() if start else "",
                             end_date=end.isoformat() if end else ""))
    return rows


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, min(start.day, 28))


def _split(total: Decimal, parts: int) -> list[Decimal]:
    base = (total / parts).quantize(Decimal("0.01"))
    return [base] * (parts - 1) + [total - base * (parts - 1)]


def _schedule(reference: str, number: int, share: Decimal, start: date, end: date, today: date) -> list[dict]:
    lines = []
    for n, (label, ratio, due) in enumerate([("Avance", Decimal("0.30"), start),
                                              ("Versement intermédiaire", Decimal("0.50"), start + (end - start) / 2),
                                              ("Solde", Decimal("0.20"), end + timedelta(days=90))], start=1):
        amount = (share * ratio).quantize(Decimal("0.01"))
        paid = due <= today
        lines.append(dict(project_reference=reference, partner_number=number, number=n, label=label,
                          due_date=due.isoformat(), amount=amount, paid_amount=amount if paid else 0,
                          paid_on=(due + timedelta(days=15)).isoformat() if paid else ""))
    return lines


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=";", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def write_demo_export(directory: str | Path, *, today: date | None = None, seed: int = 2026,
                      with_errors: bool = True) -> Path:
    """Write the demo export set (CSV and JSON lines) into the directory and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    today = today or date.today()
    rng = random.Random(seed)
    orgs = organisations()
    persons = people(rng, orgs)
    data = projects(rng, today, orgs, persons)
    team = team_members(random.Random(seed + 1), data, persons, today)  # own stream: the rest stays as it was
    if with_errors:  # two lines the import must refuse, to show the rejection report
        orgs.append(dict(code="ERR-SIRET", kind="entity", name="Ligne erronée (SIRET)", siret="12345678901234"))
        data["partners"].append(dict(project_reference="ANR-00-XX00-0000", number=1, organisation_code="UNIV-EX"))
    _write_csv(directory / "organisations.csv", ORG_COLUMNS, orgs)
    _write_csv(directory / "people.csv", PEOPLE_COLUMNS, persons)
    _write_csv(directory / "projects.csv", PROJECT_COLUMNS, data["projects"])
    _write_csv(directory / "partners.csv", PARTNER_COLUMNS, data["partners"])
    _write_csv(directory / "team_members.csv", TEAM_COLUMNS, team)
    _write_csv(directory / "payment_lines.csv", PAYMENT_COLUMNS, data["payment_lines"])
    _write_jsonl(directory / "deliverables.jsonl", data["deliverables"])
    _write_jsonl(directory / "modification_requests.jsonl", data["modification_requests"])
    return directory


PORTAL_ACCOUNTS = [
    ("Directeur de laboratoire (portail)", DIRECTOR_EMAIL),
    ("Coordinateur (portail)", COORDINATOR_EMAIL),
    ("Siège d'établissement (portail)", HQ_OFFICER_EMAIL),
]


def seed(context: dict) -> None:
    """Demo seeder: write the export set, import it for real, open three portal accounts."""
    import sqlalchemy as sa
    from flask import current_app

    from crm.core import services
    from crm.core.extensions import db, utcnow
    from crm.core.models import Role
    from crm.demo.accounts import DEMO_PASSWORD
    from crm.imports.services import import_directory
    from crm.organisations.models import Organisation, Person
    from crm.organisations.services import record_interaction
    from crm.portal import services as portal_accounts
    from crm.portal.models import ProfileKind
    from crm.projects.models import Project

    directory = write_demo_export(Path(current_app.instance_path) / "demo-import")
    import_directory(directory, trigger="demo")
    users = context.get("users", {})
    admin = users.get("admin")
    accounts = {}
    for _label, email in PORTAL_ACCOUNTS:
        person = db.session.scalar(sa.select(Person).where(Person.email == email))
        user = services.user_by_email(email) or services.create_user(email, person.full_name, [Role.REQUESTER],
                                                                    DEMO_PASSWORD)
        person.user_id = user.id
        accounts[email] = user
    portal_accounts.grant_profile(accounts[HQ_OFFICER_EMAIL], ProfileKind.HEADQUARTERS, UNIV_SIREN, by=admin)
    cnrs_dr07 = db.session.scalar(sa.select(Organisation.siret).where(Organisation.code == "CNRS-EX-DR07"))
    portal_accounts.request_profile(accounts[COORDINATOR_EMAIL], ProfileKind.ENTITY, cnrs_dr07,
                                    "Correspondant valorisation de la délégation.")
    university = db.session.scalar(sa.select(Organisation).where(Organisation.code == "UNIV-EX"))
    agent = users.get("agent")
    if agent is not None:
        record_interaction(university, author=agent, kind="meeting", occurred_at=utcnow() - timedelta(days=12),
                           subject="Point annuel avec la direction de la recherche",
                           body="Revue des projets en conventionnement et des livrables en retard.")
        record_interaction(university, author=agent, kind="call", occurred_at=utcnow() - timedelta(days=3),
                           subject="Appel du service financier : RIB à mettre à jour")
    context["organisations"] = db.session.scalars(sa.select(Organisation).order_by(Organisation.id)).all()
    context["projects"] = db.session.scalars(sa.select(Project).order_by(Project.id)).all()

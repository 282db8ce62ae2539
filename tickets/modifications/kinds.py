"""The seven forms of a modification request: their fields, documents, rules and what happens next. Pure.

``validate(kind, raw, facts)`` reads the submitted strings (a web form's or the API's, the same names) against the
project as the business systems describe it (``ProjectFacts``) and answers the clean data (JSON-ready strings) and
the errors by field, in French. The services call it on submission; a draft is saved with what parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError

from crm.organisations.identifiers import IdentifierError, validate_siret
from crm.projects.models import MODIFICATION_KIND_LABELS
from crm.projects.models import ModificationKind as Kind

#: When the call gives no maximum duration (months), the agency's general rule.
DEFAULT_MAX_DURATION_MONTHS = 60
MAX_AMOUNT = Decimal("1000000000")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RNSR = re.compile(r"^(19|20)\d{7}[A-Z]$")


@dataclass(frozen=True)
class PartnerFacts:
    number: int
    name: str
    siret: str | None = None
    aid: Decimal | None = None
    is_coordinator: bool = False


@dataclass(frozen=True)
class ProjectFacts:
    """What the forms are pre-filled from and checked against."""

    reference: str
    start_date: date | None
    end_date: date | None
    aid_granted: Decimal | None
    partners: tuple[PartnerFacts, ...] = ()
    max_duration_months: int | None = None
    #: SIRETs of establishments the agency already knows (for the entry of a beneficiary).
    known_sirets: frozenset[str] = frozenset()

    def partner(self, number: int) -> PartnerFacts | None:
        return next((p for p in self.partners if p.number == number), None)


@dataclass(frozen=True)
class Field:
    """A form field: name (the data key), type (text, long_text, date, money, siret, iban, email, rnsr, partner,
    choice, amounts: one money input per partner, named amount_<number>), label, required, choices."""

    name: str
    type: str
    label: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class Document:
    """A document the kind needs (PDF); required_if: required only when that field is filled."""

    slug: str
    label: str
    required: bool = True
    required_if: str | None = None


@dataclass(frozen=True)
class KindSpec:
    kind: str
    fields: tuple[Field, ...]
    documents: tuple[Document, ...]
    next_steps: str
    co_validation: bool = True
    #: The référent group it is routed to and its resolution target (working days) in the default configuration.
    queue: str = "referents-amendements"
    resolution_days: int = 15

    @property
    def topic(self) -> str:
        """The routing topic of the kind: its queue and SLA policy are the topic's."""
        return f"modification-{self.kind}".replace("_", "-")


#: The kinds' names, as the imported requests show them.
KIND_LABELS = MODIFICATION_KIND_LABELS
FIELD_LABELS = {
    "reason": "Motif de la demande",
    "new_end_date": "Nouvelle date de fin scientifique",
    "work_changes": "Modification des travaux (facultatif)",
    "amounts": "Nouveau montant d'aide par partenaire (en euros)",
    "siret": "SIRET de l'établissement",
    "name": "Nom de l'établissement (s'il n'est pas connu de l'agence)",
    "address": "Adresse postale",
    "laboratory_rnsr": "Numéro RNSR du laboratoire (facultatif)",
    "lead_name": "Nom du responsable scientifique",
    "lead_email": "Adresse électronique du responsable scientifique",
    "requested_aid": "Aide demandée (en euros)",
    "entry_date": "Date d'entrée",
    "partner": "Partenaire concerné",
    "exit_date": "Date de sortie",
    "redistribution": "Répartition des travaux et de l'aide du partenaire sortant",
    "change": "Nature du changement",
    "person_name": "Nom de la personne",
    "person_email": "Adresse électronique de la personne",
    "person_role": "Rôle dans le projet",
    "replaced_name": "Personne remplacée",
    "iban": "Nouvel IBAN",
    "bic": "BIC (facultatif)",
    "new_siret": "Nouveau SIRET",
    "new_coordinator_name": "Nouveau coordinateur : nom",
    "new_coordinator_email": "Nouveau coordinateur : adresse électronique",
    "new_managing_partner": "Nouvel organisme gestionnaire (partenaire)",
}
CHOICE_LABELS = {
    "add": "Ajout d'une personne",
    "replace": "Remplacement d'une personne",
    "remove": "Départ d'une personne",
    "coordinator": "Changement de coordinateur",
    "establishment": "Changement d'organisme gestionnaire",
    "both": "Les deux",
}
DOCUMENT_LABELS = {
    "letter": "Lettre de demande signée par l'établissement gestionnaire",
    "schedule": "Calendrier révisé (facultatif)",
    "budget": "Tableau budgétaire révisé",
    "commitment": "Lettre d'engagement du nouveau bénéficiaire",
    "annex": "Annexe financière du nouveau bénéficiaire",
    "exit_letter": "Lettre du bénéficiaire sortant",
    "cv": "Curriculum vitae de la personne (facultatif)",
    "rib": "Relevé d'identité bancaire (RIB) de l'établissement",
    "new_establishment_letter": "Lettre d'accord du nouvel organisme gestionnaire",
}
NEXT_STEPS_LABELS = {
    "co_validation": "Votre demande est d'abord transmise pour co-validation : au responsable administratif de "
                     "l'établissement gestionnaire si vous êtes responsable scientifique, au responsable scientifique "
                     "si vous êtes responsable administratif. Elle arrive à l'agence une fois co-validée.",
    "review": "L'agence instruit ensuite votre demande. Elle peut vous demander des compléments : le délai de "
              "traitement est alors suspendu jusqu'à votre réponse. Vous recevez la décision motivée par courriel "
              "et la retrouvez dans le tableau de suivi.",
    "extension": "Une prolongation ne change pas le montant de l'aide : si elle est acceptée, la nouvelle date de "
                 "fin s'applique au rapport final et aux dépenses éligibles.",
    "amounts": "La nouvelle répartition s'applique aux versements qui restent à faire ; les montants déjà versés "
               "ne changent pas.",
    "entry": "Si l'entrée est acceptée, le nouveau bénéficiaire signe l'acte attributif ; ses versements commencent "
             "après réception de son annexe financière validée.",
    "withdrawal": "Le bénéficiaire sortant transmet un état récapitulatif de ses dépenses ; l'aide non justifiée "
                  "peut être redistribuée ou reversée.",
    "team": "Le changement est enregistré sur la fiche du projet ; il ne change ni l'aide ni le calendrier.",
    "administrative": "Les nouvelles coordonnées bancaires ne servent qu'aux versements futurs, après vérification "
                      "par l'agence.",
    "coordinator": "Le changement prend effet à la date de l'avenant signé par les deux établissements.",
    "recorded": "Une modification acceptée est reportée dans le système de gestion de l'agence ; elle apparaît "
                "sur la fiche du projet après la mise à jour de la nuit, et la demande est alors clôturée.",
}


def _f(name: str, type_: str, required: bool = False, choices: tuple[str, ...] = ()) -> Field:
    return Field(name, type_, FIELD_LABELS[name], required, tuple((c, CHOICE_LABELS[c]) for c in choices))


def _d(slug: str, required: bool = True, required_if: str | None = None) -> Document:
    return Document(slug, DOCUMENT_LABELS[slug], required, required_if)


SPECS: dict[str, KindSpec] = {s.kind: s for s in (
    KindSpec(Kind.EXTENSION, (_f("new_end_date", "date", True), _f("work_changes", "long_text"),
                              _f("reason", "long_text", True)),
             (_d("letter"), _d("schedule", False)), "extension", resolution_days=10),
    KindSpec(Kind.AMOUNTS, (_f("amounts", "amounts", True), _f("reason", "long_text", True)),
             (_d("letter"), _d("budget")), "amounts", queue="referents-finances"),
    KindSpec(Kind.BENEFICIARY_ENTRY,
             (_f("siret", "siret", True), _f("name", "text"), _f("address", "long_text"),
              _f("laboratory_rnsr", "rnsr"), _f("lead_name", "text", True), _f("lead_email", "email", True),
              _f("requested_aid", "money", True), _f("entry_date", "date", True), _f("reason", "long_text", True)),
             (_d("letter"), _d("commitment"), _d("annex")), "entry", resolution_days=20),
    KindSpec(Kind.BENEFICIARY_WITHDRAWAL,
             (_f("partner", "partner", True), _f("exit_date", "date", True),
              _f("redistribution", "long_text", True), _f("reason", "long_text", True)),
             (_d("letter"), _d("exit_letter")), "withdrawal"),
    KindSpec(Kind.TEAM,
             (_f("partner", "partner", True), _f("change", "choice", True, ("add", "replace", "remove")),
              _f("person_name", "text", True), _f("person_email", "email"), _f("person_role", "text"),
              _f("replaced_name", "text"), _f("reason", "long_text", True)),
             (_d("letter"), _d("cv", False)), "team"),
    KindSpec(Kind.ADMINISTRATIVE,
             (_f("partner", "partner", True), _f("iban", "iban"), _f("bic", "text"), _f("new_siret", "siret"),
              _f("address", "long_text"), _f("reason", "long_text", True)),
             (_d("rib", required=False, required_if="iban"),), "administrative", co_validation=False,
             queue="referents-finances", resolution_days=5),
    KindSpec(Kind.COORDINATOR,
             (_f("change", "choice", True, ("coordinator", "establishment", "both")),
              _f("new_coordinator_name", "text"), _f("new_coordinator_email", "email"),
              _f("new_managing_partner", "partner"), _f("reason", "long_text", True)),
             (_d("letter"), _d("new_establishment_letter", required=False, required_if="new_managing_partner")),
             "coordinator"),
)}
#: The kinds in the order the forms are offered (the agency's volumes: extensions first).
KIND_ORDER = tuple(SPECS)


def next_steps(kind: str, co_validation: bool) -> list[str]:
    """What happens after the submission, in order (French keys of NEXT_STEPS_LABELS, translated on display)."""
    keys = (["co_validation"] if co_validation else []) + ["review", SPECS[kind].next_steps, "recorded"]
    return [NEXT_STEPS_LABELS[k] for k in keys]


def needs_co_validation(kind: str, filer_role: str) -> bool:
    """Whether the other party co-validates: every kind but bank details filed by the administrative lead."""
    return SPECS[kind].co_validation or filer_role != "administrative_lead"


def required_documents(kind: str, data: dict) -> list[Document]:
    """The documents this request needs, given its data."""
    return [d for d in SPECS[kind].documents if d.required or (d.required_if and data.get(d.required_if))]


def normalised_siret(value) -> str | None:
    """A typed SIRET without its spaces and dots (to look the establishment up), or None."""
    digits = re.sub(r"[\s.\-]", "", str(value or ""))
    return digits or None


def months_between(start: date, end: date) -> float:
    """Calendar months from start to end (a partial month counted by its days)."""
    return (end.year - start.year) * 12 + (end.month - start.month) + (end.day - start.day + 1) / 31


def parse_money(value: str) -> Decimal:
    """An amount typed the French way ("12 345,67 €") as a Decimal of cents; ValueError with a message."""
    text = re.sub(r"[\s\u00a0\u202f€]", "", value or "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("Montant invalide : « %(value)s » (exemple : 12 500,00).", value=value)) from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise ValueError(_("Montant invalide : « %(value)s » (exemple : 12 500,00).", value=value))
    return amount.quantize(Decimal("0.01"))


def parse_date(value: str) -> date:
    text = (value or "").strip()
    try:
        if re.fullmatch(r"\d{2}/\d{2}/\d{4}", text):
            day, month, year = text.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("Date invalide : « %(value)s » (format JJ/MM/AAAA).", value=value)) from None


def _clean_field(spec: Field, raw: str, facts: ProjectFacts) -> str:
    """One field's clean value as a string; ValueError with the message for the user."""
    value = (raw or "").strip()
    if spec.type == "date":
        return parse_date(value).isoformat()
    if spec.type == "money":
        return str(parse_money(value))
    if spec.type == "siret":
        try:
            return validate_siret(value)
        except IdentifierError as error:
            raise ValueError(str(error)) from None
    if spec.type == "iban":
        try:
            return stdnum_iban.validate(value)
        except StdnumError:
            raise ValueError(_("IBAN « %(value)s » invalide : vérifiez le pays, la longueur et la clé.",
                               value=value)) from None
    if spec.type == "email":
        if not _EMAIL.match(value) or len(value) > 254:
            raise ValueError(_("Adresse électronique invalide."))
        return value.lower()
    if spec.type == "rnsr":
        if not _RNSR.match(value.upper()):
            raise ValueError(_("RNSR « %(value)s » : 9 chiffres puis une lettre attendus.", value=value))
        return value.upper()
    if spec.type == "partner":
        if not value.isdigit() or facts.partner(int(value)) is None:
            raise ValueError(_("Choisissez un partenaire du projet."))
        return str(int(value))
    if spec.type == "choice":
        if value not in {c for c, _label in spec.choices}:
            raise ValueError(_("Choisissez une des possibilités proposées."))
        return value
    limit = 5000 if spec.type == "long_text" else 300
    if len(value) > limit:
        raise ValueError(_("%(n)s caractères au plus.", n=limit))
    return value


def validate(kind: str, raw: dict, facts: ProjectFacts, *, complete: bool = True) -> tuple[dict, dict]:
    """The clean data and the errors by field. ``complete=False`` (a draft): required fields may be empty and the
    rules across fields are not checked; what does not parse is still reported."""
    spec = SPECS.get(kind)
    if spec is None:
        return {}, {"kind": _("Type de demande inconnu.")}
    data: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in spec.fields:
        if f.type == "amounts":
            for partner in facts.partners:
                name = f"amount_{partner.number}"
                value = str(raw.get(name) or "").strip()
                if not value:
                    if complete:
                        errors[name] = _("Indiquez un montant (0 pour aucun).")
                    continue
                try:
                    data[name] = str(parse_money(value))
                except ValueError as error:
                    errors[name] = str(error)
            continue
        value = raw.get(f.name)
        value = "" if value is None else str(value)
        if not value.strip():
            if f.required and complete:
                errors[f.name] = _("Ce champ est obligatoire.")
            continue
        try:
            data[f.name] = _clean_field(f, value, facts)
        except ValueError as error:
            errors[f.name] = str(error)
    if complete and not errors:
        errors.update(RULES[kind](data, facts))
    return data, errors


# -- the rules across fields, per kind ----------------------------------------------------------------------


def _within_project(day: date, facts: ProjectFacts) -> str | None:
    if facts.start_date and day < facts.start_date:
        return _("La date doit être postérieure au début du projet (%(day)s).",
                 day=facts.start_date.strftime("%d/%m/%Y"))
    if facts.end_date and day > facts.end_date:
        return _("La date doit être antérieure à la fin du projet (%(day)s).",
                 day=facts.end_date.strftime("%d/%m/%Y"))
    return None


def _extension(data: dict, facts: ProjectFacts) -> dict:
    new_end = date.fromisoformat(data["new_end_date"])
    if facts.end_date and new_end <= facts.end_date:
        return {"new_end_date": _("La nouvelle date de fin doit être postérieure à la date de fin actuelle "
                                  "(%(day)s).", day=facts.end_date.strftime("%d/%m/%Y"))}
    maximum = facts.max_duration_months or DEFAULT_MAX_DURATION_MONTHS
    if facts.start_date and months_between(facts.start_date, new_end) > maximum:
        return {"new_end_date": _("La durée totale dépasserait la durée maximale de l'appel (%(n)s mois).",
                                  n=maximum)}
    return {}


def _amounts(data: dict, facts: ProjectFacts) -> dict:
    total = sum((Decimal(data[f"amount_{p.number}"]) for p in facts.partners), Decimal("0"))
    if facts.aid_granted is not None and total > facts.aid_granted:
        return {"amounts": _("Le total des montants (%(total)s €) dépasse l'aide accordée (%(grant)s €).",
                             total=total, grant=facts.aid_granted)}
    if all(Decimal(data[f"amount_{p.number}"]) == (p.aid or 0) for p in facts.partners):
        return {"amounts": _("Les montants sont identiques aux montants actuels : aucune modification.")}
    return {}


def _entry(data: dict, facts: ProjectFacts) -> dict:
    errors = {}
    if data["siret"] in {p.siret for p in facts.partners}:
        errors["siret"] = _("Cet établissement est déjà partenaire du projet.")
    elif data["siret"] not in facts.known_sirets:
        for name in ("name", "address"):
            if not data.get(name):
                errors[name] = _("Établissement inconnu de l'agence : ce champ est obligatoire.")
    if facts.aid_granted is not None and Decimal(data["requested_aid"]) > facts.aid_granted:
        errors["requested_aid"] = _("L'aide demandée dépasse l'aide accordée au projet (%(grant)s €).",
                                    grant=facts.aid_granted)
    problem = _within_project(date.fromisoformat(data["entry_date"]), facts)
    if problem:
        errors["entry_date"] = problem
    return errors


def _withdrawal(data: dict, facts: ProjectFacts) -> dict:
    errors = {}
    partner = facts.partner(int(data["partner"]))
    if partner is not None and partner.is_coordinator:
        errors["partner"] = _("Le partenaire coordinateur ne peut pas se retirer : demandez d'abord un "
                              "changement de coordinateur.")
    problem = _within_project(date.fromisoformat(data["exit_date"]), facts)
    if problem:
        errors["exit_date"] = problem
    return errors


def _team(data: dict, facts: ProjectFacts) -> dict:
    if data["change"] == "replace" and not data.get("replaced_name"):
        return {"replaced_name": _("Indiquez la personne remplacée.")}
    if data["change"] in ("add", "replace") and not data.get("person_email"):
        return {"person_email": _("Indiquez l'adresse électronique de la personne qui arrive.")}
    return {}


def _administrative(data: dict, facts: ProjectFacts) -> dict:
    if not any(data.get(name) for name in ("iban", "new_siret", "address")):
        return {"iban": _("Indiquez au moins un changement : IBAN, SIRET ou adresse.")}
    return {}


def _coordinator(data: dict, facts: ProjectFacts) -> dict:
    errors = {}
    if data["change"] in ("coordinator", "both"):
        for name in ("new_coordinator_name", "new_coordinator_email"):
            if not data.get(name):
                errors[name] = _("Ce champ est obligatoire pour un changement de coordinateur.")
    if data["change"] in ("establishment", "both"):
        if not data.get("new_managing_partner"):
            errors["new_managing_partner"] = _("Choisissez le partenaire qui devient organisme gestionnaire.")
        elif facts.partner(int(data["new_managing_partner"])).is_coordinator:
            errors["new_managing_partner"] = _("Ce partenaire est déjà l'organisme gestionnaire coordinateur.")
    return errors


RULES = {Kind.EXTENSION: _extension, Kind.AMOUNTS: _amounts, Kind.BENEFICIARY_ENTRY: _entry,
         Kind.BENEFICIARY_WITHDRAWAL: _withdrawal, Kind.TEAM: _team, Kind.ADMINISTRATIVE: _administrative,
         Kind.COORDINATOR: _coordinator}


def prefill(kind: str, facts: ProjectFacts, partner_number: int | None = None) -> dict:
    """The form's starting values: the current amounts, the filer's partner."""
    if kind == Kind.AMOUNTS:
        return {f"amount_{p.number}": str(p.aid or Decimal("0.00")) for p in facts.partners}
    if kind in (Kind.ADMINISTRATIVE, Kind.TEAM) and partner_number is not None:
        return {"partner": str(partner_number)}
    return {}


def summary(kind: str, data: dict, facts: ProjectFacts) -> str:
    """The request as plain text, the first message of its ticket (labels in French, the agency's language)."""
    spec = SPECS[kind]
    lines = [f"{KIND_LABELS[kind]} — projet {facts.reference}", ""]
    for f in spec.fields:
        if f.type == "amounts":
            for p in facts.partners:
                if f"amount_{p.number}" in data:
                    lines.append(f"Montant partenaire {p.number} ({p.name}) : {p.aid or 0} € → "
                                 f"{data[f'amount_{p.number}']} €")
        elif data.get(f.name):
            value = data[f.name]
            if f.type == "choice":
                value = CHOICE_LABELS.get(value, value)
            lines.append(f"{f.label} : {value}")
    return "\n".join(lines)

"""A financial annex's figures as pure data: categories, checks, canonical form, digest and differences.

The digest is the SHA-256 of a canonical JSON serialisation (sorted keys, amounts as strings with two
decimals, the rate with two decimals): an approval records it, so any later change of a figure is visible.
Unit-tested without a database (tests/tickets/annexes/test_annex_budget.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: The budget categories of an annex, in display order, with their French label.
CATEGORY_LABELS = {
    "staff": "Frais de personnel",
    "equipment": "Équipement",
    "missions": "Missions",
    "subcontracting": "Prestations de service et sous-traitance",
    "overheads": "Frais de gestion et de structure",
}
OTHER_LINE_LABELS = {"requested_aid": "Aide demandée", "rate": "Taux d'aide applicable"}
CATEGORIES = CATEGORY_LABELS
#: Every line a référent may comment on: the categories, the requested aid and the rate.
LINES = {**CATEGORY_LABELS, **OTHER_LINE_LABELS}
MAX_AMOUNT = Decimal("999999999999.99")
CENT = Decimal("0.01")


class BudgetError(ValueError):
    """Figures that cannot form an annex; ``errors`` maps each line to its message (French)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Figures:
    """One version's figures: an amount per category, the requested aid and the rate (percent)."""

    amounts: dict[str, Decimal]
    requested_aid: Decimal
    rate: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), Decimal("0.00"))

    @property
    def ceiling(self) -> Decimal:
        """The most the rate allows: total × rate / 100, to the cent."""
        return (self.total * self.rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def value(self, line: str) -> Decimal:
        if line == "requested_aid":
            return self.requested_aid
        if line == "rate":
            return self.rate
        return self.amounts[line]


def _decimal(raw, line: str, errors: dict[str, str]) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip().replace(" ", "").replace(",", ".")) if raw is not None else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        errors[line] = "Montant illisible : saisissez un nombre, par exemple 12500,00."
        return None
    return value


def make_figures(raw: dict) -> Figures:
    """Check and normalise figures given as numbers or strings; BudgetError lists every problem.

    Amounts are ≥ 0 with at most two decimals; the rate is between 0 and 100 %; the requested aid is at
    most the total budget times the rate.
    """
    errors: dict[str, str] = {}
    values: dict[str, Decimal] = {}
    for line in LINES:
        value = _decimal(raw.get(line), line, errors)
        if value is None:
            continue
        if value < 0:
            errors[line] = "Le montant ne peut pas être négatif."
        elif line == "rate" and value > 100:
            errors[line] = "Le taux est compris entre 0 et 100 %."
        elif value > MAX_AMOUNT:  # before quantize(), which fails on huge exponents
            errors[line] = "Montant trop élevé."
        elif value != value.quantize(CENT):
            errors[line] = "Deux décimales au plus."
        else:
            values[line] = value.quantize(CENT)
    if errors:
        raise BudgetError(errors)
    figures = Figures({c: values[c] for c in CATEGORIES}, values["requested_aid"], values["rate"])
    if figures.requested_aid > figures.ceiling:
        raise BudgetError({"requested_aid": (
            f"L'aide demandée dépasse le budget total multiplié par le taux ({_money(figures.ceiling)} €).")})
    return figures


def _money(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


def canonical(subject: dict, figures: Figures) -> bytes:
    """The bytes an approval's digest is computed from: what the annex is about, then every figure."""
    document = {"subject": subject, "amounts": {k: str(v) for k, v in figures.amounts.items()},
                "requested_aid": str(figures.requested_aid), "rate": str(figures.rate)}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(subject: dict, figures: Figures) -> str:
    """SHA-256 (hex) of the canonical serialisation."""
    return hashlib.sha256(canonical(subject, figures)).hexdigest()


@dataclass(frozen=True)
class Change:
    line: str
    before: Decimal | None
    after: Decimal


def differences(before: Figures | None, after: Figures) -> list[Change]:
    """The lines whose value changed from one version to the next (every line for a first version)."""
    return [Change(line, before.value(line) if before else None, after.value(line))
            for line in LINES if before is None or before.value(line) != after.value(line)]

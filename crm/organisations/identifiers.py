"""French establishment identifiers: SIREN and SIRET (Luhn key), RNSR laboratory numbers (format)."""

from __future__ import annotations

import re

from flask_babel import gettext as _

#: La Poste's SIREN: its establishments' SIRETs use a sum-of-digits rule instead of Luhn.
LA_POSTE_SIREN = "356000000"
_RNSR = re.compile(r"^(19|20)\d{7}[A-Z]$")


class IdentifierError(ValueError):
    """An identifier is malformed; the message says what is expected, in French."""


def clean_digits(value: str) -> str:
    """Drop the spaces, dots and dashes people type inside identifiers."""
    return re.sub(r"[\s.\-]", "", value or "")


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def validate_siren(value: str) -> str:
    """The normalised SIREN (9 digits, Luhn key), else IdentifierError."""
    siren = clean_digits(value)
    if not re.fullmatch(r"\d{9}", siren):
        raise IdentifierError(_("SIREN « %(value)s » : 9 chiffres attendus.", value=value))
    if not luhn_valid(siren):
        raise IdentifierError(_("SIREN « %(value)s » : la clé de contrôle est fausse (vérifiez les chiffres).",
                                value=value))
    return siren


def validate_siret(value: str) -> str:
    """The normalised SIRET (14 digits: SIREN + NIC, Luhn key or La Poste rule), else IdentifierError."""
    siret = clean_digits(value)
    if not re.fullmatch(r"\d{14}", siret):
        raise IdentifierError(_("SIRET « %(value)s » : 14 chiffres attendus (SIREN + NIC).", value=value))
    if siret.startswith(LA_POSTE_SIREN):
        valid = luhn_valid(siret) or sum(int(c) for c in siret) % 5 == 0
    else:
        valid = luhn_valid(siret)
    if not valid:
        raise IdentifierError(_("SIRET « %(value)s » : la clé de contrôle est fausse (vérifiez les chiffres).",
                                value=value))
    validate_siren(siret[:9])
    return siret


def validate_rnsr(value: str) -> str:
    """The normalised RNSR number (year, 5 digits, a check letter: 200012345A), else IdentifierError."""
    rnsr = clean_digits(value).upper()
    if not _RNSR.fullmatch(rnsr):
        raise IdentifierError(_("RNSR « %(value)s » : format attendu : année sur 4 chiffres, 5 chiffres, une lettre "
                                "(ex. 200012345A).", value=value))
    return rnsr


def luhn_complete(prefix: str) -> str:
    """The prefix followed by the digit that makes it pass the Luhn check (demo data and tests)."""
    for digit in "0123456789":
        if luhn_valid(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable")

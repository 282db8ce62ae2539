"""A question's text without what names its requester: addresses, telephone numbers, identifiers, names.

No database, no Flask: the community space shows the subject and the question through ``anonymise`` only.
What is masked: e-mail addresses, URLs, telephone numbers, IBANs, SIRET / SIREN / RNSR numbers and other long
numbers, the agency's request and project references, and every word of the names given (the requester's name,
the person the business systems know). A mask says what was there: « [adresse masquée] ».
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from tickets.linking import REFERENCE_RE as FUNDING_REFERENCE_RE

MASKS = {
    "email": "[adresse masquée]",
    "url": "[lien masqué]",
    "iban": "[IBAN masqué]",
    "reference": "[référence masquée]",
    "phone": "[téléphone masqué]",
    "number": "[numéro masqué]",
    "name": "[nom masqué]",
}

_PATTERNS = (
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)),
    ("url", re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)),
    # DEM-2026-000123, any funding reference the linking recognises (ANR-24-CE01-0001, ERC-24-…), an RNSR number
    ("reference", re.compile(rf"\b(?:DEM-\d{{4}}-\d+|\d{{9}}[A-Z])\b|{FUNDING_REFERENCE_RE.pattern}", re.IGNORECASE)),
    ("phone", re.compile(r"(?:\+33[ .]?|\b0)[1-9](?:[ .-]?\d{2}){4}\b")),
    # SIREN (9 digits), SIRET (14), grouped by spaces or not, and any other run of 7 digits or more
    ("number", re.compile(r"\b\d(?:[ ]?\d){6,}\b")),
)
#: Words of a name too short or too common to be masked on their own (particles).
_PARTICLES = {"de", "du", "des", "la", "le", "van", "von", "d", "l", "di", "da", "el"}


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).casefold()


def name_words(names: Iterable[str]) -> set[str]:
    """The words of the names worth masking (two letters or more, particles left), accent- and case-folded."""
    words = set()
    for name in names:
        for word in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", name or ""):
            for part in {word, *word.split("-")}:
                if len(part) >= 2 and _fold(part) not in _PARTICLES:
                    words.add(_fold(part))
    return words


def anonymise(text: str, names: Iterable[str] = ()) -> str:
    """The text with every identifying item replaced by its mask (see the module's docstring)."""
    for kind, pattern in _PATTERNS:
        text = pattern.sub(MASKS[kind], text or "")
    words = name_words(names)
    if not words:
        return text

    def mask(match: re.Match) -> str:
        return MASKS["name"] if _fold(match.group(0)) in words else match.group(0)

    return re.sub(r"[^\W\d_]+(?:-[^\W\d_]+)*", mask, text)

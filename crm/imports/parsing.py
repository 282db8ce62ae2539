"""Reading the business systems' files (CSV or JSON lines) and parsing their fields, line by line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

_TRUE = {"1", "true", "oui", "o", "yes", "y", "vrai"}
_FALSE = {"0", "false", "non", "n", "no", "faux", ""}


class RowError(ValueError):
    """A line is refused; the message (in French) goes to the rejection report."""


class FileError(ValueError):
    """A whole file cannot be read (bad header, bad encoding)."""


def read_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, row) from a .csv (`;` or `,` separated, UTF-8) or .jsonl file."""
    if path.suffix == ".jsonl":
        yield from _read_jsonl(path)
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = handle.readline()
        delimiter = ";" if header.count(";") >= header.count(",") else ","
        fields = [f.strip() for f in next(csv.reader([header], delimiter=delimiter), [])]
        missing = [c for c in required if c not in fields]
        if missing:
            raise FileError("colonnes obligatoires absentes de l'en-tête : " + ", ".join(missing))
        reader = csv.DictReader(handle, fieldnames=fields, delimiter=delimiter)
        for row in reader:
            if None in row:
                yield reader.line_num + 1, {"__error__": "trop de colonnes sur la ligne"}
                continue
            if not any((v or "").strip() for v in row.values()):
                continue  # blank line
            yield reader.line_num + 1, row


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, {"__error__": f"JSON invalide ({error.msg}, colonne {error.colno})"}
                continue
            if not isinstance(row, dict):
                yield number, {"__error__": "un objet JSON est attendu sur chaque ligne"}
                continue
            yield number, row


def _raw(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()


def text(row: dict, name: str, *, required: bool = False, max_length: int = 255) -> str | None:
    """A trimmed string, None when empty."""
    value = _raw(row, name)
    if not value:
        if required:
            raise RowError(f"« {name} » est obligatoire")
        return None
    if len(value) > max_length:
        raise RowError(f"« {name} » dépasse {max_length} caractères")
    return value


def integer(row: dict, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
    """An integer, None when empty."""
    value = _raw(row, name)
    if not value:
        if required:
            raise RowError(f"« {name} » est obligatoire")
        return None
    try:
        number = int(value)
    except ValueError:
        raise RowError(f"« {name} » : nombre entier attendu, reçu « {value[:40]} »") from None
    if minimum is not None and number < minimum:
        raise RowError(f"« {name} » doit être supérieur ou égal à {minimum}")
    return number


def amount(row: dict, name: str, *, required: bool = False) -> Decimal | None:
    """A euro amount with at most 2 decimals ('1234.5', '1 234,50'), None when empty."""
    value = _raw(row, name).replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace("€", "")
    if not value:
        if required:
            raise RowError(f"« {name} » est obligatoire")
        return None
    if "," in value:
        value = value.replace(".", "").replace(",", ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RowError(f"« {name} » : montant attendu, reçu « {value[:40]} »") from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e12"):
        raise RowError(f"« {name} » : montant hors limites")
    if number != number.quantize(Decimal("0.01")):
        raise RowError(f"« {name} » : deux décimales au plus")
    return number.quantize(Decimal("0.01"))


def day(row: dict, name: str, *, required: bool = False) -> date | None:
    """A date as YYYY-MM-DD or DD/MM/YYYY, None when empty."""
    value = _raw(row, name)
    if not value:
        if required:
            raise RowError(f"« {name} » est obligatoire")
        return None
    if len(value) == 10 and value[4] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise RowError(f"« {name} » : date attendue (AAAA-MM-JJ ou JJ/MM/AAAA), reçu « {value[:40]} »")


def boolean(row: dict, name: str) -> bool:
    """A yes/no flag (1/0, oui/non, true/false); empty is no."""
    value = _raw(row, name).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RowError(f"« {name} » : oui/non attendu, reçu « {value[:40]} »")


def choice(row: dict, name: str, allowed: tuple[str, ...] | list[str], *, required: bool = True) -> str | None:
    """One of the allowed codes."""
    value = _raw(row, name)
    if not value:
        if required:
            raise RowError(f"« {name} » est obligatoire")
        return None
    if value not in allowed:
        raise RowError(f"« {name} » : valeur « {value[:40]} » inconnue (attendu : {', '.join(allowed)})")
    return value


def codes(row: dict, name: str) -> list[str]:
    """A list of codes separated by '|'."""
    return [part.strip() for part in _raw(row, name).split("|") if part.strip()]

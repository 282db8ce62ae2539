"""Reading the business systems' files (CSV or JSON lines) and parsing their fields, line by line.

A line that cannot be read is refused alone with its number, never the whole file: a field over the csv
module's limit, a quote opened and never closed (the lines after it are read on their own, not swallowed),
a JSON line nested too deep or with a number too long, a NUL character, a JSON list or object where a single
value is expected.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from crm.core.inputs import MAX_JSON_DEPTH, json_depth

_TRUE = {"1", "true", "oui", "o", "yes", "y", "vrai"}
_FALSE = {"0", "false", "non", "n", "no", "faux", ""}
_CENT, _AMOUNT_LIMIT = Decimal("0.01"), Decimal("1e12")


class RowError(ValueError):
    """A line is refused; the message (in French) goes to the rejection report."""


class FileError(ValueError):
    """A whole file cannot be read (bad header, bad encoding)."""


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


def read_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, row) from a .csv (`;` or `,` separated, UTF-8) or .jsonl file.

    A line that cannot be read comes as {"__error__": reason}; the number is the line where its record starts.
    """
    if path.suffix == ".jsonl":
        yield from _read_jsonl(path)
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = handle.readline()
        delimiter = ";" if header.count(";") >= header.count(",") else ","
        try:
            fields = [f.strip() for f in next(csv.reader([header], delimiter=delimiter, strict=True), [])]
        except csv.Error as error:
            raise FileError(f"en-tête illisible ({_csv_reason(error, delimiter)})") from None
        missing = [c for c in required if c not in fields]
        if missing:
            raise FileError("colonnes obligatoires absentes de l'en-tête : " + ", ".join(missing))
        yield from _csv_records(handle, fields, delimiter)


class _Lines:
    """The physical lines of a CSV file after its header, numbered, for a csv reader.

    `taken` holds the lines of the record being read; `rewind()` makes the reader start again on the second
    of them, so that a refused record (an unclosed quote) does not carry the lines after it away.
    """

    def __init__(self, handle: TextIO, first: int) -> None:
        self._handle = handle
        self._next = first
        self._back: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            number, line = self._back.pop()
        else:
            line = next(self._handle)
            number, self._next = self._next, self._next + 1
        self.taken.append((number, line))
        return line

    def rewind(self) -> None:
        self._back.extend(reversed(self.taken[1:]))


def _unclosed(first: int, last: int) -> str:
    return (f"guillemet non refermé : l'enregistrement commencé ligne {first} se poursuit jusqu'à la ligne {last} ; "
            "ligne refusée, les lignes suivantes sont lues séparément")


def _csv_reason(error: csv.Error, delimiter: str, first: int = 1, last: int = 1) -> str:
    message = str(error)
    if message.startswith("field larger than field limit"):
        return (f"un champ dépasse {_thousands(csv.field_size_limit())} caractères, la limite du format CSV"
                + (f" ({_unclosed(first, last)})" if last > first else ""))
    if last > first or message == "unexpected end of data":
        return _unclosed(first, last)
    if "expected after" in message:
        return f"guillemet mal placé : après un guillemet fermant, « {delimiter} » ou une fin de ligne est attendu"
    return f"ligne CSV illisible ({message})"


def _csv_records(handle: TextIO, fields: list[str], delimiter: str) -> Iterator[tuple[int, dict]]:
    lines = _Lines(handle, first=2)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        lines.taken = []
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            first, last = lines.taken[0][0], lines.taken[-1][0]
            yield first, {"__error__": _csv_reason(error, delimiter, first, last)}
            lines.rewind()
            continue
        taken = lines.taken
        first = taken[0][0]
        if len(taken) == 1 and len(values) == len(fields):  # the common case: one physical line, every column
            if "".join(values).strip():
                yield first, dict(zip(fields, values, strict=True))
            continue
        last = taken[-1][0]
        if not "".join(values).strip():
            continue  # blank line
        if last > first and len(values) != len(fields):
            # A quoted field over several lines and a wrong number of columns: a quote left open that swallowed
            # the lines after it. Refuse this line alone and read the next ones again on their own.
            yield first, {"__error__": f"{_unclosed(first, last)} ({len(values)} colonnes au lieu de {len(fields)})"}
            lines.rewind()
            continue
        if len(values) > len(fields):
            yield first, {"__error__": "trop de colonnes sur la ligne"}
            continue
        yield first, dict(zip(fields, values + [None] * (len(fields) - len(values)), strict=True))


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if line.count("[") + line.count("{") > MAX_JSON_DEPTH and json_depth(line.encode()) > MAX_JSON_DEPTH:
                yield number, {"__error__": f"JSON imbriqué sur plus de {MAX_JSON_DEPTH} niveaux"}
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, {"__error__": f"JSON invalide ({error.msg}, colonne {error.colno})"}
                continue
            except (ValueError, RecursionError) as error:  # a number of over 4,300 digits; deep nesting missed
                yield number, {"__error__": f"JSON illisible ({_json_reason(error)})"}
                continue
            if not isinstance(row, dict):
                yield number, {"__error__": "un objet JSON est attendu sur chaque ligne"}
                continue
            yield number, row


def _json_reason(error: Exception) -> str:
    if "digits" in str(error):  # Python's limit on converting long integers (sys.set_int_max_str_digits)
        return "un nombre dépasse 4\u202f300 chiffres"
    return str(error)[:80]


def _raw(row: dict, name: str) -> str:
    value = row.get(name)
    if value.__class__ is str:  # every CSV field: the common case first
        if "\x00" in value:
            raise RowError(f"« {name} » : caractère nul (0x00) interdit")
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | dict):
        kind = "une liste" if isinstance(value, list) else "un objet"
        raise RowError(f"« {name} » : une valeur simple est attendue (texte, nombre ou booléen), reçu {kind} JSON")
    value = str(value)
    if "\x00" in value:
        raise RowError(f"« {name} » : caractère nul (0x00) interdit")
    return value.strip()


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
    if number < 0:
        raise RowError(f"« {name} » : montant négatif « {value[:40]} »")
    if not number.is_finite() or number >= _AMOUNT_LIMIT:
        raise RowError(f"« {name} » : montant hors limites")
    cents = number.quantize(_CENT)
    if number != cents:
        raise RowError(f"« {name} » : deux décimales au plus")
    return cents


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
